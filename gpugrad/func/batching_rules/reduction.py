"""Batching rules of the reductions, scans and sorts: ``dim`` moves past the batch dims,
and ``dim=None`` (everything) becomes the logical dims only.

>>> import gpugrad as gg
>>> gg.func.vmap(lambda x: x.sum())(gg.ones(3, 2)).tolist()
[2.0, 2.0, 2.0]
"""
from ...tensor import Tensor
from ..batching import _align, batch_sizes, to_physical
from ._common import bind, call, each, fallback, is_batched, shift, wrap
from ._generic import dims, trailing

_ALL_WHEN_NONE = ("sum", "mean", "prod", "amax", "amin", "max", "min", "argmax", "argmin",
                  "any", "all", "count_nonzero", "var", "std", "norm", "logsumexp")


def reduction(op, fn, levels, args, kwargs):
    """``dim`` shifts past the batch dims; ``dim=None`` reduces every logical dim.

    >>> gg.func.vmap(lambda x: gg.amax(x, keepdim=True))(gg.eye(2)).shape
    (2, 1)
    """
    kw, names = bind(fn, args, kwargs)
    x = kw[names[0]]
    k, rank = len(levels), x.ndim
    p = _align(x, levels, rank)
    dim = kw.get("dim")
    keep = kw.get("keepdim", False)
    if dim is None or dim == ():
        kw[names[0]] = p.reshape(p.shape[:k] + (-1,))
        kw["dim"] = k
        if "keepdim" in names:
            kw["keepdim"] = False
        out = call(fn, (), kw)
        if op in ("max", "min"):  # with a dim they also give the indices
            out = out[0]
        if keep:
            out = each(lambda o: o.reshape(o.shape[:k] + (1,) * rank), out)
        return wrap(out, levels)
    kw[names[0]] = p
    kw["dim"] = shift(dim, rank, k)
    return wrap(call(fn, (), kw), levels)


def _sum_to_size(op, fn, levels, args, kwargs):
    kw, names = bind(fn, args, kwargs)
    x, shape = kw[names[0]], tuple(kw[names[1]])
    k = len(levels)
    p = _align(x, levels, x.ndim)
    lead = x.ndim - len(shape)
    if lead > 0:
        p = p.sum(dim=tuple(range(k, k + lead)))
    return wrap(p.sum_to_size(p.shape[:k] + shape), levels)


def _searchsorted(op, fn, levels, args, kwargs):
    """Each example searches its own sequence: the N-d form of the op, with the batch dims
    leading on every tensor (a 1-d sequence takes each example's values as one row)."""
    kw, names = bind(fn, args, kwargs)
    seq, values, sorter = kw["sorted_sequence"], kw["input"], kw["sorter"]
    if not isinstance(values, Tensor) or not isinstance(seq, Tensor):
        return fallback(op, fn, levels, args, kwargs)
    if seq.ndim == 0 or (seq.ndim > 1 and values.ndim != seq.ndim):
        return fn(**kw)  # the op's own error about the ranks
    if seq.ndim == 1 and not is_batched(seq, sorter):  # one sequence: any values' shape
        kw["input"] = _align(values, levels, values.ndim)
        return wrap(call(fn, (), kw), levels)
    sizes = batch_sizes(levels)
    kw["sorted_sequence"] = to_physical(seq, levels)
    if sorter is not None:
        kw["sorter"] = to_physical(sorter, levels)
    pv = to_physical(values, levels)
    kw["input"] = pv.reshape(sizes + (-1,)) if seq.ndim == 1 else pv
    out = call(fn, (), kw)
    return wrap(out.reshape(sizes + values.shape) if seq.ndim == 1 else out, levels)


RULES = dict.fromkeys(_ALL_WHEN_NONE, reduction)
RULES.update(dict.fromkeys(("cumsum", "cumprod", "diff", "sort", "argsort", "topk"),
                           dims("dim")))
RULES.update(sum_to_size=_sum_to_size, bucketize=trailing,
             searchsorted=_searchsorted)
