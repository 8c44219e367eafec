"""Pointwise ops of PyTorch's ``torch.*`` namespace that the elementwise families lack:
lerp (a three-input blend) and nan_to_num (replacing non-finite values), plus the
``torch.softmax``/``torch.log_softmax`` names, which delegate to ``nn.functional``."""
import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from ._util import add_tangents, lift
from .errors import DTypeError, public_op
from .select import Where


class Lerp(Function):
    saves_inputs = (0, 1, 2)

    @staticmethod
    def forward(ctx, xp, a, b, w):
        # PyTorch's two-sided formula: exact at w == 0 and w == 1, and monotone in w.
        diff = b - a
        return xp.where(xp.abs(w) < 0.5, a + w * diff, b - diff * (1 - w))

    @staticmethod
    def backward(ctx, g):
        a, b, w = ctx.saved_tensors
        need_a, need_b, need_w = ctx.needs_input_grad
        return (g * (1 - w) if need_a else None, g * w if need_b else None,
                g * (b - a) if need_w else None)

    @staticmethod
    def jvp(ctx, ta, tb, tw):
        a, b, w = ctx.inputs
        return add_tangents(ta * (1 - w) if ta is not None else None,
                            tb * w if tb is not None else None,
                            tw * (b - a) if tw is not None else None)


@public_op
def lerp(input, end, weight):
    """``input + weight * (end - input)``, broadcast; ``weight`` is a number or a tensor of
    the same floating dtype, as are ``input`` and ``end``.

    >>> gg.lerp(gg.tensor([1.0, 2.0]), gg.tensor([3.0, 6.0]), 0.5)
    tensor([2., 4.])
    """
    if not isinstance(end, Tensor):
        raise TypeError(f"lerp(): argument 'end' must be a Tensor, not {type(end).__name__}")
    if input.dtype.kind != "f":
        raise DTypeError(f"lerp: expected a floating point input, got {input.dtype}")
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.dtype != input.dtype:
            raise DTypeError(f"lerp: expected dtype {input.dtype} for `{name}` but got dtype "
                             f"{t.dtype}")
    if not isinstance(weight, Tensor):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise TypeError(f"lerp(): argument 'weight' must be a Tensor or a number, not "
                            f"{type(weight).__name__}")
        weight = lift(float(weight), input, "lerp")
    return Lerp.apply(input, end, weight)


@public_op
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """``input`` with NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf``
    (by default 0 and the dtype's largest and smallest finite values); the gradient is 0 at
    the replaced elements. Integer and bool tensors come back unchanged (a copy).

    >>> gg.nan_to_num(gg.tensor([float("nan"), float("inf"), 1.0]), posinf=9.0)
    tensor([0., 9., 1.])
    """
    if input.dtype.kind != "f":
        return input.clone()
    xp = input._backend.xp
    data = input._data
    info = np.finfo(data.dtype)
    nan = 0.0 if nan is None else nan
    high = info.max if posinf is None else posinf
    low = info.min if neginf is None else neginf
    with np.errstate(over="ignore"):  # a replacement beyond the dtype's range becomes inf
        values = xp.where(xp.isnan(data), nan, xp.where(data > 0, high, low)).astype(data.dtype)
    return Where.apply(input, input._like(values), cond=xp.isfinite(data))


@public_op
def softmax(input, dim, dtype=None):
    """``torch.softmax``: ``gg.nn.functional.softmax`` with ``dim`` required.

    >>> gg.softmax(gg.tensor([0.0, 0.0]), 0)
    tensor([0.5, 0.5])
    """
    from ..nn import functional as F
    return F.softmax(input, dim, dtype)


@public_op
def log_softmax(input, dim, dtype=None):
    """``torch.log_softmax``: ``gg.nn.functional.log_softmax`` with ``dim`` required.

    >>> gg.log_softmax(gg.tensor([0.0, 0.0]), 0).exp()
    tensor([0.5, 0.5])
    """
    from ..nn import functional as F
    return F.log_softmax(input, dim, dtype)
