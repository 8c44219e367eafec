"""The batching rules of ``gg.func.vmap``: how each public op runs on batched tensors.

A rule gets the op's name, its undecorated function, the vmap levels its arguments are
batched at (ids, outermost first) and the arguments, and calls the function once on
physical tensors (``batching.py`` describes them): it aligns batch dims and ranks for
broadcasting ops, moves ``dim`` arguments past the batch dims, folds the batch into N for
convolutions, and so on. Rules may also call public ops on batched tensors (a composite,
dispatched again). The rules are grouped by op family, one module each, as the ops are;
``_common`` holds what they share. An op without a rule runs once per example
(``_common.fallback``), with a ``VmapFallbackWarning``.

>>> import gpugrad as gg
>>> gg.func.vmap(lambda x: x.cumsum(0))(gg.ones(2, 3)).tolist()
[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
"""
from . import elementwise, indexing, linalg, loss, nn, random, reduction, shape
from ._common import fallback, first_example_error
from .random import RandomnessError

__all__ = ["RULES", "RandomnessError", "run"]

RULES = {}  # op name -> rule
for _family in (elementwise, reduction, shape, indexing, linalg, nn, loss, random):
    RULES.update(_family.RULES)


def run(op, fn, levels, args, kwargs):
    """Run public op ``op`` (undecorated: ``fn``) on arguments batched at ``levels`` by
    its batching rule, or once per example when it has none.

    >>> from gpugrad.func import batching
    >>> level = batching.enter_level(2, "error")
    >>> x = batching.batched(gg.ones(2, 3), (level,))
    >>> run("sum", gg.sum.__wrapped__, (level,), (x,), {}).shape
    ()
    >>> batching.exit_level(level)
    """
    rule = RULES.get(op, fallback)
    try:
        return rule(op, fn, levels, args, kwargs)
    except (RandomnessError, NotImplementedError):
        raise
    except Exception:
        # A bad argument fails on the physical tensors, and the error would name their
        # shapes: the op's own error on one example names the shapes the function sees.
        if rule is fallback:
            raise
        logical = first_example_error(fn, levels, args, kwargs)
        if logical is None:
            raise
        raise logical from None
