"""Running NumPy's implementation on simulated arrays, with CuPy's device and type rules."""
import functools

import numpy as np

from . import _graph, _order
from ._array import _peer_error, current_device, ndarray

# Functions that launch no kernel: they return views, or look only at metadata, so CuPy
# runs them whatever the current device is and the result stays on the input's device.
VIEWS = frozenset({
    "reshape", "transpose", "squeeze", "expand_dims", "broadcast_to", "swapaxes", "moveaxis",
    "atleast_1d", "atleast_2d", "atleast_3d", "shape", "ndim", "size", "split",
    "array_split", "broadcast_arrays", "rollaxis", "diagonal", "result_type", "can_cast",
    "iinfo", "finfo", "dtype", "isscalar", "min_scalar_type", "promote_types"})
# Allocate on the current device from another array's metadata (a memset, no peer read).
LIKE = frozenset({"empty_like", "zeros_like", "ones_like", "full_like"})
# NumPy names CuPy does not provide.
MISSING = frozenset({"errstate", "seterr", "geterr", "frompyfunc", "set_printoptions",
                     "get_printoptions", "printoptions", "asmatrix", "matrix", "save",
                     "savez", "load", "loadtxt", "genfromtxt", "fromfile", "memmap"})
# CuPy's ufunc methods (``at`` since CuPy 12.1); NumPy's others do not exist there.
UFUNC_METHODS = ("at", "reduce", "accumulate", "outer")


def _check(x, dev):
    if x._dev != dev:
        raise _peer_error(x._dev, dev)
    return x._a


def unwrap(value, dev, owners):
    """NumPy view of ``value`` for NumPy's implementation; checks devices and host arrays."""
    kind = type(value)
    if kind is ndarray:
        owners[id(value._a)] = value
        return _check(value, dev)
    if kind is tuple or kind is list:
        return kind(unwrap(v, dev, owners) for v in value)
    if isinstance(value, np.ndarray):
        raise TypeError(f"Unsupported type {kind}")
    return value


def wrap(value, dev, owners):
    """Results back as simulated arrays on ``dev``: NumPy scalars become 0-d arrays."""
    if isinstance(value, np.ndarray):
        same = owners.get(id(value))
        if same is not None:
            return same
        return ndarray._new(value, dev)
    if isinstance(value, np.generic):
        return ndarray._new(np.asarray(value), dev)
    if type(value) is tuple or type(value) is list:
        return type(value)(wrap(v, dev, owners) for v in value)
    return value


def call(fn, args, kwargs, views=False, like=False):
    """``fn`` (NumPy's) on unwrapped ``args``, run on the current device.

    ``like``: ``args`` are read for their shape and dtype only (``zeros_like``), so they may
    live on any device.
    """
    dev = current_device()
    if like:
        metadata = tuple(a._a if type(a) is ndarray else a for a in args)
        result = wrap(fn(*metadata, **kwargs), dev, {})
        _note_call(fn, metadata, kwargs, result, {})
        return result
    if views:
        first = next((a for a in _flat(args) if type(a) is ndarray), None)
        if first is not None:
            dev = first._dev
    owners = {}
    host_args = unwrap(args, dev, owners)
    host_kwargs = {k: unwrap(v, dev, owners) for k, v in kwargs.items()}
    for written in arrays_in(kwargs.get("out")):
        _graph.before_write(written._a)
    out = fn(*host_args, **host_kwargs)
    if views:
        return _as_views(out, dev)
    _order.launch(reads=tuple(owners.values()), writes=arrays_in(kwargs.get("out")))
    result = wrap(out, dev, owners)
    _note_call(fn, host_args, host_kwargs, result, owners)
    return result


def _note_call(fn, args, kwargs, result, owners):
    """A CUDA graph being captured replays ``fn`` into the arrays it returned (not into
    its inputs: those it wrote in place, through ``out=``)."""
    if _graph.current() is None:
        return
    targets = [a._a if type(a) is ndarray and id(a._a) not in owners else None
               for a in (result if type(result) in (tuple, list) else (result,))]

    def recompute():
        values = fn(*args, **kwargs)
        for target, value in zip(targets, values if type(values) in (tuple, list)
                                 else (values,)):
            if target is not None:
                np.copyto(target, value, casting="unsafe")
    _graph.note(recompute)


