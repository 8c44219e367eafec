"""Sorting and selection by value: sort, argsort, topk. The order is computed on the arrays
(it has no gradient); the values are then gathered, so their gradient goes back to the
positions they came from."""
from ._util import norm_dim
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
