"""The simulated ``cupy.ndarray``: a NumPy array plus the device it lives on.

Strict where real CuPy is strict (checked against CuPy's documentation):

* not a ``numpy.ndarray`` subclass, and ``__array__`` raises ``TypeError``, so
  ``np.asarray(x)`` fails as it does on a GPU array; copies to the host are explicit
  (``get()``, ``cupy.asnumpy``);
* NumPy ufuncs and functions dispatch here (``__array_ufunc__``/``__array_function__``,
  both supported by CuPy) only for names this module has, and a NumPy array operand raises
  ``TypeError`` ("Unsupported type") as CuPy's kernels do;
* reductions and integer indexing return 0-d arrays, never NumPy scalars;
* every kernel-like operation runs on the *current* device: an operand living on another
  device raises ``ValueError`` (CuPy's check when peer access is unavailable). Views
  (reshape, basic slicing, transpose) launch nothing and keep their base's device;
* the dtypes CuPy lacks (object, strings, datetimes, bfloat16) raise.
"""
import threading

import numpy as np

from . import _graph, _order

_state = threading.local()
_count = [0]  # number of simulated devices, set by install()

# Live bytes per device, for the memory pool queries (views own nothing).
_used = {}
_high = {}


def current_device():
    """The calling thread's current device id (0 until a ``Device`` context changes it)."""
    return getattr(_state, "device", 0)


def set_current_device(index):
    _state.device = index


def check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "OSUVMm" or dtype.name == "bfloat16":
        raise ValueError(f"Unsupported dtype {dtype}")
    return dtype


def _peer_error(where, current):
    return ValueError(f"The device where the array resides ({where}) is different from the "
                      f"current device ({current}). Peer access is unavailable.")


