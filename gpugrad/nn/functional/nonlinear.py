"""More activations: silu, elu, selu, celu, softplus, logsigmoid, mish, hardtanh, relu6,
hardswish, hardsigmoid, prelu, softsign, tanhshrink, glu, and gumbel_softmax.

Three are fused ops, each for a reason: ``Softplus`` and ``LogSigmoid`` use
``logaddexp(0, z)``, which neither overflows for large z nor loses digits for very negative
z, and ``Hardtanh`` has PyTorch's gradient 0 at the bounds themselves (``clamp`` passes it
there). The rest are compositions of Tensor ops, so they get double backward and forward
mode for free. PyTorch's kinks are kept: the ELU family takes the exponential branch at 0,
hardswish the outer ones at -3 and 3.
"""
import math
import numbers

from ...autograd.function import Function
from ...creation import rand_like, zeros_like
from ...ops import elementwise as ew
from ...ops._util import norm_dim
from ...ops.errors import DTypeError, ShapeError, check_floating, public_op
from .activation import softmax

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""

    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, x, beta, threshold):
        ctx.beta, ctx.threshold = beta, threshold
        z = x * beta
        return xp.where(z > threshold, x, xp.logaddexp(0, z) / beta).astype(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return _softplus_slope(ctx, x) * g

    @staticmethod
    def jvp(ctx, t):
        return _softplus_slope(ctx, ctx.inputs[0]) * t


def _softplus_slope(ctx, x):
    """sigmoid(beta x), or 1 above the threshold (the branch forward took)."""
    z = x * ctx.beta
    return ew.where(z > ctx.threshold, 1.0, z.sigmoid())


class LogSigmoid(Function):
    """log(sigmoid(x)) = -log(1 + exp(-x)); its slope is sigmoid(-x)."""

    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, x):
        return -xp.logaddexp(0, -x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (-x).sigmoid()

    @staticmethod
    def jvp(ctx, t):
        return t * (-ctx.inputs[0]).sigmoid()


class Hardtanh(Function):
    """x clipped to [lo, hi]; slope 1 strictly inside, 0 at and beyond the bounds."""

    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, x, lo, hi):
        ctx.lo, ctx.hi = lo, hi
        return xp.clip(x, lo, hi).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return ew.where(_inside(ctx, x), g, 0.0)

    @staticmethod
    def jvp(ctx, t):
        return ew.where(_inside(ctx, ctx.inputs[0]), t, 0.0)


def _inside(ctx, x):
    return (x > ctx.lo) & (x < ctx.hi)


def _number(name, what, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}(): argument '{what}' must be a number, not "
                        f"{type(value).__name__}")
    return float(value)


def _negative_part(input, scale, alpha):
    """alpha * (exp(x * scale) - 1) where x <= 0, x elsewhere: the ELU family.

    The exponential sees min(x, 0), so a large x never makes inf (whose zero gradient
    would be nan); ``where`` keeps the slope of the exponential branch at x = 0, as PyTorch.
    """
    positive = input > 0
    safe = ew.where(positive, 0.0, input)
    return ew.where(positive, input, (safe * scale).expm1() * alpha)


@public_op
def silu(input, inplace=False):
    """x * sigmoid(x), also called swish.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.silu(gg.tensor([0.0, 100.0])).tolist()
    [0.0, 100.0]
    """
    check_floating("silu", input)
    return input * input.sigmoid()


@public_op
def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, else alpha * (exp(x) - 1).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.elu(gg.tensor([-1000.0, 2.0])).tolist()
    [-1.0, 2.0]
    """
    check_floating("elu", input)
    return _negative_part(input, 1.0, _number("elu", "alpha", alpha))


@public_op
def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> round(F.selu(gg.tensor([1.0])).item(), 4)
    1.0507
    """
    check_floating("selu", input)
    return _negative_part(input, 1.0, _SELU_ALPHA) * _SELU_SCALE


@public_op
def celu(input, alpha=1.0, inplace=False):
    """x for x > 0, else alpha * (exp(x / alpha) - 1); alpha must not be 0.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.celu(gg.tensor([-1000.0, 3.0]), alpha=2.0).tolist()
    [-2.0, 3.0]
    """
    check_floating("celu", input)
    alpha = _number("celu", "alpha", alpha)
    if alpha == 0:
        raise RuntimeError("celu: ZeroDivisionError: alpha cannot be 0 for CELU")
    return _negative_part(input, 1.0 / alpha, alpha)


