"""Batching rules of the random ops (dropout, bernoulli, normal, multinomial): they follow
the ``randomness`` of the vmap levels they are batched at.

>>> import gpugrad as gg
>>> F = gg.nn.functional
>>> out = gg.func.vmap(lambda x: F.dropout(x, 0.5), randomness="same")(gg.ones(2, 8))
>>> bool((out[0] == out[1]).all())
True
"""
from ..batching import _align, _modes, batch_sizes, batched
from ._common import bind, fallback, functional
from ._generic import dims, fold
from .elementwise import pointwise


class RandomnessError(RuntimeError):
    """A random op inside ``vmap(..., randomness="error")`` (the default).

    >>> try:
    ...     gg.func.vmap(lambda x: gg.bernoulli(x))(gg.ones(2, 2))
    ... except RandomnessError as err:
    ...     print(type(err).__name__)
    RandomnessError
    """


def randomness(inner):
    """The rule of a random op that does ``inner`` on its physical tensors: 'error' raises,
    'different' draws independently per example (the physical op already does), 'same'
    shares the draw along those levels (dropout: one mask).

    >>> gg.func.vmap(gg.bernoulli, randomness="different")(gg.ones(2, 3)).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    def rule(op, fn, levels, args, kwargs):
        kw, names = bind(fn, args, kwargs)
        if op.startswith("dropout") and (not kw.get("training", True) or kw.get("p") == 0):
            return inner(op, fn, levels, args, kwargs)
        modes = [_modes[lv] for lv in levels]
        if "error" in modes:
            raise RandomnessError("vmap: called random operation while in randomness error "
                                  "mode. Please either use the 'same' or 'different' "
                                  "randomness flags on vmap or perform the randomness "
                                  "operation out of vmap")
        if "same" not in modes:
            return inner(op, fn, levels, args, kwargs)
        if not op.startswith("dropout"):
            raise NotImplementedError(f"vmap: randomness='same' is not supported for {op}")
        x = kw[names[0]]
        different = tuple(lv for lv, m in zip(levels, modes) if m == "different")
        p = _align(x, levels, x.ndim)
        ones = p.new_ones(batch_sizes(different) + x.shape)
        mask = getattr(functional(), op)(batched(ones, different), kw.get("p", 0.5), True)
        return x * mask
    return rule


RULES = {
    "dropout": randomness(pointwise), "dropout2d": randomness(fold(3)),
    "bernoulli": randomness(pointwise), "normal": randomness(pointwise),
    "multinomial": randomness(fallback), "gumbel_softmax": randomness(dims("dim")),
}
