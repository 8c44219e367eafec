"""The rules that serve many ops: ``dims`` (ops with dim arguments), ``trailing`` (ops on
their first tensor's last dims), ``fold`` (batch dims folded into N) and ``composite``
(ops written with public ops).

>>> import gpugrad as gg
>>> gg.func.vmap(lambda x: x.transpose(0, 1))(gg.ones(4, 2, 3)).shape
(4, 3, 2)
"""
from ...tensor import Tensor
from ..batching import _align, to_physical
from ._common import bind, call, each, fallback, is_batched, shift, wrap


def dims(*dim_names, rank_plus=0, full=False, none=None, keep=()):
    """A rule for ops whose ``dim_names`` parameters are dims of the (aligned) tensors;
    ``rank_plus`` for dims of the result (unsqueeze's), ``full`` for ops that do not
    broadcast their tensors (gather, scatter), ``none`` the logical dim meant by None,
    ``keep`` tensor parameters taken as they are (an index), which must not be batched.

    >>> gg.func.vmap(lambda x: x.cumsum(-1))(gg.ones(2, 3)).tolist()
    [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    """
    def rule(op, fn, levels, args, kwargs):
        kw, names = bind(fn, args, kwargs)
        if is_batched(*(kw.get(n) for n in keep)):
            return fallback(op, fn, levels, args, kwargs)
        rank = max((v.ndim for n, v in kw.items() if isinstance(v, Tensor) and n not in keep),
                   default=0)
        k = len(levels)
        align = to_physical if full else _align
        for n in names:
            v = kw.get(n)
            if isinstance(v, Tensor) and n not in keep:
                kw[n] = align(v, levels, rank)
        for n in dim_names:
            v = kw.get(n)
            if v is None:
                if none is None:
                    continue
                v = none(rank)
            kw[n] = shift(v, rank + rank_plus, k, n)
        return wrap(call(fn, (), kw), levels)
    return rule


def trailing(op, fn, levels, args, kwargs):
    """Ops that act on their first argument's trailing dims and take the others
    unbatched (layer_norm, embedding's weight, pad, bucketize's boundaries).

    >>> gg.func.vmap(lambda x: gg.bucketize(x, gg.tensor([0.5])))(gg.ones(2, 1)).tolist()
    [[1], [1]]
    """
    kw, names = bind(fn, args, kwargs)
    if is_batched(*(kw[n] for n in names[1:] if n in kw)):
        return fallback(op, fn, levels, args, kwargs)
    first = kw[names[0]]
    kw[names[0]] = _align(first, levels, first.ndim)
    return wrap(call(fn, (), kw), levels)


def fold(core):
    """A rule for ops on (N, C, ...) or unbatched (C, ...) inputs of ``core`` + 1 or
    ``core`` dims (convolutions, pooling, group norm): the batch dims fold into N. (With
    ``core`` 1, any input has an N.)

    >>> F = gg.nn.functional
    >>> gg.func.vmap(lambda x: F.max_pool1d(x, 2))(gg.ones(3, 2, 4)).shape
    (3, 2, 2)
    """
    def rule(op, fn, levels, args, kwargs):
        kw, names = bind(fn, args, kwargs)
        if is_batched(*(kw[n] for n in names[1:] if n in kw)):
            return fallback(op, fn, levels, args, kwargs)
        x = kw[names[0]]
        k = len(levels)
        p = _align(x, levels, x.ndim)
        lead = p.shape[:k + (x.ndim > core)]
        kw[names[0]] = p.reshape((-1,) + p.shape[len(lead):])
        out = call(fn, (), kw)
        return wrap(each(lambda o: o.reshape(lead + o.shape[1:]), out), levels)
    return rule


def unless(per_example, rule):
    """``rule``, but the per-example fallback for the calls where ``per_example(kw)`` (the
    arguments by name) holds: results whose shape or values depend on the whole batch.

    >>> F = gg.nn.functional
    >>> one_hot = unless(lambda kw: kw["num_classes"] < 0, trailing)
    >>> gg.func.vmap(lambda i: F.one_hot(i, 3))(gg.tensor([[0], [2]])).tolist()
    [[[1, 0, 0]], [[0, 0, 1]]]
    """
    def rule_or_loop(op, fn, levels, args, kwargs):
        kw, names = bind(fn, args, kwargs)
        if per_example(kw):
            return fallback(op, fn, levels, args, kwargs)
        return rule(op, fn, levels, args, kwargs)
    return rule_or_loop


def composite(op, fn, levels, args, kwargs):
    """Ops written with public ops only (kron, addmm, prelu, most losses): ``fn`` runs on
    the batched tensors themselves, and each op inside it is batched by its own rule.

    >>> gg.func.vmap(lambda x: gg.kron(x, gg.eye(2)))(gg.ones(3, 1, 1)).shape
    (3, 2, 2)
    """
    return call(fn, args, kwargs)
