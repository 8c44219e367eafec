"""Indexing: ``t[index]`` (basic slices, integer arrays, boolean masks) and ``t[index] = v``,
and the index ops built on them: gather, scatter_add, index_select, diagonal.

Basic indexing returns a view sharing the input's version counter; integer-array and mask
indexing copy. The gradient of an index is scattered back with an add, so repeated integer
indices accumulate, as they must.
"""
import numpy as np

from ..autograd.function import Function, has_tangent
from ..autograd.grad_mode import state
from ..autograd.recording import write
from ..tensor import Tensor
from ._util import norm_dim
from .shape import mark_shared_tangents
from ..backends.checks import require_valid
from .errors import IndexRangeError, ShapeError, public_op


class Index(Function):
    @staticmethod
    def forward(ctx, xp, a, index):
        ctx.index = index
        return a[index]

    @staticmethod
    def backward(ctx, g):
        return IndexAdd.apply(g, index=ctx.index, shape=ctx.input_shapes[0])

    @staticmethod
    def jvp(ctx, t):
        return Index.apply(t, index=ctx.index)


class IndexAdd(Function):
    """zeros(shape) with ``g`` added at ``index``: the adjoint of ``Index``."""

    @staticmethod
    def forward(ctx, xp, g, index, shape):
        ctx.index = index
        out = xp.zeros(shape, dtype=g.dtype)
        if _has_int_array(index):
            _backend_index_add(xp, out, index, g)
        else:
            out[index] = g  # slices and masks never hit one element twice
        return out

    @staticmethod
    def backward(ctx, g):
        return Index.apply(g, index=ctx.index)

    @staticmethod
    def jvp(ctx, t):
        return IndexAdd.apply(t, index=ctx.index, shape=ctx.output.shape)


def _backend_index_add(xp, out, index, values):
    if xp is np:
        np.add.at(out, index, values)
    else:
        import cupyx
        cupyx.scatter_add(out, index, values)


def _has_int_array(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "dtype") and p.dtype.kind in "iu" for p in parts)


def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice))
               and not isinstance(p, bool) for p in parts)


def _is_int(part):
    """An integer index, or a 0-d integer array (PyTorch takes a 0-d tensor as one)."""
    if isinstance(part, int):
        return not isinstance(part, bool)
    return getattr(part, "ndim", None) == 0 and part.dtype.kind in "iu"


def _ints_first(index):
    """Split ``index`` into a basic part holding its integers and the advanced rest.

    NumPy treats integers next to an index array as index arrays too, so ``x[0, :, [1, 2]]``
    puts the indexed axis first; PyTorch selects the integers first and gives the rest
    in place. Applying the two parts in turn gives PyTorch's result. None when there is
    nothing to split.
    """
    if not isinstance(index, tuple):
        return None
    advanced = [p for p in index if hasattr(p, "dtype") and not _is_int(p)
                or isinstance(p, bool)]
    if not advanced or not any(_is_int(p) for p in index):
        return None
    first, rest = [], []
    for p in index:
        if _is_int(p):
            first.append(p)
        elif isinstance(p, bool) or getattr(p, "ndim", None) == 0:
            rest.append(p)  # a 0-d mask adds an axis of its own, consuming none
        elif hasattr(p, "dtype"):
            first.extend([slice(None)] * (p.ndim if p.dtype.kind == "b" else 1))
            rest.append(p)
        else:  # a slice, None or Ellipsis keeps its place in both parts
            first.append(p)
            rest.append(p if p is Ellipsis else slice(None))
    return tuple(first), tuple(rest)


def _convert(part, like):
    """Tensors, lists and arrays in an index become arrays of ``like``'s backend."""
    if isinstance(part, Tensor):
        if part._device is not like._device:
            raise RuntimeError(f"index: index on {part._device} for a tensor on "
                               f"{like._device}")
        return part._data
    # like's own arrays: an index ``_ints_first`` split after converting it
    if isinstance(part, (list, np.ndarray, like._backend.xp.ndarray)):
        arr = like._backend.xp.asarray(part)
        if arr.size == 0 and isinstance(part, list):
            arr = arr.astype(np.int64)  # ``[]`` selects nothing, as in PyTorch
        if arr.dtype.kind not in "iub":
            raise IndexError(f"index: arrays used as indices must be integer or boolean, "
                             f"got {arr.dtype}")
        return arr
    if isinstance(part, (bool, np.bool_)):
        return bool(part)  # a 0-d mask (x[True] adds an axis), not the index 1
    if not isinstance(part, (int, slice, type(None), type(Ellipsis))):
        if hasattr(part, "__index__"):
            return int(part)
        raise IndexError(f"index: unsupported index of type {type(part).__name__}")
    return part