def arrays_in(value):
    """The simulated arrays in ``value`` (an array, or nested tuples/lists of them)."""
    if type(value) is ndarray:
        return (value,)
    if type(value) in (tuple, list):
        return tuple(a for v in value for a in arrays_in(v))
    return ()


def _flat(args):
    for a in args:
        if type(a) in (list, tuple):
            yield from _flat(a)
        else:
            yield a


def _as_views(value, dev):
    if isinstance(value, np.ndarray):
        return ndarray._new(value, dev, owns=False)
    if isinstance(value, (list, tuple)):
        return type(value)(_as_views(v, dev) for v in value)
    return value


@functools.cache
def function(name):
    """The simulated ``cupy.<name>`` for a NumPy function."""
    fn = getattr(np, name)
    views = name in VIEWS
    like = name in LIKE
    special = _SPECIAL.get(name)

    def simulated(*args, **kwargs):
        if special is not None:
            return special(*args, **kwargs)
        return call(fn, args, kwargs, views=views, like=like)
    simulated.__name__ = simulated.__qualname__ = name
    simulated.__doc__ = f"Simulated ``cupy.{name}`` (NumPy's, on the current device)."
    return simulated


class Ufunc:
    """A simulated CuPy ufunc: NumPy's, with CuPy's device and operand checks."""

    def __init__(self, np_ufunc):
        self._ufunc = np_ufunc
        self.__name__ = np_ufunc.__name__
        self.nin, self.nout, self.nargs = np_ufunc.nin, np_ufunc.nout, np_ufunc.nargs

    def __call__(self, *args, **kwargs):
        return call(self._ufunc, args, kwargs)

    def __repr__(self):
        return f"<ufunc '{self.__name__}'>"

    def at(self, a, indices, b=None):
        dev = current_device()
        owners = {}
        target = unwrap(a, dev, owners)
        index = unwrap_index(indices, dev)
        _order.launch(reads=arrays_in((indices, b)), writes=(a,))
        args = (target, index) if b is None else (target, index, unwrap(b, dev, owners))
        _graph.before_write(target)
        self._ufunc.at(*args)
        _graph.note(lambda: self._ufunc.at(*args))

    def reduce(self, *args, **kwargs):
        return call(self._ufunc.reduce, args, kwargs)

    def accumulate(self, *args, **kwargs):
        return call(self._ufunc.accumulate, args, kwargs)

    def outer(self, *args, **kwargs):
        return call(self._ufunc.outer, args, kwargs)


@functools.cache
def ufunc(np_ufunc):
    return Ufunc(np_ufunc)


def numpy_function(func):
    """The simulated counterpart of a NumPy function (``__array_function__``), or None."""
    from . import linalg
    module = getattr(func, "__module__", "") or ""
    name = func.__name__
    if module.startswith("numpy.linalg"):
        return getattr(linalg, name, None)
    if name in MISSING or not hasattr(np, name):
        return None
    return function(name)


def basic_index(key):
    """True when ``key`` is basic indexing (a view in NumPy and CuPy: no kernel)."""
    items = key if type(key) is tuple else (key,)
    for item in items:
        if item is None or item is Ellipsis or type(item) is slice:
            continue
        if isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
            continue
        return False
    return True


def unwrap_index(key, dev=None):
    """An index for NumPy: simulated index arrays must be on ``dev``; host ones are allowed
    (CuPy copies list and NumPy indices to the device)."""
    dev = current_device() if dev is None else dev
    if type(key) is tuple:
        return tuple(unwrap_index(k, dev) for k in key)
    if type(key) is ndarray:
        return _check(key, dev)
    return key