class ndarray:
    """A simulated GPU array (``cupy.ndarray(shape, dtype)`` makes an uninitialised one)."""

    __slots__ = ("_a", "_dev", "_owns", "__weakref__")
    # NumPy's binary operators defer to us, then our __array_ufunc__ decides.
    __array_priority__ = 100

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        dtype = check_dtype(dtype)
        self._a = np.empty(shape, dtype, order=order)
        self._dev = current_device()
        self._owns = True
        _account(self._dev, self._a.nbytes)
        _order.launch(writes=(self,))

    @classmethod
    def _new(cls, array, dev, owns=True):
        check_dtype(array.dtype)
        self = object.__new__(cls)
        self._a = array
        self._dev = dev
        self._owns = owns
        if owns:
            _account(dev, array.nbytes)
            _order.launch(writes=(self,))  # written by the kernel that made it
        return self

    def __del__(self):
        # At interpreter exit the module's globals may already be gone (None).
        if getattr(self, "_owns", False) and _account is not None:
            _account(self._dev, -self._a.nbytes)

    # -- strictness -----------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from . import _dispatch
        wrapped = _dispatch.ufunc(ufunc)
        fn = wrapped if method == "__call__" else getattr(wrapped, method, None)
        if fn is None:
            return NotImplemented
        return fn(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from . import _dispatch
        fn = _dispatch.numpy_function(func)
        if fn is None:
            return NotImplemented
        return fn(*args, **kwargs)

    # -- attributes -----------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)

    @property
    def device(self):
        from .cuda import Device
        return Device(self._dev)

    @property
    def data(self):
        from .cuda import MemoryPointer
        return MemoryPointer._for(self)

    def kernel_view(self):
        """The NumPy memory for a kernel launched (in Numba's simulator) on the current
        device: an array of another device is CuPy's peer-access error, as a real launch
        would fault reading it."""
        if self._dev != current_device():
            raise _peer_error(self._dev, current_device())
        _order.launch(reads=(self,))
        _graph.unsupported("a Numba CUDA kernel")
        return self._a

    def __dlpack__(self, stream=None, **kwargs):
        # The capsule of the NumPy memory underneath: only this package's from_dlpack reads
        # it, and it trusts __dlpack_device__ for the device (CUDA, this array's).
        return self._a.__dlpack__()

    def __dlpack_device__(self):
        return (2, self._dev)  # (kDLCUDA, device id), as CuPy reports

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str, "version": 3,
                "data": (self._a.__array_interface__["data"][0], False),
                "strides": None if self._a.flags.c_contiguous else self.strides}

    @property
    def T(self):
        return self._view(self._a.T)

    @property
    def real(self):
        return self._view(self._a.real)

    @property
    def imag(self):
        return self._view(self._a.imag)

    @property
    def base(self):
        return None

    def _view(self, array):
        return ndarray._new(array, self._dev, owns=False)

    # -- host transfers (explicit, from any current device) --------------------------------
    def get(self, stream=None, order="C", out=None, blocking=True):
        """Copy to a NumPy array (the host waits for the current stream)."""
        _order.host_read(self)
        if out is not None:
            np.copyto(out, self._a)
            return out
        return np.array(self._a, order=order)

    def set(self, arr, stream=None):
        """Copy a NumPy array of the same shape into this array."""
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self.shape:
            raise ValueError("Shape mismatch")
        _graph.unsupported("ndarray.set (a copy from host memory)")
        np.copyto(self._a, arr)
        _order.launch(writes=(self,))

    def item(self, *args):
        _order.host_read(self)
        return self._a.item(*args)

    def tolist(self):
        _order.host_read(self)
        return self._a.tolist()

    def __bool__(self):
        _order.host_read(self)
        return bool(self._a)

    def __float__(self):
        _order.host_read(self)
        return float(self._a)

    def __int__(self):
        _order.host_read(self)
        return int(self._a)

    def __complex__(self):
        _order.host_read(self)
        return complex(self._a)

    def __index__(self):
        _order.host_read(self)
        return self._a.__index__()

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a if self.ndim else self._a.item(), spec)

    def __reduce__(self):
        # Pickling copies to the host and back onto the current device (as CuPy does).
        from . import array
        return array, (self.get(),)

    def __copy__(self):
        return self.__deepcopy__(None)

    def __deepcopy__(self, memo):
        # CuPy copies on the array's own device (``with self.device``), not the current one.
        from .cuda import Device
        with Device(self._dev):
            return self.copy()

    def __hash__(self):
        raise TypeError("unhashable type: 'cupy.ndarray'")

    # -- copies and views -----------------------------------------------------------------
    def copy(self, order="C"):
        """A copy on the *current* device (CuPy copies across devices here, peer to peer)."""
        _order.launch(reads=(self,))
        out = np.array(self._a, order=order)
        _graph.note(lambda: self._a, out)
        return ndarray._new(out, current_device())

    def view(self, dtype=None):
        return self._view(self._a.view() if dtype is None else self._a.view(dtype))

    def reshape(self, *shape, order="C"):
        out = self._a.reshape(*shape, order=order)
        if np.shares_memory(out, self._a):
            return self._view(out)
        self._check()
        _order.launch(reads=(self,))
        _graph.note(lambda: self._a.reshape(*shape, order=order), out)
        return ndarray._new(out, self._dev)

    def ravel(self, order="C"):
        return self.reshape(-1, order=order)

    def transpose(self, *axes):
        return self._view(self._a.transpose(*axes))

    def swapaxes(self, a, b):
        return self._view(self._a.swapaxes(a, b))

    def squeeze(self, axis=None):
        return self._view(self._a.squeeze(axis))

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return self._view(self._a.diagonal(offset, axis1, axis2))

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        dtype = check_dtype(dtype)
        if not copy and dtype == self.dtype:
            return self
        self._check()
        _order.launch(reads=(self,))
        out = self._a.astype(dtype, order=order)
        _graph.note(lambda: self._a, out)
        return ndarray._new(out, current_device())

    def fill(self, value):
        self._check()
        _graph.before_write(self._a)
        self._a.fill(value)
        _order.launch(writes=(self,))
        _graph.note(lambda: self._a.fill(value))

    def _check(self):
        current = current_device()
        if self._dev != current:
            raise _peer_error(self._dev, current)

    # -- indexing -------------------------------------------------------------------------
    def __getitem__(self, key):
        from . import _dispatch
        if _dispatch.basic_index(key):
            out = self._a[key]
            if isinstance(out, np.generic):
                out = self._a[key + (Ellipsis,) if isinstance(key, tuple) else (key, Ellipsis)]
            return self._view(out)
        self._check()
        _order.launch(reads=(self,) + _dispatch.arrays_in(key))
        raw = _dispatch.unwrap_index(key)
        out = np.asarray(self._a[_dispatch.wrap_out_of_bounds(raw, self.shape)])
        # A graph reads the index arrays when launched: wrap them around then.
        _graph.note(lambda: self._a[_dispatch.wrap_out_of_bounds(raw, self.shape)], out)
        return ndarray._new(out, self._dev)

    def __setitem__(self, key, value):
        from . import _dispatch
        self._check()
        _order.launch(reads=_dispatch.arrays_in((key, value)), writes=(self,))
        if type(value) is ndarray:
            value._check()
            value = value._a
        raw = _dispatch.unwrap_index(key)
        _graph.before_write(self._a)
        self._a[_dispatch.wrap_out_of_bounds(raw, self.shape)] = value
        _graph.note(lambda: self._a.__setitem__(
            _dispatch.wrap_out_of_bounds(raw, self.shape), value))


