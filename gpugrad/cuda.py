"""``gg.cuda``: is a GPU usable, how many, wait for them. Never raises when CuPy is absent."""
from .backends import device as _dev


def is_available():
    """True when CuPy imports and sees at least one GPU.

    >>> isinstance(is_available(), bool)
    True
    """
    return device_count() > 0


def device_count():
    """The number of GPUs CuPy sees (0 without CuPy or a driver)."""
    try:
        import cupy
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # ImportError, or CUDARuntimeError with no driver/device
        return 0


def synchronize(device=None):
    """Block until all queued GPU work on ``device`` (default: the current one) is done."""
    if not is_available():
        return
    backend = _dev._load_cupy()
    backend.synchronize(None if device is None else _dev.device(device))


def memory_stats():
    """Byte counts of the memory pool CuPy and Numba kernels share (empty without a GPU)."""
    if not is_available():
        return {}
    from .kernels import _emm
    return _emm.memory_stats()
