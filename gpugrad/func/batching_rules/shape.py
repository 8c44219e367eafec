"""Batching rules of the shape, view, join and rearrange ops: the batch dims stay in
front, and shapes and dims given for the logical tensor are extended by them.

>>> import gpugrad as gg
>>> gg.func.vmap(lambda x: x.reshape(2, 2).t())(gg.ones(3, 4)).shape
(3, 2, 2)
"""
from ..batching import _align, to_physical
from ._common import bind, call, is_batched, shift, wrap
from ._generic import composite, dims, unless


def _reshape(op, fn, levels, args, kwargs):
    kw, names = bind(fn, args, kwargs)
    p = _align(kw[names[0]], levels, kw[names[0]].ndim)
    return wrap(p.reshape(p.shape[:len(levels)] + _sizes_arg(kw[names[1]])), levels)


def _expand(op, fn, levels, args, kwargs):
    kw, names = bind(fn, args, kwargs)
    shape = _sizes_arg(kw[names[1]])
    p = _align(kw[names[0]], levels, len(shape))
    return wrap(p.expand(p.shape[:len(levels)] + shape), levels)


def _sizes_arg(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


def _permute(op, fn, levels, args, kwargs):
    kw, names = bind(fn, args, kwargs)
    x = kw[names[0]]
    k = len(levels)
    order = shift(tuple(kw[names[1]]), x.ndim, k)
    return wrap(_align(x, levels, x.ndim).permute(tuple(range(k)) + order), levels)


def _t(op, fn, levels, args, kwargs):
    x = args[0] if args else kwargs["input"]
    if x.ndim < 2:
        return x
    k = len(levels)
    return wrap(_align(x, levels, x.ndim).transpose(k, k + 1), levels)


def _squeeze(op, fn, levels, args, kwargs):
    kw, names = bind(fn, args, kwargs)
    x = kw[names[0]]
    if kw.get("dim") is None:  # every logical dim of size 1, and no batch dim
        kw["dim"] = tuple(i for i, s in enumerate(x.shape) if s == 1)
    return _DIM(op, fn, levels, (), kw)


def _join(op, fn, levels, args, kwargs):
    """cat and stack: every tensor expanded to the full batch, ``dim`` shifted."""
    kw, names = bind(fn, args, kwargs)
    tensors = list(kw[names[0]])
    rank = tensors[0].ndim
    kw[names[0]] = [to_physical(t, levels) for t in tensors]
    kw["dim"] = shift(kw.get("dim", 0), rank + (op == "stack"), len(levels))
    return wrap(call(fn, (), kw), levels)


def _roll(op, fn, levels, args, kwargs):
    kw, names = bind(fn, args, kwargs)
    x = kw[names[0]]
    if kw.get("dims") is None:  # roll the flattened tensor
        return x.flatten().roll(kw["shifts"], 0).reshape(x.shape)
    return dims("dims")(op, fn, levels, (), kw)


def _repeat(op, fn, levels, args, kwargs):
    kw, names = bind(fn, args, kwargs)
    x, sizes = kw[names[0]], tuple(kw[names[1]])
    if len(sizes) < x.ndim:  # tile pads its dims in front
        sizes = (1,) * (x.ndim - len(sizes)) + sizes
    p = _align(x, levels, len(sizes))
    return wrap(p.repeat((1,) * len(levels) + sizes), levels)


_DIM = dims("dim")
RULES = dict.fromkeys(("narrow", "unbind", "split", "chunk", "unflatten"), _DIM)
RULES.update({
    "reshape": _reshape, "view": _reshape, "expand": _expand, "broadcast_to": _expand,
    "permute": _permute, "t": _t, "squeeze": _squeeze, "unsqueeze": dims("dim", rank_plus=1),
    "flatten": dims("start_dim", "end_dim"), "transpose": dims("dim0", "dim1"),
    "movedim": dims("source", "destination"), "flip": dims("dims"),
    "cat": _join, "stack": _join, "hstack": composite, "vstack": composite,
    "roll": _roll, "repeat": _repeat, "tile": _repeat,
    # counts known for the whole batch (an int, an unbatched tensor) make one index along
    # dim; counts that differ per example (or are the input) make shapes that differ
    "repeat_interleave": unless(lambda kw: kw["repeats"] is None or is_batched(kw["repeats"]),
                                composite),
})