def _account(dev, nbytes):
    used = _used[dev] = _used.get(dev, 0) + nbytes
    if used > _high.get(dev, 0):
        _high[dev] = used


def _method(name):
    def method(self, *args, **kwargs):
        from . import _dispatch
        return _dispatch.call(getattr(np.ndarray, name), (self,) + args, kwargs)
    method.__name__ = name
    return method


for _name in ("sum", "mean", "max", "min", "argmax", "argmin", "prod", "cumsum", "cumprod",
              "std", "var", "any", "all", "clip", "round", "dot", "nonzero", "argsort", "sort",
              "take", "repeat", "flatten", "conj", "trace", "ptp", "partition",
              "argpartition", "searchsorted"):
    setattr(ndarray, _name, _method(_name))


def _binary(name, reflected=False):
    op = getattr(np, name)

    def method(self, other):
        from . import _dispatch
        if isinstance(other, np.ndarray) and not isinstance(other, np.generic):
            raise TypeError(f"Unsupported type {type(other)}")
        if not isinstance(other, (ndarray, int, float, complex, bool, np.generic)):
            return NotImplemented
        args = (other, self) if reflected else (self, other)
        return _dispatch.ufunc(op)(*args)
    return method


def _inplace(name):
    op = getattr(np, name)

    def method(self, other):
        from . import _dispatch
        _dispatch.ufunc(op)(self, other, out=self)
        return self
    return method


for _dunder, _ufunc in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"),
                        ("truediv", "true_divide"), ("floordiv", "floor_divide"),
                        ("mod", "remainder"), ("pow", "power"), ("matmul", "matmul"),
                        ("and", "bitwise_and"), ("or", "bitwise_or"), ("xor", "bitwise_xor"),
                        ("lshift", "left_shift"), ("rshift", "right_shift")):
    setattr(ndarray, f"__{_dunder}__", _binary(_ufunc))
    setattr(ndarray, f"__r{_dunder}__", _binary(_ufunc, reflected=True))
    setattr(ndarray, f"__i{_dunder}__", _inplace(_ufunc))
for _dunder, _ufunc in (("eq", "equal"), ("ne", "not_equal"), ("lt", "less"),
                        ("le", "less_equal"), ("gt", "greater"), ("ge", "greater_equal")):
    setattr(ndarray, f"__{_dunder}__", _binary(_ufunc))


def _unary(name):
    op = getattr(np, name)

    def method(self):
        from . import _dispatch
        return _dispatch.ufunc(op)(self)
    return method


for _dunder, _ufunc in (("neg", "negative"), ("pos", "positive"), ("abs", "absolute"),
                        ("invert", "invert")):
    setattr(ndarray, f"__{_dunder}__", _unary(_ufunc))
ndarray.__divmod__ = lambda self, other: (self // other, self % other)
ndarray.__module__ = "cupy"