def wrap_out_of_bounds(key, shape):
    """CuPy does not bounds-check integer-array indices: it wraps them around (its
    documented difference from NumPy, ``cupy.arange(3)[[1, 3]]`` is ``[1, 0]``). ``key`` is
    a NumPy-ready index for an array of ``shape``; integer arrays come back taken modulo
    their axis' length."""
    parts = key if type(key) is tuple else (key,)

    def width(p):
        if isinstance(p, np.ndarray) and p.dtype.kind == "b":
            return p.ndim
        return 0 if p is None or p is Ellipsis or isinstance(p, (bool, np.bool_)) else 1

    axis, out = 0, []
    for p in parts:
        if p is Ellipsis:
            axis += len(shape) - sum(width(q) for q in parts)
        elif isinstance(p, np.ndarray) and p.dtype.kind in "iu" and axis < len(shape) \
                and shape[axis] > 0:
            p = p % shape[axis]
        out.append(p)
        axis += width(p)
    return tuple(out) if type(key) is tuple else out[0]


# -- functions whose CuPy behaviour differs from "NumPy's on the current device" ----------

def _asarray(a, dtype=None, order=None, **kwargs):
    if type(a) is ndarray:
        if dtype is None or np.dtype(dtype) == a.dtype:
            return a  # the same array, whatever its device (no copy, no kernel)
        return a.astype(dtype)
    return _array(a, dtype=dtype, order=order)


def _array(obj, dtype=None, copy=True, order="K", ndmin=0, **kwargs):
    dev = current_device()
    if type(obj) is ndarray:
        _order.launch(reads=(obj,))
        host = obj._a  # a device-to-device copy onto the current device
    elif type(obj) in (list, tuple) and any(type(o) is ndarray for o in _flat(obj)):
        host = [unwrap(o, dev, {}) if type(o) is ndarray else o for o in obj]
    else:
        host = obj
        _graph.unsupported("a copy from host memory (cupy.array of host data)")
    out = np.array(host, dtype=dtype, order=order or "K", ndmin=ndmin, copy=True)
    _graph.note(lambda: np.array(host, dtype=dtype, order=order or "K", ndmin=ndmin), out)
    return ndarray._new(out, dev)


def _ascontiguousarray(a, dtype=None):
    if type(a) is not ndarray:
        raise TypeError(f"Unsupported type {type(a)}")
    if a.flags.c_contiguous and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    return call(np.ascontiguousarray, (a,), {} if dtype is None else {"dtype": dtype})


def _count_nonzero(a, axis=None, **kwargs):
    out = call(np.count_nonzero, (a,), dict(axis=axis, **kwargs))
    if type(out) is not ndarray:  # NumPy answers a Python int; CuPy a 0-d array
        out = ndarray._new(np.asarray(out, dtype=np.intp), current_device())
    return out


def _copyto(dst, src, casting="same_kind", where=True):
    dev = current_device()
    target = _check(dst, dev)
    _order.launch(reads=arrays_in((src, where)), writes=(dst,))
    owners = {}
    source, mask = unwrap(src, dev, owners), unwrap(where, dev, owners)
    _graph.before_write(target)
    np.copyto(target, source, casting=casting, where=mask)
    _graph.note(lambda: np.copyto(target, source, casting=casting, where=mask))


def _creation(np_fn):
    # cupy.empty/zeros/ones(shape, dtype=float, order='C'): dtype may come positionally.
    def create(shape, dtype=float, order="C"):
        from ._array import check_dtype
        out = np_fn(shape, dtype=check_dtype(float if dtype is None else dtype), order=order)
        if np_fn is not np.empty:  # a memset, which a graph repeats
            _graph.note(lambda: np_fn(shape, dtype=out.dtype), out)
        return ndarray._new(out, current_device())
    return create


def _take_along_axis(a, indices, axis):
    # CuPy builds this from integer-array indexing, so out-of-range indices wrap around.
    n = a.shape[axis] if axis is not None else a.size
    if n > 0 and type(indices) is ndarray and indices.dtype.kind in "iu":
        indices = indices % n
    return call(np.take_along_axis, (a, indices, axis), {})


_SPECIAL = {"asarray": _asarray, "take_along_axis": _take_along_axis, "asanyarray": _asarray, "array": _array,
            "ascontiguousarray": _ascontiguousarray, "count_nonzero": _count_nonzero,
            "copyto": _copyto, "empty": _creation(np.empty), "zeros": _creation(np.zeros),
            "ones": _creation(np.ones)}
