"""Launch plumbing shared by every kernel family: array module, allocation, grid, stream.

Nothing here imports ``numba.cuda`` at import time: :func:`cuda` does so on first use, so
``import gpugrad`` stays cheap and works on machines without a GPU or Numba-CUDA.
"""
import functools
import sys

import numpy as np

# 256 threads keep enough warps in flight for memory-bound elementwise kernels on every
# architecture Numba-CUDA supports, while leaving registers to spare.
ELEMENTWISE_THREADS = 256
# Row kernels use one block per row; the block never grows past this (shared arrays are
# sized by it, so it must stay a power of two).
ROW_MAX_THREADS = 256


def is_cupy(array):
    """True for CuPy arrays, found without importing CuPy (an array of the ``cupy`` that is
    imported: the simulated one of ``gpugrad.cuda_sim`` where devices are simulated).

    >>> is_cupy(np.zeros(3))
    False
    """
    cupy = sys.modules.get("cupy")
    return cupy is not None and isinstance(array, cupy.ndarray)


def array_module(array):
    """The module (numpy or cupy) that owns ``array``.

    >>> array_module(np.zeros(3)) is np
    True
    """
    return sys.modules["cupy"] if is_cupy(array) else np


@functools.cache
def cuda():
    """``numba.cuda``, imported on first launch (the simulator if NUMBA_ENABLE_CUDASIM=1)."""
    from numba import cuda as numba_cuda
    return numba_cuda


def kernel_factory(build):
    """Decorator: ``build(acc)`` defines a family's kernels; define them on first use, once.

    The getter takes an input dtype and builds once per accumulator type ``acc`` (the
    NumPy scalar type reductions sum in), so float16 and float32 share kernels. Before
    building, the module global ``cuda`` of ``build``'s module is bound to ``numba.cuda``:
    kernels must name it as a global, not a closure variable, because the CUDA simulator
    swaps in its fake module by rewriting the kernel's globals. Numba then compiles each
    kernel per argument signature on launch.
    """
    @functools.cache
    def build_for(acc):
        build.__globals__["cuda"] = cuda()
        return build(acc)

    def get(dtype):
        return build_for(accumulator(dtype))
    get.__doc__ = build.__doc__
    return get


def accumulator(dtype):
    """Scalar type to accumulate ``dtype`` values in: half precision sums in float32.

    >>> accumulator(np.float16)
    <class 'numpy.float32'>
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or dtype.itemsize < 4:
        return np.float32
    return dtype.type


def empty(like, shape, dtype=None):
    """Uninitialised array from ``like``'s array module (cupy on GPU, numpy otherwise)."""
    xp = array_module(like)
    return xp.empty(shape, dtype=like.dtype if dtype is None else dtype)


def zeros(like, shape, dtype=None):
    """Zero-filled array from ``like``'s array module."""
    xp = array_module(like)
    return xp.zeros(shape, dtype=like.dtype if dtype is None else dtype)


def contiguous(array):
    """``array`` itself when C-contiguous, else a C-contiguous copy (kernels index flat)."""
    return array_module(array).ascontiguousarray(array)


def flat_view(array):
    """1-D view of a C-contiguous array, for kernels that write into it in place.

    >>> flat_view(np.zeros((2, 3))).shape
    (6,)
    """
    if not array.flags.c_contiguous:
        raise ValueError("in-place kernels need C-contiguous arrays")
    return array.reshape(-1)


def check_2d(x):
    """``x`` as a C-contiguous 2-D array, or ValueError (row kernels index [row, col])."""
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {x.shape}")
    return contiguous(x)


def blocks_for(n, threads=ELEMENTWISE_THREADS):
    """Blocks of ``threads`` needed to cover ``n`` elements (0 for empty work).

    >>> blocks_for(257)
    2
    """
    return (n + threads - 1) // threads


def row_threads(n_cols):
    """Threads per row block: at least a warp, about four columns per thread, capped.

    Small rows waste no threads on the reduction; long rows get the full block.

    >>> row_threads(1), row_threads(257), row_threads(30000)
    (32, 128, 256)
    """
    threads = 32
    while threads < ROW_MAX_THREADS and 4 * threads < n_cols:
        threads *= 2
    return threads


def launch(kernel, blocks, threads, *args):
    """Launch ``kernel[blocks, threads]`` on the stream that owns the array arguments.

    CuPy arrays run on CuPy's current stream, so a kernel is ordered after the CuPy ops
    that produced its inputs without any host synchronisation. NumPy arrays (simulator,
    tests) use the default stream. An empty grid launches nothing.
    """
    grid = blocks if isinstance(blocks, tuple) else (blocks,)
    if 0 in grid:
        return
    stream = 0
    if any(is_cupy(a) for a in args):
        if getattr(sys.modules["cupy"], "SIMULATED", False):
            # Simulated devices: Numba's simulator runs the kernel on the NumPy memory
            # underneath (after the same device check a real launch implies).
            args = tuple(a.kernel_view() if is_cupy(a) else a for a in args)
        else:
            stream = current_stream()
            args = tuple(_device_view(a) for a in args)
    kernel[blocks, threads, stream](*args)


def current_stream():
    """Numba wrapper of CuPy's current stream (Numba does not own or destroy it)."""
    import cupy
    return cuda().external_stream(cupy.cuda.get_current_stream().ptr)


def _device_view(arg):
    # The CUDA array interface makes Numba synchronise the exporter's stream by default;
    # the launch is already queued on that same stream, so the host wait is pure loss.
    if is_cupy(arg):
        return cuda().as_cuda_array(arg, sync=False)
    return arg
