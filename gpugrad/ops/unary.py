"""Unary math: exp, log, log1p, sqrt, sin, cos, tanh, sigmoid, relu, abs."""
from ..autograd.function import Function
from ..dtypes import default_float
from ._util import add_tangents
from .select import Where


class Exp(Function):
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a):
        return xp.exp(a)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out

    @staticmethod
    def jvp(ctx, t):
        return t * ctx.output


class Log(Function):
    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, a):
        return xp.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a

    @staticmethod
    def jvp(ctx, t):
        return t / ctx.inputs[0]


class Log1p(Function):
    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, a):
        return xp.log1p(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / (a + 1)

    @staticmethod
    def jvp(ctx, t):
        return t / (ctx.inputs[0] + 1)


class Sqrt(Function):
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a):
        return xp.sqrt(a)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g / (out * 2)

    @staticmethod
    def jvp(ctx, t):
        return t / (ctx.output * 2)


class Sin(Function):
    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, a):
        return xp.sin(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * a.cos()

    @staticmethod
    def jvp(ctx, t):
        return t * ctx.inputs[0].cos()


class Cos(Function):
    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, a):
        return xp.cos(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return -g * a.sin()

    @staticmethod
    def jvp(ctx, t):
        return -t * ctx.inputs[0].sin()


class Tanh(Function):
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a):
        return xp.tanh(a)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return TanhBackward.apply(g, out)

    @staticmethod
    def jvp(ctx, t):
        return TanhBackward.apply(t, ctx.output)


class TanhBackward(Function):
    """g * (1 - out^2) in one op: backward passes are op-count bound on small tensors."""

    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, g, out):
        return g * (1 - out * out)

    @staticmethod
    def backward(ctx, gg_):
        g, out = ctx.saved_tensors
        need_g, need_out = ctx.needs_input_grad
        return ((gg_ * (1 - out * out)) if need_g else None,
                (gg_ * g * out * -2) if need_out else None)

    @staticmethod
    def jvp(ctx, tg, tout):
        g, out = ctx.inputs
        return add_tangents(TanhBackward.apply(tg, out) if tg is not None else None,
                            tout * g * out * -2 if tout is not None else None)


class Sigmoid(Function):
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a):
        # exp(-log(1 + exp(-a))) never overflows, for either sign of a.
        return xp.exp(-xp.logaddexp(0, -a)).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return SigmoidBackward.apply(g, out)

    @staticmethod
    def jvp(ctx, t):
        return SigmoidBackward.apply(t, ctx.output)


class SigmoidBackward(Function):
    """g * out * (1 - out) in one op."""

    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, g, out):
        return g * out * (1 - out)

    @staticmethod
    def backward(ctx, gg_):
        g, out = ctx.saved_tensors
        need_g, need_out = ctx.needs_input_grad
        return ((gg_ * out * (1 - out)) if need_g else None,
                (gg_ * g * (1 - out * 2)) if need_out else None)

    @staticmethod
    def jvp(ctx, tg, tout):
        g, out = ctx.inputs
        return add_tangents(SigmoidBackward.apply(tg, out) if tg is not None else None,
                            tout * g * (1 - out * 2) if tout is not None else None)


class Relu(Function):
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a):
        return xp.maximum(a, 0)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        # out > 0 picks the subgradient 0 at a == 0, as PyTorch does.
        return Where.apply(g, g._like(g._backend.xp.zeros((), g.dtype)), cond=out.data > 0)

    @staticmethod
    def jvp(ctx, t):
        zero = t._like(t._backend.xp.zeros((), t.dtype))
        return Where.apply(t, zero, cond=ctx.output.data > 0)


class Abs(Function):
    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, a):
        return xp.abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * a.sign()  # sign(0) == 0: subgradient 0 at the kink, as in PyTorch

    @staticmethod
    def jvp(ctx, t):
        return t * ctx.inputs[0].sign()


def _floating(a):
    """Integer and bool inputs of the float-valued functions compute in float32 (PyTorch)."""
    return a if a.data.dtype.kind == "f" else a.to(dtype=default_float)


def exp(a):
    return Exp.apply(_floating(a))


def log(a):
    return Log.apply(_floating(a))


def log1p(a):
    return Log1p.apply(_floating(a))


def sqrt(a):
    return Sqrt.apply(_floating(a))


def sin(a):
    return Sin.apply(_floating(a))


def cos(a):
    return Cos.apply(_floating(a))


def tanh(a):
    return Tanh.apply(_floating(a))


def sigmoid(a):
    return Sigmoid.apply(_floating(a))


def relu(a):
    return Relu.apply(a)


def abs(a):
    return Abs.apply(a)
