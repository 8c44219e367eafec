"""Numba External Memory Manager (EMM) plugin that allocates from CuPy's memory pool.

With it installed, arrays Numba allocates (``cuda.device_array``, launch-time transfers)
share one pool with CuPy instead of two allocators competing for the device. It must be
installed before Numba creates its first CUDA context; see Numba-CUDA's "External Memory
Management (EMM) Plugin interface". Device memory only: pinned host memory stays with
Numba (HostOnlyCUDAMemoryManager). Neither CuPy nor numba.cuda is imported until used.
"""
import functools


@functools.cache
def plugin_class():
    """The plugin class, built on first use (it subclasses numba.cuda's EMM base classes)."""
    import cupy
    from numba import cuda

    class CuPyMemoryManager(cuda.GetIpcHandleMixin, cuda.HostOnlyCUDAMemoryManager):
        """Device allocations from ``cupy.get_default_memory_pool()``.

        defer_cleanup defers only Numba's host-side cleanup: a released device block
        returns to CuPy's pool at once (cheap, and the pool never frees it by itself).
        """

        def initialize(self):
            # CuPy's pool sets itself up lazily on its first allocation.
            pass

        def memalloc(self, size):
            allocation = cupy.get_default_memory_pool().malloc(size)
            # self.allocations (from HostOnlyCUDAMemoryManager) keeps the CuPy block
            # alive; the finalizer drops it, returning the block to CuPy's pool.
            self.allocations[allocation.ptr] = allocation
            finalizer = _releaser(self.allocations, allocation.ptr)
            return cuda.MemoryPointer(self.context, _device_pointer(allocation.ptr), size,
                                      finalizer=finalizer)

        def get_memory_info(self):
            free, total = cupy.cuda.runtime.memGetInfo()
            return cuda.MemoryInfo(free=free, total=total)

        def reset(self):
            super().reset()  # drops host and device allocations alike
            cupy.get_default_memory_pool().free_all_blocks()

        @property
        def interface_version(self):
            return 1

    return CuPyMemoryManager


def _device_pointer(address):
    """``address`` in the pointer type Numba's driver binding works with.

    With the NVIDIA cuda-python binding (the default, and the only one in current numba-cuda)
    that is ``CUdeviceptr``, as RMM's EMM plugin builds it: numba-cuda before
    NVIDIA/numba-cuda#328 kept a ``ctypes.c_void_p`` as given and then failed on
    ``int(pointer)``. With the old ctypes binding it is Numba's ``cu_device_ptr``.
    """
    from numba.cuda.cudadrv import driver
    if getattr(driver, "USE_NV_BINDING", True):
        return driver.binding.CUdeviceptr(address)
    from numba.cuda.cudadrv import drvapi
    return drvapi.cu_device_ptr(address)


def _releaser(allocations, ptr):
    def release():
        # After a context reset the dict is already empty; there is nothing to release.
        if allocations:
            allocations.pop(ptr, None)
    return release


@functools.cache
def install():
    """Make Numba allocate device memory from CuPy's pool; idempotent, call it early.

    Must run before Numba creates a CUDA context (before the first kernel launch).
    """
    from numba import cuda
    cuda.set_memory_manager(plugin_class())


def memory_stats():
    """Usage of CuPy's default device pool: used_bytes, total_bytes, n_free_blocks.

    >>> sorted(memory_stats())  # doctest: +SKIP
    ['n_free_blocks', 'total_bytes', 'used_bytes']
    """
    import cupy
    pool = cupy.get_default_memory_pool()
    return {"used_bytes": pool.used_bytes(), "total_bytes": pool.total_bytes(),
            "n_free_blocks": pool.n_free_blocks()}
