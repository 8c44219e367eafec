"""Small helpers shared by the op families."""
import math

import numpy as np

from ..backends.device import CPU
from ..dtypes import get_default_dtype
from ..tensor import Tensor
from .errors import not_a_tensor


def lift(value, like, name="op"):
    """Make ``value`` (Python scalar, array or Tensor) a Tensor on ``like``'s device.

    Python scalars take ``like``'s dtype when the kinds agree (``x * 2`` stays float32),
    as in PyTorch; a float scalar with an integer tensor gives float32. Anything that is
    not a number (a string, None) is a TypeError naming the op ``name`` (a string, or the
    op's class: its name is only read on the error path).
    """
    if isinstance(value, Tensor):
        return value
    if not isinstance(like, Tensor):
        raise not_a_tensor(op_name(name), like)
    if isinstance(value, (bool, int, float)):
        dtype = _scalar_dtype(value, like._data.dtype)
        return Tensor._wrap(_scalar(value, dtype, like), like._backend, like._device)
    if isinstance(value, (np.ndarray, np.generic)) and like._device is not CPU:
        raise TypeError(f"{op_name(name)}: expected a tensor on {like._device}, got a NumPy "
                        "array; wrap it with gg.tensor(..., device=...)")
    try:
        with like._backend.device_context(like._device):
            arr = like._backend.xp.asarray(value)
    except (TypeError, ValueError) as err:  # ragged lists, objects NumPy cannot hold
        raise TypeError(f"{op_name(name)}: unsupported operand of type "
                        f"{type(value).__name__}: {err}") from None
    if arr.dtype.kind not in _CATEGORY:
        raise TypeError(f"{op_name(name)}: unsupported operand of type "
                        f"{type(value).__name__} (expected a Tensor or a number)")
    return Tensor._wrap(arr, like._backend, like._device)


def op_name(op):
    """An op's name for an error message: ``op`` itself, or a Function class's name."""
    return op if isinstance(op, str) else op.__name__.lower()


_SCALARS = {}


def _scalar(value, dtype, like):
    """A cached 0-d array of ``value`` on ``like``'s device: ``x * 2`` is common, and
    building one costs as much as the multiply on the CPU and a host-to-device copy on a
    GPU. Keyed by type and device too, and -0.0 kept apart from 0.0 (they compare equal).
    Ops never write into their inputs; on the CPU the array is read-only besides."""
    key = (value, type(value), dtype, math.copysign(1.0, value) if type(value) is float else 0,
           like._device)
    arr = _SCALARS.get(key)
    if arr is None:
        if like._device is CPU:
            arr = np.asarray(value, dtype=dtype)
            arr.flags.writeable = False
        else:
            # Inside the tensor's device context: CuPy allocates on the *current* device.
            with like._backend.device_context(like._device):
                arr = like._backend.xp.asarray(value, dtype=dtype)
        if len(_SCALARS) < 4096:
            _SCALARS[key] = arr
    return arr


def _scalar_dtype(value, dtype):
    if isinstance(value, bool):
        return dtype
    if isinstance(value, int):
        return np.int64 if dtype.kind == "b" else dtype
    return dtype if dtype.kind == "f" else get_default_dtype()


def binary(fn, a, b):
    """Apply a two-input op to ``operands(a, b)``."""
    return fn.apply(*operands(a, b, fn))


def operands(a, b, name="op"):
    """``a`` and ``b`` as Tensors of one dtype: a Python number is lifted to the other's
    device, and mixed dtypes are cast to the type PyTorch's promotion gives."""
    if not isinstance(a, Tensor):
        a = lift(a, b, name)
    elif not isinstance(b, Tensor):
        b = lift(b, a, name)
    if a._data.dtype is not b._data.dtype:
        a, b = _promote(a, b)
    return a, b


def _promote(a, b):
    dtype = result_type(a, b)
    return a.to(dtype=dtype), b.to(dtype=dtype)


_CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2}


def result_type(a, b):
    """The dtype of ``a op b`` for Tensors, by PyTorch's rules (not NumPy's).

    The higher category (bool < integer < floating) wins outright, so int64 + float32 is
    float32; within one category the wider type wins. A 0-d tensor counts only where its
    category is higher than a dimensioned operand's: float32 + 0-d float64 stays float32.
    Python numbers arrive as 0-d tensors already of the type they promote to (``lift``).
    """
    da, db = a.dtype, b.dtype
    if (a.ndim == 0) != (b.ndim == 0):
        zero, dims = (da, db) if a.ndim == 0 else (db, da)
        return zero if _CATEGORY[zero.kind] > _CATEGORY[dims.kind] else dims
    return promote_types(da, db)


def promote_types(*dtypes):
    """PyTorch's promotion of the dtypes of dimensioned tensors (see ``result_type``)."""
    top = max(_CATEGORY[d.kind] for d in dtypes)
    return np.result_type(*[d for d in dtypes if _CATEGORY[d.kind] == top])


def norm_dims(dim, ndim):
    """``dim`` (None, int or tuple) as a sorted tuple of non-negative axes.

    A 0-d tensor accepts dim 0 and -1, as in PyTorch, and has no axis to reduce.
    """
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    out = [norm_dim(d, ndim) for d in dim]
    return tuple(sorted(out)) if ndim else ()


def norm_dim(dim, ndim):
    """One ``dim`` as a non-negative axis, with PyTorch's error for out-of-range values."""
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"dimension {dim} out of range for a tensor of {ndim} dims")
    return dim % max(ndim, 1)


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


def has_bfloat16(*values):
    """Is any of ``values`` a bfloat16 Tensor?"""
    return any(isinstance(v, Tensor) and v.dtype.name == "bfloat16" for v in values)


def bfloat16_in_float32(fn, *args, **kwargs):
    """``fn`` with its bfloat16 Tensor arguments as float32, its result rounded back to
    bfloat16: what PyTorch's CPU kernels do for bfloat16 (they accumulate in float32), and
    needed where NumPy has no loop for ml_dtypes' type (einsum). The casts are ops, so
    gradients flow through them in their own dtypes.

    >>> x = gg.tensor([1.0, 2.0]).to(gg.bfloat16)
    >>> bfloat16_in_float32(lambda t: t.softmax(0), x).dtype
    gpugrad.bfloat16
    """
    def up(v):
        return v.float() if has_bfloat16(v) else v
    out = fn(*map(up, args), **{k: up(v) for k, v in kwargs.items()})
    from ..dtypes import bfloat16
    return out.to(dtype=bfloat16)
