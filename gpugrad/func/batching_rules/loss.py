"""Batching rules of the losses: each example's loss is reduced over that example only,
so a loss is computed with ``reduction='none'`` on the whole batch, then reduced per
example (classification losses fold the batch into N first).

>>> import gpugrad as gg
>>> F = gg.nn.functional
>>> gg.func.vmap(F.mse_loss)(gg.ones(2, 3), gg.zeros(2, 3)).tolist()
[1.0, 1.0]
"""
from ...tensor import Tensor
from ..batching import batch_sizes, to_physical
from ._common import bind, call, fallback, is_batched, rank_of, wrap
from ._generic import composite

_ELEMENTWISE = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div",
                "binary_cross_entropy", "binary_cross_entropy_with_logits")


def _elementwise_loss(op, fn, levels, args, kwargs):
    """Elementwise losses: computed with reduction='none', then reduced per example."""
    kw, names = bind(fn, args, kwargs)
    reduction = kw.get("reduction", "mean")
    rank = rank_of(kw)
    shape = None
    for n in names:
        if isinstance(kw.get(n), Tensor):
            kw[n] = to_physical(kw[n], levels, rank)
            shape = kw[n].shape if shape is None else _broadcast_shape(shape, kw[n].shape)
    for n in names:  # losses warn about targets that broadcast: give them the full shape
        if isinstance(kw.get(n), Tensor) and kw[n].shape != shape:
            kw[n] = kw[n].expand(shape)
    kw["reduction"] = "none"
    out = call(fn, (), kw)
    k = len(levels)
    dims = tuple(range(k, out.ndim))
    if reduction == "mean":
        out = out.mean(dim=dims) if dims else out
    elif reduction == "sum":
        out = out.sum(dim=dims) if dims else out
    elif reduction == "batchmean":
        out = out.sum(dim=dims) / (out.shape[k] if dims else 1)
    return wrap(out, levels)


def _broadcast_shape(a, b):
    return tuple(max(x, y) for x, y in zip(a, b))


def _class_loss(op, fn, levels, args, kwargs):
    """cross_entropy and nll_loss: the batch folds into N, the loss is computed with
    reduction='none' and reduced per example ('mean' over the weights of kept targets)."""
    kw, names = bind(fn, args, kwargs)
    x, target, weight = kw["input"], kw["target"], kw.get("weight")
    if not isinstance(target, Tensor) or is_batched(weight) or (
            weight is not None and kw.get("label_smoothing", 0.0)):
        return fallback(op, fn, levels, args, kwargs)
    k = len(levels)
    sizes = batch_sizes(levels)
    px, pt = to_physical(x, levels), to_physical(target, levels)
    if x.ndim == 1:  # one example of C classes: an N of 1
        px, pt = px.unsqueeze(k), pt.unsqueeze(k)
    kw["input"] = px.reshape((-1,) + px.shape[k + 1:])
    kw["target"] = pt.reshape((-1,) + pt.shape[k + 1:])
    reduction, kw["reduction"] = kw["reduction"], "none"
    loss = call(fn, (), kw).reshape(sizes + pt.shape[k:] if target.dtype.kind != "f"
                                    else sizes + (pt.shape[k],) + pt.shape[k + 2:])
    dims = tuple(range(k, loss.ndim))
    if reduction == "sum":
        loss = loss.sum(dim=dims)
    elif reduction == "mean" and target.dtype.kind == "f":
        loss = loss.mean(dim=dims)
    elif reduction == "mean":
        keep = pt != kw.get("ignore_index", -100)
        if weight is None:
            total = keep.sum(dim=dims)
        else:
            safe = pt.masked_fill(keep.logical_not(), 0)
            total = (weight[safe] * keep).sum(dim=dims)
        loss = loss.sum(dim=dims) / total
    elif x.ndim == 1:
        loss = loss.squeeze(k)
    return wrap(loss, levels)


RULES = dict.fromkeys(_ELEMENTWISE, _elementwise_loss)
RULES.update(cross_entropy=_class_loss, nll_loss=_class_loss)
# written with public ops: each op inside, the final mean or sum too, batched by its rule
RULES.update(dict.fromkeys(("margin_ranking_loss", "cosine_embedding_loss",
                            "triplet_margin_loss"), composite))