def _check_array_parts(name, shape, index):
    """NumPy raises for an integer-array index out of [-n, n); CuPy silently reads another
    element instead (it does not bounds-check), so GPU tensors check each such part."""
    parts = index if isinstance(index, tuple) else (index,)
    used = sum(p.ndim if getattr(p, "dtype", None) is not None and p.dtype.kind == "b"
               else 0 if p is None or p is Ellipsis or isinstance(p, bool) else 1
               for p in parts)
    dim = 0
    for p in parts:
        if p is Ellipsis:
            dim += len(shape) - used
        elif getattr(p, "dtype", None) is not None and p.dtype.kind == "b":
            dim += p.ndim
        elif getattr(p, "dtype", None) is not None:
            if dim < len(shape):
                n = shape[dim]
                require_valid((p < -n) | (p >= n), IndexRangeError, lambda value, n=n, d=dim: (
                    f"{name}: index {'' if value is None else str(value) + ' '}is out of "
                    f"bounds for dimension {d} with size {n}"), p)
            dim += 1
        elif p is not None and not isinstance(p, bool):
            dim += 1


def normalize_index(index, like):
    if isinstance(index, tuple):
        return tuple(_convert(p, like) for p in index)
    return _convert(index, like)


@public_op
def getitem(a, index):
    """``a[index]``: ints, slices, None, Ellipsis, integer tensors or lists and bool masks, as
    PyTorch and NumPy index.

    >>> a = gg.arange(6).reshape(2, 3)
    >>> gg.getitem(a, (slice(None), 1))
    tensor([1, 4])
    >>> a[a > 2]
    tensor([3, 4, 5])
    >>> a[:, [2, 0]]
    tensor([[2, 0],
            [5, 3]])
    """
    index = normalize_index(index, a)
    if a._backend.xp is not np:
        _check_array_parts("index", a.shape, index)
    split = _ints_first(index)
    if split is not None:
        return getitem(getitem(a, split[0]), split[1])
    try:
        out = Index.apply(a, index=index)
    except IndexError as err:
        raise IndexError(f"index: {err} (tensor of shape {a.shape})") from None
    if _is_basic(index):
        out._version = a._version_counter()
        if out._tangent is not None:
            mark_shared_tangents(out, a)
    return out


@public_op
def setitem(a, index, value):
    """``a[index] = value`` on a tensor that does not require grad (or under no_grad)."""
    if a.requires_grad and state.grad_enabled:
        raise RuntimeError("setitem: assignment into a tensor that requires grad is not "
                           "differentiable; use gg.where/masked_fill, or wrap in gg.no_grad()")
    if state.forward_levels and (has_tangent(a) or
                                 isinstance(value, Tensor) and has_tangent(value)):
        raise RuntimeError("setitem: assignment is not supported under forward-mode AD "
                           "(gg.func.jvp); use gg.where, masked_fill or cat instead")
    index = normalize_index(index, a)
    if isinstance(value, Tensor) and value._device is not a._device:
        raise RuntimeError(f"setitem: value on {value._device}, tensor on {a._device}")
    try:
        if isinstance(value, Tensor):  # gg.compile reads the value from its slot
            write(_assign, a, value, index=index)
        else:
            write(_assign_value, a, index=index, value=value)
    except IndexError as err:
        raise IndexError(f"setitem: {err} (tensor of shape {a.shape})") from None
    except ValueError as err:
        raise ValueError(f"setitem: {err} (tensor of shape {a.shape})") from None
    a._bump_version()


def _assign(xp, dst, value, *, index):
    """``dst[index] = value`` on raw arrays (also gg.compile's replay of it)."""
    split = _ints_first(index)
    if split is not None:
        # Python ints keep the first part basic, so it is a view to write through.
        first = tuple(int(p) if _is_int(p) else p for p in split[0])
        dst[first][split[1]] = value
    else:
        dst[index] = value
    return dst


def _assign_value(xp, dst, *, index, value):
    return _assign(xp, dst, value, index=index)


def _along(xp, index, axis):
    """An index tuple taking ``index`` along ``axis`` and position i along every other
    dim: ``a[_along(...)][i, j, k] == a[i, index[i, j, k], k]`` for axis 1."""
    parts = []
    for d, n in enumerate(index.shape):
        if d == axis:
            parts.append(index)
        else:
            parts.append(xp.arange(n).reshape([-1 if e == d else 1 for e in range(index.ndim)]))
    return tuple(parts)


def _index_array(name, a, index, ndim):
    """``index``'s array, after checking it is an integer tensor of ``ndim`` dims."""
    if not isinstance(index, Tensor) or index.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected an integer index tensor")
    if index._device is not a._device:
        raise RuntimeError(f"{name}: index on {index._device} for a tensor on {a._device}")
    if index.ndim != ndim:
        raise ValueError(f"{name}: index has {index.ndim} dims, expected {ndim}")
    return index._data


def _check_range(name, idx, size, dim):
    """PyTorch rejects indices outside [0, size) in gather/scatter/index_select; NumPy
    would wrap a negative one around and CuPy read or write some other element."""
    require_valid((idx < 0) | (idx >= size), IndexRangeError, lambda value: (
        f"{name}: index {'' if value is None else str(value) + ' '}is out of bounds for "
        f"dimension {dim} with size {size}"), idx)


