"""``gg.cuda``: is a GPU usable, how many, wait for them. Never raises when CuPy is absent.

Also the one switch between the generic CuPy path of the fused ops and their Numba-CUDA
kernels (``kernels/``): :func:`use_kernels`.
"""
import contextlib

import numpy as np

from .backends import checks as _checks
from .backends import device as _dev

# The dtypes the kernels are tested in; float16 takes the generic path.
_KERNEL_DTYPES = (np.float32, np.float64)


def is_available():
    """True when CuPy imports and sees at least one GPU.

    >>> isinstance(is_available(), bool)
    True
    """
    return device_count() > 0


def device_count():
    """The number of GPUs CuPy sees (0 without CuPy or a driver).

    >>> gg.cuda.device_count() >= 0
    True
    >>> gg.cuda.is_available() == (gg.cuda.device_count() > 0)
    True
    """
    try:
        _dev.simulate_from_environment()
        import cupy
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # ImportError, or CUDARuntimeError with no driver/device
        return 0


def simulate(n=2):
    """Simulate ``n`` CUDA devices ``cuda:0`` .. ``cuda:{n-1}`` on the CPU: the real CuPy
    code path of every op runs on arrays that behave like CuPy's (a separate array type,
    a current device per thread, streams, NCCL sums), so multi-GPU scripts and their
    device-placement bugs can be tried without a GPU. ``GPUGRAD_SIMULATE_CUDA=n`` does the
    same from the environment. Call it before the first GPU use.

    >>> gg.cuda.simulate(2)  # doctest: +SKIP
    >>> gg.ones(2, device="cuda:1") * 2  # doctest: +SKIP
    tensor([2., 2.], device='cuda:1')
    """
    _dev.simulate(n)


def is_simulated():
    """True when ``cuda`` devices are simulated (``simulate`` or ``GPUGRAD_SIMULATE_CUDA``).

    >>> gg.cuda.is_simulated() in (True, False)
    True
    """
    return bool(_dev._simulated)


def synchronize(device=None):
    """Block until all queued GPU work on ``device`` (default: the current one) is done.

    >>> gg.cuda.synchronize()  # returns at once without a GPU
    """
    if not is_available():
        return
    backend = _dev._load_cupy()
    backend.synchronize(None if device is None else _dev.device(device))


def set_checks(mode):
    """How GPU ops check index and target values, returning the previous mode:
    ``"deferred"`` (default: queued on the device, raised at the next synchronisation, no
    host sync per op), ``"sync"`` (raised at the op, with the value) or ``"off"``. See
    ``gpugrad.backends.checks``; ``GPUGRAD_CUDA_CHECKS`` sets the starting mode. The CPU
    always checks at once.

    >>> previous = gg.cuda.set_checks("sync")
    >>> gg.cuda.set_checks(previous)
    'sync'
    """
    return _checks.set_mode(mode)


@contextlib.contextmanager
def debug():
    """Within the block, GPU index and target checks raise at the op, naming the value
    (one host synchronisation per checked op), as ``CUDA_LAUNCH_BLOCKING=1`` helps
    PyTorch users find the op behind a device-side assert.

    >>> with gg.cuda.debug():
    ...     gg.ones(3)[gg.tensor([2])].tolist()
    [1.0]
    """
    previous = _checks.set_mode("sync")
    try:
        yield
    finally:
        _checks.set_mode(previous)


def kernels_available():
    """True when GPU ops run the fused Numba-CUDA kernels (numba-cuda works with the GPU).

    >>> kernels_available() in (True, False)
    True
    """
    if not is_available():
        return False
    _dev._load_cupy()  # decides, once, whether the kernels can run
    return _dev._kernels_ready


def use_kernels(xp, *arrays):
    """Should an op on ``arrays`` (of array module ``xp``) call a kernel launcher?

    Only for CuPy arrays, once the CUDA backend found numba-cuda usable, and only non-empty
    float32/float64 arrays; NumPy always takes the generic path, which is the reference.

    >>> use_kernels(np, np.ones(3))
    False
    """
    if not _kernels_on(xp):
        return False
    return all(a.size > 0 and a.dtype in _KERNEL_DTYPES for a in arrays)


def _kernels_on(xp):
    # Tests patch this to run the kernel branches on NumPy arrays under the CUDA simulator.
    return xp is not np and _dev._kernels_ready


def memory_stats():
    """Byte counts of the memory pool CuPy and Numba kernels share (empty without a GPU).

    Keys: used_bytes, total_bytes, n_free_blocks (of CuPy's default pool).

    >>> stats = memory_stats()
    >>> stats == {} or "used_bytes" in stats
    True
    """
    if not is_available():
        return {}
    _dev._load_cupy()  # starting the backend routes Numba's allocations into CuPy's pool
    from .kernels import _emm
    return _emm.memory_stats()


def manual_seed(seed):
    """Seed the GPU generators (``torch.cuda.manual_seed``). gpugrad derives every GPU's
    generator from one seed, so this seeds them all, like ``manual_seed_all``; without a
    GPU it does nothing. ``gg.manual_seed`` seeds the CPU and the GPUs together.

    >>> gg.cuda.manual_seed(0)  # a no-op without a GPU
    """
    manual_seed_all(seed)


def manual_seed_all(seed):
    """Seed the generators of every GPU (``torch.cuda.manual_seed_all``); a no-op without one.

    >>> gg.cuda.manual_seed_all(0)
    """
    seed = int(seed)
    if is_available():
        _dev._load_cupy().seed(seed)


def current_device():
    """The index of the current GPU (the one ``"cuda"`` means); RuntimeError without a GPU.

    >>> gg.cuda.current_device() if gg.cuda.is_available() else 0
    0
    """
    if not is_available():
        raise RuntimeError("current_device: no CUDA GPU is available")
    return int(_dev._load_cupy().xp.cuda.runtime.getDevice())


def set_device(device):
    """Make ``device`` (an index, ``"cuda:N"`` or a ``gg.device``) the current GPU, the one
    ``"cuda"`` means from now on in this thread. A negative index does nothing, as in
    PyTorch; RuntimeError without a GPU.

    >>> if gg.cuda.is_available():
    ...     gg.cuda.set_device(0)
    """
    if isinstance(device, int) and device < 0:
        return
    if not is_available():
        raise RuntimeError("set_device: no CUDA GPU is available")
    index = device if isinstance(device, int) else _dev.device(device).index
    backend = _dev._load_cupy()
    count = device_count()
    if index is None or not 0 <= index < count:
        raise RuntimeError(f"set_device: invalid device {device!r} ({count} GPU(s) present)")
    backend.xp.cuda.Device(index).use()


from .amp.devices import cuda as amp  # noqa: E402,F401  (gg.cuda.amp, as torch.cuda.amp)
