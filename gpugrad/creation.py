"""Tensor factories: ``tensor``, ``zeros``, ``randn``, ``from_numpy``, ...

All take ``dtype=`` and ``device=``; floating factories default to float32, as in PyTorch.
"""
import numbers

import numpy as np

from .backends.device import CPU, backend_for, backend_of_array, device as as_device
from .dtypes import as_dtype, check_device, get_default_dtype
from .random import generator_for
from .tensor import Tensor


def _place(array, device, requires_grad):
    """Put a NumPy array on ``device`` as a Tensor."""
    dev = CPU if device is None else as_device(device)
    if dev is not CPU:
        check_device(as_dtype(array.dtype), dev, "tensor")
    backend = backend_for(dev)
    data = array if dev is CPU else backend.from_host(array, dev)
    t = Tensor._wrap(data, backend, dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _make(device, requires_grad, fn, dtype=None, generator=None, op="factory"):
    """Run ``fn(xp, generator)`` on the device's backend (inside its device context).
    ``dtype`` (the result's) is checked against the device first; ``generator`` is a
    ``gg.Generator`` or None for the global one."""
    dev = CPU if device is None else as_device(device)
    if dtype is not None:
        check_device(dtype, dev, op)
    backend = backend_for(dev)
    with backend.device_context(dev):
        data = fn(backend.xp, generator_for(generator, dev, op, backend))
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
    (gpugrad.int64, gpugrad.float32)
    """
    dtype = as_dtype(dtype)
    if isinstance(data, Tensor):
        data = data._data
    if not isinstance(data, np.ndarray) and hasattr(data, "__cuda_array_interface__"):
        backend, home = backend_of_array(data)
        with backend.device_context(home):  # the copy stays on the array's own GPU
            t = Tensor(data.astype(dtype or data.dtype, copy=True))
        t = t if device is None else t.to(device)
        return t.requires_grad_(True) if requires_grad else t
    was_array = isinstance(data, (np.ndarray, np.generic))
    array = np.array(data, dtype=dtype)
    if dtype is None and not was_array:
        if array.dtype == np.float64:
            array = array.astype(get_default_dtype())
        elif array.dtype.kind in "iu":
            array = array.astype(np.int64)
    as_dtype(array.dtype)  # rejects object, complex, string data with a TypeError
    return _place(array, device, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing memory where it can: a Tensor already of ``dtype`` and
    on ``device`` comes back as itself (a conversion stays in the graph), and a NumPy array
    going to the CPU unchanged is wrapped without a copy; anything else is copied as by
    ``gg.tensor``.

    >>> a = np.array([1.0, 2.0])
    >>> t = gg.as_tensor(a)
    >>> a[0] = 5.0
    >>> t
    tensor([5., 2.], dtype=gpugrad.float64)
    >>> gg.as_tensor([1, 2], dtype=gg.float32)
    tensor([1., 2.])
    """
    dtype = as_dtype(dtype)
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray) and (device is None or as_device(device) is CPU):
        if dtype is None or dtype == data.dtype:
            as_dtype(data.dtype)  # rejects object, complex, string arrays
            return Tensor(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """A CPU tensor sharing memory with ``array`` (no copy).

    >>> a = np.array([1.0, 2.0])
    >>> t = gg.from_numpy(a)
    >>> a[0] = 5.0
    >>> t  # shares the memory
    tensor([5., 2.], dtype=gpugrad.float64)
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    as_dtype(array.dtype)
    return Tensor(array)


def from_dlpack(obj):
    """A tensor sharing memory with any DLPack producer (CuPy, PyTorch, JAX, NumPy).

    >>> t = gg.from_dlpack(np.arange(3))
    >>> t
    tensor([0, 1, 2])
    """
    device_type, _ = obj.__dlpack_device__()
    if device_type == 1:  # kDLCPU
        return Tensor(np.from_dlpack(obj))
    import cupy
    return Tensor(cupy.from_dlpack(obj))


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros; the size as ints or one tuple, float32 unless ``dtype``.

    >>> gg.zeros(2, 3).shape
    (2, 3)
    >>> gg.zeros((2,), dtype=gg.int64)
    tensor([0, 0])
    """
    dt = as_dtype(dtype) or get_default_dtype()
    return _make(device, requires_grad, lambda xp, g: xp.zeros(_shape(size), dtype=dt), dt,
                 op="zeros")


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones; the size as ints or one tuple, float32 unless ``dtype``.

    >>> gg.ones(2, 2)
    tensor([[1., 1.],
            [1., 1.]])
    """
    dt = as_dtype(dtype) or get_default_dtype()
    return _make(device, requires_grad, lambda xp, g: xp.ones(_shape(size), dtype=dt), dt,
                 op="ones")


def empty(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of the given size whose values are whatever the memory held (fill it).

    >>> gg.empty(2, 3).shape
    (2, 3)
    """
    dt = as_dtype(dtype) or get_default_dtype()
    return _make(device, requires_grad, lambda xp, g: xp.empty(_shape(size), dtype=dt), dt,
                 op="empty")


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value``; the dtype follows the value (int64, bool or
    float32) as in PyTorch.

    >>> gg.full((2,), 7)
    tensor([7, 7])
    >>> gg.full((2,), 0.5)
    tensor([0.5, 0.5])
    """
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = np.bool_
        elif isinstance(fill_value, int):
            dtype = np.int64
        else:
            dtype = get_default_dtype()
    dt = as_dtype(dtype)
    return _make(device, requires_grad,
                 lambda xp, g: xp.full(_shape((size,)), fill_value, dtype=dt), dt, op="full")


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values in ``[start, end)``; int64 for integer arguments, float32 otherwise.

    >>> gg.arange(4)
    tensor([0, 1, 2, 3])
    >>> gg.arange(0, 1, 0.25)
    tensor([0.  , 0.25, 0.5 , 0.75])
    """
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = np.int64 if ints else get_default_dtype()
    dt = as_dtype(dtype)
    return _make(device, requires_grad, lambda xp, g: xp.arange(start, end, step, dtype=dt),
                 dt, op="arange")


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end``, both included.

    >>> gg.linspace(0, 1, 5)
    tensor([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    dt = as_dtype(dtype) or get_default_dtype()
    return _make(device, requires_grad,
                 lambda xp, g: xp.linspace(start, end, steps).astype(dt), dt, op="linspace")


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """The ``n`` x ``m`` (default square) identity matrix.

    >>> gg.eye(2)
    tensor([[1., 0.],
            [0., 1.]])
    >>> gg.eye(2, 3).shape
    (2, 3)
    """
    dt = as_dtype(dtype) or get_default_dtype()
    return _make(device, requires_grad, lambda xp, g: xp.eye(n, m, dtype=dt), dt, op="eye")


def _float_draw(draw, dt):
    # NumPy/CuPy generators draw float32/64 directly; float16 and bfloat16 go through float32.
    if dt.itemsize < 4:
        return draw(np.float32).astype(dt)
    return draw(dt)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) from ``generator`` (a ``gg.Generator``), or else the
    global generator that ``gg.manual_seed`` seeds.

    >>> _ = gg.manual_seed(0)
    >>> x = gg.rand(2, 3)
    >>> x.shape, bool(((x >= 0) & (x < 1)).all())
    ((2, 3), True)
    """
    dt = as_dtype(dtype) or get_default_dtype()
    shape = _shape(size)
    return _make(device, requires_grad,
                 lambda xp, g: _float_draw(lambda d: g.random(shape, dtype=d), dt),
                 dt, generator, "rand")


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples from ``generator`` (a ``gg.Generator``), or else the global
    generator that ``gg.manual_seed`` seeds.

    >>> _ = gg.manual_seed(0)
    >>> x = gg.randn(1000, dtype=gg.float64)
    >>> abs(x.mean().item()) < 0.1, abs(x.std().item() - 1) < 0.1
    (True, True)
    """
    dt = as_dtype(dtype) or get_default_dtype()
    shape = _shape(size)
    return _make(device, requires_grad,
                 lambda xp, g: _float_draw(lambda d: g.standard_normal(shape, dtype=d), dt),
                 dt, generator, "randn")


def randint(low, high=None, size=(), *, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers in ``[low, high)`` (or ``[0, low)``), int64 by default, from ``generator``
    (a ``gg.Generator``) or the global generator.

    As in PyTorch, two positional arguments may also be ``(high, size)``:
    ``gg.randint(10, (3,))`` draws 3 integers in [0, 10).

    >>> _ = gg.manual_seed(0)
    >>> x = gg.randint(0, 10, (3, 4))
    >>> x.shape, x.dtype, bool(((x >= 0) & (x < 10)).all())
    ((3, 4), gpugrad.int64, True)
    """
    if isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    dt = as_dtype(dtype) or as_dtype(np.int64)
    return _make(device, requires_grad,
                 lambda xp, g: g.integers(low, high, size=tuple(size)).astype(dt),
                 dt, generator, "randint")


def _like(fn, t, dtype, device, requires_grad, *args, **kwargs):
    return fn(*args, dtype=dtype or t.dtype, device=device or t.device,
              requires_grad=requires_grad, **kwargs)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    """Zeros of ``t``'s shape, dtype and device (unless given).

    >>> gg.zeros_like(gg.tensor([[1, 2]]))
    tensor([[0, 0]])
    """
    return _like(zeros, t, dtype, device, requires_grad, t.shape)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    """Ones of ``t``'s shape, dtype and device (unless given).

    >>> gg.ones_like(gg.tensor([1, 2]), dtype=gg.float64)
    tensor([1., 1.], dtype=gpugrad.float64)
    """
    return _like(ones, t, dtype, device, requires_grad, t.shape)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor of ``t``'s shape, dtype and device (unless given).

    >>> gg.empty_like(gg.zeros(2, 3)).shape
    (2, 3)
    """
    return _like(empty, t, dtype, device, requires_grad, t.shape)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    """``fill_value`` in ``t``'s shape, dtype and device (unless given).

    >>> gg.full_like(gg.zeros(2), 3)
    tensor([3., 3.])
    """
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def rand_like(t, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) of ``t``'s shape, dtype and device (unless given), from
    ``generator`` or the global generator.

    >>> gg.rand_like(gg.zeros(2, 3, dtype=gg.float64)).dtype
    gpugrad.float64
    """
    return _like(rand, t, dtype, device, requires_grad, t.shape, generator=generator)


def randn_like(t, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples of ``t``'s shape, dtype and device (unless given), from
    ``generator`` or the global generator.

    >>> gg.randn_like(gg.zeros(4)).shape
    (4,)
    """
    return _like(randn, t, dtype, device, requires_grad, t.shape, generator=generator)
