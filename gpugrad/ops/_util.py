"""Small helpers shared by the op families."""
import math

import numpy as np

from ..backends.device import CPU
from ..tensor import Tensor


def lift(value, like):
    """Make ``value`` (Python scalar, array or Tensor) a Tensor on ``like``'s device.

    Python scalars take ``like``'s dtype when the kinds agree (``x * 2`` stays float32),
    as in PyTorch; a float scalar with an integer tensor gives float32.
    """
    if isinstance(value, Tensor):
        return value
    xp = like._backend.xp
    if isinstance(value, (bool, int, float)):
        dtype = _scalar_dtype(value, like.data.dtype)
        if like._device is CPU:
            return Tensor._wrap(_cpu_scalar(value, dtype), like._backend, CPU)
        arr = xp.asarray(value, dtype=dtype)
    elif isinstance(value, (np.ndarray, np.generic)) and like._device is not CPU:
        raise TypeError(f"expected a tensor on {like._device}, got a NumPy array; "
                        "wrap it with gg.tensor(..., device=...)")
    else:
        arr = xp.asarray(value)
    return Tensor._wrap(arr, like._backend, like._device)


_SCALARS = {}


def _cpu_scalar(value, dtype):
    """A cached read-only 0-d array: ``x * 2`` is common and building one costs as much as
    the multiply. Keyed by type too, and -0.0 kept apart from 0.0 (they compare equal)."""
    key = (value, type(value), dtype, math.copysign(1.0, value) if type(value) is float else 0)
    arr = _SCALARS.get(key)
    if arr is None:
        arr = np.asarray(value, dtype=dtype)
        arr.flags.writeable = False
        if len(_SCALARS) < 4096:
            _SCALARS[key] = arr
    return arr


def _scalar_dtype(value, dtype):
    if isinstance(value, bool):
        return dtype
    if isinstance(value, int):
        return np.int64 if dtype.kind == "b" else dtype
    return dtype if dtype.kind == "f" else np.float32


def binary(fn, a, b):
    """Apply a two-input op, lifting a non-Tensor operand to the other's device."""
    if not isinstance(a, Tensor):
        a = lift(a, b)
    elif not isinstance(b, Tensor):
        b = lift(b, a)
    return fn.apply(a, b)


def norm_dims(dim, ndim):
    """``dim`` (None, int or tuple) as a sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    out = []
    for d in dim:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"dimension {d} out of range for a tensor of {ndim} dims")
        out.append(d % max(ndim, 1))
    return tuple(sorted(out))


def norm_dim(dim, ndim):
    """One ``dim`` as a non-negative axis, with PyTorch's error for out-of-range values."""
    return norm_dims(dim, ndim)[0]


def keepdim_shape(shape, axes):
    """``shape`` with the reduced ``axes`` kept as size 1."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def add_tangents(*terms):
    """The sum of the forward-mode tangent terms that are not None (None stands for zero).

    >>> add_tangents(None, 2, None, 3)
    5
    """
    total = None
    for t in terms:
        if t is not None:
            total = t if total is None else total + t
    return total
