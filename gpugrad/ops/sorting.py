"""Sorting and selection by value: sort, argsort, topk. The order is computed on the arrays
(it has no gradient); the values are then gathered, so their gradient goes back to the
positions they came from. unique, searchsorted and bucketize have no gradient."""
import numpy as np

from ..tensor import Tensor
from ._util import lift, norm_dim
from .indexing import gather
from .reduction import values_indices
from .errors import public_op


def _order(a, axis, descending):
    """Stable sorting indices along ``axis``. Descending order sorts the reversed array and
    reverses the result, so ties keep their order and NaN comes first, as in PyTorch."""
    xp = a._backend.xp
    data = a._data
    if not descending:
        return xp.argsort(data, axis=axis, kind="stable")
    flip = (slice(None),) * axis + (slice(None, None, -1),)
    order = xp.argsort(data[flip], axis=axis, kind="stable")[flip]
    return data.shape[axis] - 1 - order


@public_op
def sort(a, dim=-1, descending=False, stable=False):
    """``(values, indices)`` sorted along ``dim``; NaN sorts as the largest value. The sort
    is always stable (``stable`` is accepted for PyTorch's signature).

    >>> import gpugrad as gg
    >>> gg.tensor([3.0, 1.0, 2.0]).sort().values.tolist()
    [1.0, 2.0, 3.0]
    """
    index = argsort(a, dim, descending, stable)
    if a.ndim == 0:
        return values_indices(a.clone(), index)
    return values_indices(gather(a, norm_dim(dim, a.ndim), index), index)


@public_op
def argsort(a, dim=-1, descending=False, stable=False):
    """The indices that sort ``a`` along ``dim`` (see ``sort``).

    >>> gg.argsort(gg.tensor([[3.0, 1.0, 2.0]]), descending=True)
    tensor([[0, 2, 1]])
    """
    axis = norm_dim(dim, a.ndim)
    xp = a._backend.xp
    if a.ndim == 0:
        return a._like(xp.zeros((), dtype=xp.int64))
    return a._like(_order(a, axis, descending).astype(xp.int64, copy=False))


@public_op
def topk(a, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) ``(values, indices)`` along ``dim``, in order.

    >>> import gpugrad as gg
    >>> gg.tensor([1.0, 4.0, 2.0, 3.0]).topk(2).indices.tolist()
    [1, 3]
    """
    axis = norm_dim(dim, a.ndim)
    n = a.shape[axis] if a.ndim else 1
    if not 0 <= k <= n:
        raise IndexError(f"topk: k = {k} is out of range for dimension {dim} of size {n}")
    if a.ndim == 0:
        return sort(a)
    xp = a._backend.xp
    order = _order(a, axis, largest)[(slice(None),) * axis + (slice(0, k),)]
    index = a._like(xp.ascontiguousarray(order).astype(xp.int64, copy=False))
    return values_indices(gather(a, axis, index), index)


@public_op
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (distinct slices along ``dim``), in ascending order, optionally
    with the index of each input element's value (shaped like the input; one per slice with
    ``dim``) and the count of each value. NaNs are not merged, as in PyTorch. The result is
    always sorted (``sorted=False`` allows any order) and has no gradient.

    >>> gg.unique(gg.tensor([3, 1, 3, 2]))
    tensor([1, 2, 3])
    >>> values, inverse, counts = gg.unique(gg.tensor([[3, 1], [1, 2]]), return_inverse=True,
    ...                                     return_counts=True)
    >>> inverse, counts
    (tensor([[2, 0],
            [0, 1]]), tensor([2, 1, 1]))
    """
    xp = input._backend.xp
    data = input._data
    extra = {"equal_nan": False} if xp is np else {}
    if dim is None:
        found = xp.unique(data.reshape(-1), return_inverse=True, return_counts=True, **extra)
    else:
        axis = norm_dim(dim, data.ndim)
        found = xp.unique(data, return_inverse=True, return_counts=True, axis=axis, **extra)
    values, inverse, counts = found
    out = [input._like(values)]
    if return_inverse:
        shape = input.shape if dim is None else (-1,)
        out.append(input._like(inverse.reshape(shape).astype(xp.int64)))
    if return_counts:
        out.append(input._like(counts.astype(xp.int64)))
    return out[0] if len(out) == 1 else tuple(out)


@public_op
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """Where each value of ``input`` would be inserted into ``sorted_sequence`` (sorted along
    its last dim) to keep it sorted: before equal values (``side='left'``) or after them
    (``right=True`` or ``side='right'``). An N-d sequence holds one row per row of
    ``input``; ``sorter`` gives the indices that sort an unsorted sequence.

    >>> seq = gg.tensor([1, 3, 5, 7])
    >>> gg.searchsorted(seq, gg.tensor([3, 6])), gg.searchsorted(seq, 3, right=True)
    (tensor([1, 3]), tensor(2))
    """
    if side is not None and side not in ("left", "right"):
        raise RuntimeError(f"searchsorted(): side can only be 'left' or 'right', got {side!r}")
    if side == "left" and right:
        raise RuntimeError("searchsorted(): side and right can't be set to opposites, got side "
                           "of left while right was True")
    side = side or ("right" if right else "left")
    seq = sorted_sequence
    if seq.ndim == 0:
        raise RuntimeError("searchsorted(): boundaries tensor should have positive dimension, "
                           "but got 0 dimension")
    values = input if isinstance(input, Tensor) else lift(input, seq, "searchsorted")
    if seq.ndim > 1 and (values.ndim != seq.ndim or values.shape[:-1] != seq.shape[:-1]):
        raise RuntimeError(f"searchsorted(): boundaries tensor should be 1 dimension or the "
                           f"first N-1 dimensions of boundaries tensor and input value tensor "
                           f"must match, but we got boundaries tensor {list(seq.shape)} and "
                           f"input value tensor {list(values.shape)}")
    if values._device is not seq._device:
        raise RuntimeError(f"searchsorted(): expected all tensors on one device, found "
                           f"{seq._device} and {values._device}")
    xp = seq._backend.xp
    s, v = seq._data, values._data
    if sorter is not None:
        if sorter.shape != seq.shape or sorter.dtype.kind not in "iu":
            raise RuntimeError("searchsorted(): sorter must be an integer tensor of the "
                               "boundaries' shape")
        s = xp.take_along_axis(s, sorter._data, axis=-1)
    if seq.ndim == 1:
        out = xp.searchsorted(s, v, side=side)
    else:  # one row each: count the entries before the insertion point
        rows, points = s[..., None, :], v[..., None]
        before = rows <= points if side == "right" else rows < points
        out = before.sum(axis=-1)
    return values._like(xp.asarray(out, dtype=xp.int32 if out_int32 else xp.int64))


@public_op
def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The index of the bucket of each value of ``input`` among the sorted 1-d
    ``boundaries``: ``boundaries[i-1] < x <= boundaries[i]``, or with ``right=True``
    ``boundaries[i-1] <= x < boundaries[i]`` (``searchsorted`` with the arguments swapped).

    >>> gg.bucketize(gg.tensor([3, 6]), gg.tensor([1, 3, 5, 7]))
    tensor([1, 3])
    """
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries tensor must be 1 dimension, but got dim"
                           f"({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
