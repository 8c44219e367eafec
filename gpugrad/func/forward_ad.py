"""Forward-mode AD: dual levels and dual tensors, as in ``torch.autograd.forward_ad``.

A dual tensor carries a tangent next to its value: ``t._tangent`` is None or a dict
{level: tangent Tensor}. While a level is active, every op (``Function.apply``) that sees
a tangent on an input also computes its output's tangent with the op's ``jvp`` rule, in the
same pass as the value: one forward pass gives both f(x) and J_f(x) v.

Levels nest (``jvp`` of ``jvp``, ``jvp`` of ``grad``). Each level gets a fresh id; the
active ids live in thread-local state, outermost first. A tangent at one level may carry
tangents at the levels outside it (the mixed derivatives), because ``jvp`` rules are Tensor
ops run with the outer levels still active. Ids are never reused, so a tangent left on a
tensor after its level ended is ignored.

>>> import gpugrad as gg
>>> from gpugrad.func import forward_ad as fwAD
>>> x = gg.tensor([1.0, 2.0])
>>> with fwAD.dual_level():
...     y = fwAD.make_dual(x, gg.ones(2)) ** 2
...     fwAD.unpack_dual(y).tangent.tolist()
[2.0, 4.0]
"""
import itertools
from collections import namedtuple

from ..autograd.grad_mode import state
from ..ops.shape import Reshape
from ..tensor import Tensor

UnpackedDual = namedtuple("UnpackedDual", ["primal", "tangent"])

_level_ids = itertools.count(1)  # next() is atomic under the GIL: ids are unique per process


class dual_level:
    """A forward-AD level for the ``with`` block; ``as`` gives its id.

    >>> import gpugrad as gg
    >>> with dual_level() as level:
    ...     level in gg.func.forward_ad.active_levels()
    True
    """

    def __enter__(self):
        self.level = next(_level_ids)
        state.forward_levels = state.forward_levels + (self.level,)
        return self.level

    def __exit__(self, *exc):
        state.forward_levels = tuple(lv for lv in state.forward_levels if lv != self.level)


def active_levels():
    """The ids of the active forward-AD levels, outermost first."""
    return state.forward_levels


def _innermost(level):
    if level is not None:
        return level
    if not state.forward_levels:
        raise RuntimeError("forward AD: no active level; enter `with dual_level():` first")
    return state.forward_levels[-1]


def make_dual(primal, tangent, level=None):
    """A tensor with ``primal``'s value and graph and ``tangent`` as its tangent at ``level``
    (the innermost active level by default). It shares ``primal``'s memory.

    >>> import gpugrad as gg
    >>> with dual_level():
    ...     d = make_dual(gg.tensor(3.0), gg.tensor(1.0))
    ...     unpack_dual(d * d).tangent.item()
    6.0
    """
    level = _innermost(level)
    _check_tangent(primal, tangent)
    dual = _alias(primal)
    if dual._tangent is None:
        dual._tangent = {}
    dual._tangent[level] = tangent
    return dual


def unpack_dual(tensor, level=None):
    """``(primal, tangent)`` of ``tensor`` at ``level`` (the innermost by default); the primal
    is a view without that level's tangent, the tangent None when there is none."""
    level = _innermost(level)
    return UnpackedDual(strip_level(tensor, level), tangent_at(tensor, level))


def tangent_at(tensor, level):
    """``tensor``'s tangent at ``level``, or None."""
    tangents = tensor._tangent
    return None if tangents is None else tangents.get(level)


def strip_level(tensor, level):
    """A view of ``tensor`` (same value and graph) whose tangents stop outside ``level``."""
    levels = state.forward_levels
    state.forward_levels = tuple(lv for lv in levels if lv < level)  # inner ids are larger
    try:
        return _alias(tensor)
    finally:
        state.forward_levels = levels


def _alias(t):
    # A differentiable identity: the alias keeps t's graph (outer reverse transforms see
    # through it) and t's tangents at the active levels, but is a tensor of its own.
    out = Reshape.apply(t, shape=t.shape)
    out._version = t._version_counter()
    return out


def _check_tangent(primal, tangent):
    if not isinstance(primal, Tensor) or not isinstance(tangent, Tensor):
        raise TypeError(f"forward AD: primals and tangents must be Tensors, got "
                        f"{type(primal).__name__} and {type(tangent).__name__}")
    if primal.dtype.kind != "f":
        raise TypeError(f"forward AD: only floating point tensors have tangents, got a primal "
                        f"of type {primal.dtype}")
    if tangent.shape != primal.shape:
        raise ValueError(f"forward AD: tangent of shape {tangent.shape} for a primal of shape "
                         f"{primal.shape}")
    if tangent.dtype != primal.dtype:
        raise TypeError(f"forward AD: tangent of type {tangent.dtype} for a primal of type "
                        f"{primal.dtype}")
    if tangent.device is not primal.device:
        raise ValueError(f"forward AD: tangent on {tangent.device} for a primal on "
                         f"{primal.device}")
