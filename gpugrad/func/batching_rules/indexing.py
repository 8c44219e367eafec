"""Batching rules of the indexing and scatter ops: an index or a slice of the logical
tensor gets a full slice for each batch dim in front; gather and scatter see the batch
dims expanded on every tensor.

>>> import gpugrad as gg
>>> gg.func.vmap(lambda x: x[1:])(gg.ones(3, 4)).shape
(3, 3)
"""
from ...ops.indexing import _ints_first
from ...tensor import Tensor
from ..batching import _align, _ops, batch_sizes, to_physical
from ._common import bind, fallback, functional, is_batched, shift, wrap
from ._generic import dims


def _getitem(op, fn, levels, args, kwargs):
    """Basic indexing and adjacent unbatched index tensors: full slices for the batch dims
    in front. Ints among index tensors select first (PyTorch's order, as the op does);
    batched or non-adjacent index tensors go to ``_batched_index``."""
    kw, names = bind(fn, args, kwargs)
    x, index = kw[names[0]], kw[names[1]]
    index = index if isinstance(index, tuple) else (index,)
    advanced = [i for i, v in enumerate(index)
                if isinstance(v, (Tensor, list)) or hasattr(v, "__array__")]
    split = _ints_first(index) if advanced else None
    if split is not None:
        return x[split[0]][split[1]]
    if is_batched(*index) or advanced and advanced[-1] - advanced[0] != len(advanced) - 1:
        return _batched_index(op, fn, levels, args, kwargs, x, index)
    p = _align(x, levels, x.ndim)
    return wrap(p[(slice(None),) * len(levels) + index], levels)


def _batched_index(op, fn, levels, args, kwargs, x, index):
    """Slices and integer tensors, some batched or apart from each other: each batch dim
    gets an ``arange`` index too, so that every example picks from its own slice. (NumPy
    puts the dims of index tensors apart from each other first: the batch dims' indexes
    make that so even when the function's are adjacent, and a permute puts them back.)
    Other indexes (None, Ellipsis, bool masks, lists) run per example."""
    tensors = [v for v in index if not isinstance(v, slice)]
    if len(index) > x.ndim or any(not isinstance(v, Tensor) or v.dtype.kind not in "iu"
                                  for v in tensors):
        return fallback(op, fn, levels, args, kwargs)
    k, sizes = len(levels), batch_sizes(levels)
    rank = max(t.ndim for t in tensors)
    p = to_physical(x, levels)
    lead = []
    for j, n in enumerate(sizes):  # one index per batch dim, broadcasting against the rest
        shape = (1,) * j + (n,) + (1,) * (k - 1 - j + rank)
        lead.append(_ops().arange(n, device=p.device).reshape(shape))
    phys = [v if isinstance(v, slice) else to_physical(v, levels, rank) for v in index]
    out = p[tuple(lead + phys)]
    where = [i for i, v in enumerate(index) if not isinstance(v, slice)]
    before = where[0]
    if before and where[-1] - before == len(where) - 1:  # adjacent, after some slices
        order = list(range(out.ndim))
        order = order[:k] + order[k + rank:k + rank + before] + order[k:k + rank] + \
            order[k + rank + before:]
        out = out.permute(order)
    return wrap(out, levels)


def _index_select(op, fn, levels, args, kwargs):
    """A batched index picks along ``dim`` as ``x[:, ..., index]`` does."""
    kw, names = bind(fn, args, kwargs)
    x, index = kw[names[0]], kw["index"]
    if not is_batched(index) or index.ndim != 1:
        return _INDEX_SELECT(op, fn, levels, args, kwargs)
    dim = shift(kw["dim"], x.ndim, 0)
    return x[(slice(None),) * dim + (index,)]


def _diag(op, fn, levels, args, kwargs):
    """The diagonal of each matrix, or each vector spread over the diagonal ``diagonal``
    of a square matrix: times an identity, then padded with zeros."""
    kw, names = bind(fn, args, kwargs)
    x, offset = kw["input"], kw["diagonal"]
    if x.ndim != 1:  # a matrix (diagonal is batched), or the error of a bad rank
        return fn(**kw)
    p = to_physical(x, levels)
    n, k = x.shape[0], abs(offset)
    square = p.unsqueeze(-1) * _ops().eye(n, dtype=p.dtype, device=p.device)
    if k:  # diagonal > 0 lies above the main one: zero columns left, zero rows below
        pad = (k, 0, 0, k) if offset > 0 else (0, k, k, 0)
        square = functional().pad(square, pad)
    return wrap(square, levels)


_INDEX_SELECT = dims("dim", keep=("index",))
RULES = {
    "getitem": _getitem, "diag": _diag, "diagonal": dims("dim1", "dim2"),
    "index_select": _index_select, "gather": dims("dim", full=True),
    "scatter": dims("dim", full=True), "scatter_add": dims("dim", full=True),
    "index_add": dims("dim", full=True, keep=("index",)),
}
