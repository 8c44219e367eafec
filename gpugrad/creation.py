"""Tensor factories: ``tensor``, ``zeros``, ``randn``, ``from_numpy``, ...

All take ``dtype=`` and ``device=``; floating factories default to float32, as in PyTorch.
"""
import numbers

import numpy as np

from .backends.device import CPU, backend_for, device as as_device
from .dtypes import as_dtype, default_float
from .tensor import Tensor


def _place(array, device, requires_grad):
    """Put a NumPy array on ``device`` as a Tensor."""
    dev = CPU if device is None else as_device(device)
    backend = backend_for(dev)
    data = array if dev is CPU else backend.from_host(array, dev)
    t = Tensor._wrap(data, backend, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _make(device, requires_grad, fn):
    """Run ``fn(xp)`` on the device's backend (inside its device context)."""
    dev = CPU if device is None else as_device(device)
    backend = backend_for(dev)
    with backend.device_context(dev):
        data = fn(backend.xp, backend.generator(dev))
    t = Tensor._wrap(data, backend, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor from nested lists, scalars, NumPy/CuPy arrays or another tensor (copied).

    Python floats become float32 and ints int64; arrays keep their dtype.

    >>> import gpugrad as gg
    >>> gg.tensor([1, 2]).dtype, gg.tensor([1.5]).dtype
    (dtype('int64'), dtype('float32'))
    """
    dtype = as_dtype(dtype)
    if isinstance(data, Tensor):
        data = data.data
    if not isinstance(data, np.ndarray) and hasattr(data, "__cuda_array_interface__"):
        t = Tensor(data.astype(dtype or data.dtype, copy=True))
        t = t if device is None else t.to(device)
        return t.requires_grad_(True) if requires_grad else t
    was_array = isinstance(data, (np.ndarray, np.generic))
    array = np.array(data, dtype=dtype)
    if dtype is None and not was_array:
        if array.dtype == np.float64:
            array = array.astype(default_float)
        elif array.dtype.kind in "iu":
            array = array.astype(np.int64)
    as_dtype(array.dtype)  # rejects object, complex, string data with a TypeError
    return _place(array, device, requires_grad)


def from_numpy(array):
    """A CPU tensor sharing memory with ``array`` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    as_dtype(array.dtype)
    return Tensor(array)


def from_dlpack(obj):
    """A tensor sharing memory with any DLPack producer (CuPy, PyTorch, JAX, NumPy)."""
    device_type, _ = obj.__dlpack_device__()
    if device_type == 1:  # kDLCPU
        return Tensor(np.from_dlpack(obj))
    import cupy
    return Tensor(cupy.from_dlpack(obj))


def zeros(*size, dtype=None, device=None, requires_grad=False):
    dt = as_dtype(dtype) or default_float
    return _make(device, requires_grad, lambda xp, g: xp.zeros(_shape(size), dtype=dt))


def ones(*size, dtype=None, device=None, requires_grad=False):
    dt = as_dtype(dtype) or default_float
    return _make(device, requires_grad, lambda xp, g: xp.ones(_shape(size), dtype=dt))


def empty(*size, dtype=None, device=None, requires_grad=False):
    dt = as_dtype(dtype) or default_float
    return _make(device, requires_grad, lambda xp, g: xp.empty(_shape(size), dtype=dt))


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = np.int64 if isinstance(fill_value, int) and not isinstance(
            fill_value, bool) else (np.bool_ if isinstance(fill_value, bool) else default_float)
    dt = as_dtype(dtype)
    return _make(device, requires_grad,
                 lambda xp, g: xp.full(_shape((size,)), fill_value, dtype=dt))


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values in ``[start, end)``; int64 for integer arguments, float32 otherwise."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = np.int64 if ints else default_float
    dt = as_dtype(dtype)
    return _make(device, requires_grad, lambda xp, g: xp.arange(start, end, step, dtype=dt))


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    dt = as_dtype(dtype) or default_float
    return _make(device, requires_grad,
                 lambda xp, g: xp.linspace(start, end, steps).astype(dt))


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    dt = as_dtype(dtype) or default_float
    return _make(device, requires_grad, lambda xp, g: xp.eye(n, m, dtype=dt))


def _float_draw(draw, dt):
    # NumPy/CuPy generators draw float32/64 directly; float16 goes through float32.
    if dt == np.float16:
        return draw(np.float32).astype(np.float16)
    return draw(dt)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) from the generator ``gg.manual_seed`` seeds."""
    dt = as_dtype(dtype) or default_float
    shape = _shape(size)
    return _make(device, requires_grad,
                 lambda xp, g: _float_draw(lambda d: g.random(shape, dtype=d), dt))


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Standard normal samples from the generator ``gg.manual_seed`` seeds."""
    dt = as_dtype(dtype) or default_float
    shape = _shape(size)
    return _make(device, requires_grad,
                 lambda xp, g: _float_draw(lambda d: g.standard_normal(shape, dtype=d), dt))


def randint(low, high=None, size=(), dtype=None, device=None):
    """Integers in ``[low, high)`` (or ``[0, low)``), int64 by default.

    As in PyTorch, two positional arguments may also be ``(high, size)``:
    ``gg.randint(10, (3,))`` draws 3 integers in [0, 10).
    """
    if isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    dt = as_dtype(dtype) or np.dtype(np.int64)
    return _make(device, False,
                 lambda xp, g: g.integers(low, high, size=tuple(size)).astype(dt))


def _like(fn, t, dtype, device, requires_grad, *args):
    return fn(*args, dtype=dtype or t.dtype, device=device or t.device,
              requires_grad=requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return _like(zeros, t, dtype, device, requires_grad, t.shape)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return _like(ones, t, dtype, device, requires_grad, t.shape)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    return _like(empty, t, dtype, device, requires_grad, t.shape)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    return _like(rand, t, dtype, device, requires_grad, t.shape)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    return _like(randn, t, dtype, device, requires_grad, t.shape)