def _check_index_shape(name, a, index, dim, src=None):
    """PyTorch's rule: ``index`` is no larger than ``a`` in every dim but ``dim``, and no
    larger than ``src`` in any dim (only that part of ``src`` is read)."""
    for d, n in enumerate(index.shape):
        if d != dim and n > a.shape[d] or src is not None and n > src.shape[d]:
            more = f" and to be no larger than src {list(src.shape)}" if src is not None else ""
            raise ShapeError(f"{name}: expected index {list(index.shape)} to be no larger than "
                             f"self {list(a.shape)} apart from dimension {dim}{more}")


@public_op
def gather(a, dim, index):
    """``out[i][j][k] = a[i][index[i][j][k]][k]`` for ``dim == 1``; the gradient adds back
    at the gathered positions, so repeated indices accumulate.

    >>> import gpugrad as gg
    >>> gg.tensor([[1, 2], [3, 4]]).gather(1, gg.tensor([[1, 1], [0, 1]])).tolist()
    [[2, 2], [3, 4]]
    """
    axis = norm_dim(dim, a.ndim)
    idx = _index_array("gather", a, index, a.ndim)
    _check_index_shape("gather", a, index, axis)
    _check_range("gather", idx, a.shape[axis] if a.ndim else 1, axis)
    if a.ndim == 0:
        return Index.apply(a, index=())
    try:
        return Index.apply(a, index=_along(a._backend.xp, idx, axis))
    except IndexError as err:
        raise IndexError(f"gather: {err} (tensor of shape {a.shape}, index "
                         f"{index.shape})") from None


@public_op
def scatter_add(a, dim, index, src):
    """``a`` with ``src[i][j][k]`` added at ``[i][index[i][j][k]][k]`` for ``dim == 1``
    (out of place); only the part of ``src`` the shape of ``index`` is used.

    >>> gg.scatter_add(gg.zeros(2, 3), 1, gg.tensor([[0, 0], [2, 1]]), gg.ones(2, 2))
    tensor([[2., 0., 0.],
            [0., 1., 1.]])
    """
    axis = norm_dim(dim, a.ndim)
    idx = _index_array("scatter_add", a, index, a.ndim)
    if src.ndim != index.ndim:
        raise ShapeError(f"scatter_add: index and src must have the same number of dims, got "
                         f"{index.ndim} and {src.ndim}")
    _check_index_shape("scatter_add", a, index, axis, src)
    _check_range("scatter_add", idx, a.shape[axis] if a.ndim else 1, axis)
    if src.shape != index.shape:
        src = src[tuple(slice(0, n) for n in index.shape)]
    if src.dtype != a.dtype:
        raise TypeError(f"scatter_add: src has dtype {src.dtype}, the tensor {a.dtype}")
    if a.ndim == 0:
        return a + src
    try:
        added = IndexAdd.apply(src, index=_along(a._backend.xp, idx, axis), shape=a.shape)
    except IndexError as err:
        raise IndexError(f"scatter_add: {err} (tensor of shape {a.shape}, index "
                         f"{index.shape})") from None
    return a + added


@public_op
def index_select(a, dim, index):
    """The entries ``index`` (a 1-d integer tensor) along ``dim``, in that order.

    >>> gg.index_select(gg.tensor([[1, 2, 3], [4, 5, 6]]), 1, gg.tensor([2, 0]))
    tensor([[3, 1],
            [6, 4]])
    """
    axis = norm_dim(dim, a.ndim)
    if getattr(index, "ndim", 1) > 1:
        raise ValueError(f"index_select: index must be 0-d or 1-d, got {index.ndim} dims")
    idx = _index_array("index_select", a, index, index.ndim)
    _check_range("index_select", idx, a.shape[axis] if a.ndim else 1, axis)
    return getitem(a, (slice(None),) * axis + (index.reshape(-1),))


@public_op
def diagonal(a, offset=0, dim1=0, dim2=1):
    """The diagonal ``offset`` of the ``dim1`` x ``dim2`` planes, as a last dim (a copy,
    where PyTorch returns a view).

    >>> import gpugrad as gg
    >>> gg.arange(9).reshape(3, 3).diagonal(1).tolist()
    [1, 5]
    """
    d1, d2 = norm_dim(dim1, a.ndim), norm_dim(dim2, a.ndim)
    if d1 == d2:
        raise ValueError(f"diagonal: dim1 and dim2 are both {d1}")
    rest = [d for d in range(a.ndim) if d not in (d1, d2)]
    moved = a.permute(tuple(rest) + (d1, d2))
    n, m = a.shape[d1], a.shape[d2]
    row0, col0 = max(-offset, 0), max(offset, 0)
    length = max(0, min(n - row0, m - col0))
    xp = a._backend.xp
    steps = xp.arange(length)
    return Index.apply(moved, index=(Ellipsis, steps + row0, steps + col0))