@public_op
def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, or x where beta x > threshold; never overflows.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> [round(v, 4) for v in F.softplus(gg.tensor([0.0, 1000.0])).tolist()]
    [0.6931, 1000.0]
    """
    check_floating("softplus", input)
    beta = _number("softplus", "beta", beta)
    threshold = _number("softplus", "threshold", threshold)
    return Softplus.apply(input, beta=beta, threshold=threshold)


@public_op
def logsigmoid(input):
    """log(sigmoid(x)), finite at any x (``F.logsigmoid``, as PyTorch spells it).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.logsigmoid(gg.tensor([-1000.0, 1000.0])).tolist()
    [-1000.0, -0.0]
    """
    check_floating("logsigmoid", input)
    return LogSigmoid.apply(input)


@public_op
def mish(input, inplace=False):
    """x * tanh(softplus(x)).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.mish(gg.tensor([0.0, 1000.0])).tolist()
    [0.0, 1000.0]
    """
    check_floating("mish", input)
    return input * Softplus.apply(input, beta=1.0, threshold=math.inf).tanh()


@public_op
def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clipped to [min_val, max_val]; the gradient is 0 at the bounds, as in PyTorch.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.hardtanh(gg.tensor([-3.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 1.0]
    """
    min_val = _number("hardtanh", "min_val", min_val)
    max_val = _number("hardtanh", "max_val", max_val)
    if min_val > max_val:
        raise ValueError("hardtanh: min_val cannot be greater than max_val")
    if input.dtype.kind not in "fiu":
        raise DTypeError(f"hardtanh: expected a numeric tensor, got {input.dtype}")
    if input.dtype.kind != "f":
        # Integer inputs stay integers, as PyTorch's; bounds round toward the inside.
        min_val, max_val = math.ceil(min_val), math.floor(max_val)
    return Hardtanh.apply(input, lo=min_val, hi=max_val)


@public_op
def relu6(input, inplace=False):
    """min(max(x, 0), 6), i.e. ``hardtanh(x, 0, 6)`` (gradient 0 at 0 and 6).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.relu6(gg.tensor([-1.0, 3.0, 9.0])).tolist()
    [0.0, 3.0, 6.0]
    """
    return hardtanh(input, 0.0, 6.0)


@public_op
def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6, with PyTorch's slopes 0 at x = -3 and 1 at x = 3.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.hardswish(gg.tensor([-4.0, 0.0, 4.0])).tolist()
    [0.0, 0.0, 4.0]
    """
    check_floating("hardswish", input)
    middle = input * (input + 3.0) * (1.0 / 6.0)
    return ew.where(input <= -3.0, 0.0, ew.where(input < 3.0, middle, input))


@public_op
def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between (gradient 0 at +-3).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.hardsigmoid(gg.tensor([-4.0, 0.0, 4.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    check_floating("hardsigmoid", input)
    return Hardtanh.apply(input + 3.0, lo=0.0, hi=6.0) * (1.0 / 6.0)


@public_op
def prelu(input, weight):
    """x for x > 0, else weight * x, with one weight or one per channel (dim 1).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.prelu(gg.tensor([-2.0, 3.0]), gg.tensor([0.25])).tolist()
    [-0.5, 3.0]
    """
    check_floating("prelu", input)
    check_floating("prelu", weight)
    channels = input.shape[1] if input.ndim >= 2 else 1
    if weight.numel() != 1 and weight.numel() != channels:
        raise ShapeError(f"prelu: Mismatch of parameter numbers and input channel size. Found "
                         f"parameter numbers = {weight.numel()} and channel size = {channels}.")
    if weight.numel() == 1:
        slope = weight.reshape(())
    else:
        slope = weight.reshape((channels,) + (1,) * (input.ndim - 2))
    return ew.where(input > 0, input, input * slope)


@public_op
def softsign(input):
    """x / (1 + |x|).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.softsign(gg.tensor([-3.0, 1.0])).tolist()
    [-0.75, 0.5]
    """
    check_floating("softsign", input)
    return input / (input.abs() + 1.0)


@public_op
def tanhshrink(input):
    """x - tanh(x).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.tanhshrink(gg.tensor([0.0])).tolist()
    [0.0]
    """
    check_floating("tanhshrink", input)
    return input - input.tanh()


@public_op
def glu(input, dim=-1):
    """a * sigmoid(b), where a and b are the two halves of ``input`` along ``dim``.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.glu(gg.tensor([[2.0, 0.0]])).tolist()
    [[1.0]]
    """
    check_floating("glu", input)
    if input.ndim == 0:
        raise ShapeError("glu: glu does not support scalars because halving size must be even")
    axis = norm_dim(dim, input.ndim)
    if input.shape[axis] % 2:
        raise ShapeError(f"glu: Halving dimension must be even, but dimension {axis} is size "
                         f"{input.shape[axis]}")
    a, b = input.chunk(2, axis)
    return a * b.sigmoid()


@public_op
def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """Softmax of (logits + Gumbel noise) / tau along ``dim``; with ``hard``, the one-hot
    of its argmax in the forward pass and the soft sample's gradient (straight-through).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> y = F.gumbel_softmax(gg.zeros(2, 3), hard=True)
    >>> y.sum(1).tolist(), sorted(set(y.flatten().tolist()))
    ([1.0, 1.0], [0.0, 1.0])
    """
    check_floating("gumbel_softmax", logits)
    tau = _number("gumbel_softmax", "tau", tau)
    axis = norm_dim(dim, logits.ndim)
    # -log(E) with E ~ Exp(1) is Gumbel(0, 1); E = -log(U), U in (0, 1] so E is finite.
    uniform = 1.0 - rand_like(logits)
    gumbels = -(-uniform.log()).log()
    y_soft = softmax((logits + gumbels) / tau, dim=axis)
    if not hard:
        return y_soft
    index = y_soft.argmax(axis, keepdim=True)
    y_hard = zeros_like(logits).scatter(axis, index, value=1.0)
    return y_hard - y_soft.detach() + y_soft


__all__ = ["celu", "elu", "glu", "gumbel_softmax", "hardsigmoid", "hardswish", "hardtanh",
           "logsigmoid", "mish", "prelu", "relu6", "selu", "silu", "softplus", "softsign",
           "tanhshrink"]
