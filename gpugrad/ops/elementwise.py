"""Elementwise ops: arithmetic, unary math, clamp, maximum/minimum, where."""
from ..autograd.function import Function
from ._util import add_tangents, binary, lift


class Add(Function):
    @staticmethod
    def forward(ctx, xp, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g

    @staticmethod
    def jvp(ctx, ta, tb):
        return add_tangents(ta, tb)


class Sub(Function):
    @staticmethod
    def forward(ctx, xp, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        return add_tangents(ta, -tb if tb is not None else None)


class Mul(Function):
    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, a, b):
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.inputs
        return add_tangents(ta * b if ta is not None else None,
                            a * tb if tb is not None else None)


class Div(Function):
    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, a, b):
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g / b if need_a else None), (-g * a / (b * b) if need_b else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        b = ctx.inputs[1]
        return add_tangents(ta / b if ta is not None else None,
                            -tb * ctx.output / b if tb is not None else None)


class Neg(Function):
    @staticmethod
    def forward(ctx, xp, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g

    @staticmethod
    def jvp(ctx, t):
        return -t


class PowScalar(Function):
    """``a ** p`` for a constant exponent ``p``."""

    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, a, p):
        ctx.p = p
        return a ** p

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        p = ctx.p
        if p == 2:
            return g * 2 * a
        return g * p * a ** (p - 1)

    @staticmethod
    def jvp(ctx, t):
        (a,) = ctx.inputs
        if ctx.p == 2:
            return t * 2 * a
        return t * ctx.p * a ** (ctx.p - 1)


class Pow(Function):
    saves_inputs = (0, 1)
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a, b):
        return a ** b

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = g * b * a ** (b - 1) if need_a else None
        gb = None
        if need_b:
            # d(a^b)/db = a^b log a; PyTorch's convention takes 0 where a == 0.
            log_a = masked_fill(a, a == 0, 1).log()
            gb = g * out * log_a
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.inputs
        da = ta * b * a ** (b - 1) if ta is not None else None
        db = None
        if tb is not None:
            db = tb * ctx.output * masked_fill(a, a == 0, 1).log()  # 0 at a == 0, as backward
        return add_tangents(da, db)


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


class Clamp(Function):
    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, a, lo, hi):
        ctx.lo, ctx.hi = lo, hi
        return xp.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * _clamp_inside(ctx, a)

    @staticmethod
    def jvp(ctx, t):
        return t * _clamp_inside(ctx, ctx.inputs[0])


def _clamp_inside(ctx, a):
    """Where the derivative of clamp is 1: lo <= a <= hi (bounds included, as in PyTorch)."""
    inside = a.data >= ctx.lo if ctx.lo is not None else True
    if ctx.hi is not None:
        inside = inside & (a.data <= ctx.hi)
    return a._like(inside)


class Maximum(Function):
    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, a, b):
        return xp.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        return _split_by_winner(ctx, g, ctx.saved_tensors)

    @staticmethod
    def jvp(ctx, ta, tb):
        return _tangent_by_winner(ctx.inputs, ta, tb)


class Minimum(Function):
    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, a, b):
        return xp.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _split_by_winner(ctx, g, (b, a))

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.inputs
        return _tangent_by_winner((b, a), ta, tb)


def _split_by_winner(ctx, g, pair):
    """Gradient of max(a, b): to the larger input; ties split it half and half (PyTorch)."""
    a, b = pair
    wins = (a.data > b.data) + 0.5 * (a.data == b.data)
    share = a._like(wins.astype(g.dtype, copy=False))
    need_a, need_b = ctx.needs_input_grad
    return (g * share if need_a else None), (g * (1 - share) if need_b else None)


def _tangent_by_winner(pair, ta, tb):
    """Tangent of max(a, b) from the tangents of a and b: the larger input's, the mean of
    the two at ties, matching how backward splits the gradient. ``pair`` is (a, b) for max,
    (b, a) for min."""
    a, b = pair
    wins = (a.data > b.data) + 0.5 * (a.data == b.data)
    dtype = (ta if ta is not None else tb).dtype
    share = a._like(wins.astype(dtype, copy=False))
    return add_tangents(ta * share if ta is not None else None,
                        tb * (1 - share) if tb is not None else None)


class Where(Function):
    @staticmethod
    def forward(ctx, xp, a, b, cond):
        ctx.cond = cond
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        zero = g._like(g._backend.xp.zeros((), dtype=g.dtype))
        need_a, need_b = ctx.needs_input_grad
        ga = Where.apply(g, zero, cond=ctx.cond) if need_a else None
        gb = Where.apply(zero, g, cond=ctx.cond) if need_b else None
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        out = ctx.output
        zero = out._like(out._backend.xp.zeros((), dtype=out.dtype))
        return Where.apply(ta if ta is not None else zero, tb if tb is not None else zero,
                           cond=ctx.cond)


def add(a, b):
    """``a + b`` with broadcasting.

    >>> import gpugrad as gg
    >>> gg.add(gg.tensor([1.0, 2.0]), 1).tolist()
    [2.0, 3.0]
    """
    return binary(Add, a, b)


def sub(a, b):
    return binary(Sub, a, b)


def mul(a, b):
    return binary(Mul, a, b)


def div(a, b):
    return binary(Div, a, b)


def neg(a):
    return Neg.apply(a)


def pow(a, b):
    """``a ** b``; a Python-number exponent uses the cheaper constant-exponent op."""
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        return PowScalar.apply(a, p=b)
    return binary(Pow, a, b)


def exp(a):
    return Exp.apply(a)


def log(a):
    return Log.apply(a)


def log1p(a):
    return Log1p.apply(a)


def sqrt(a):
    return Sqrt.apply(a)


def sin(a):
    return Sin.apply(a)


def cos(a):
    return Cos.apply(a)


def tanh(a):
    return Tanh.apply(a)


def sigmoid(a):
    return Sigmoid.apply(a)


def relu(a):
    return Relu.apply(a)


def abs(a):
    return Abs.apply(a)


def clamp(a, min=None, max=None):
    """Clip values to ``[min, max]`` (either bound may be None)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return Clamp.apply(a, lo=min, hi=max)


def maximum(a, b):
    return binary(Maximum, a, b)


def minimum(a, b):
    return binary(Minimum, a, b)


def where(cond, a, b):
    """``a`` where ``cond`` holds, else ``b`` (``cond`` is a bool tensor; no gradient)."""
    from ..tensor import Tensor
    like = a if isinstance(a, Tensor) else b
    a, b = lift(a, like), lift(b, like)
    cond_data = cond.data if isinstance(cond, Tensor) else like._backend.xp.asarray(cond)
    return Where.apply(a, b, cond=cond_data)


def masked_fill(a, mask, value):
    """``a`` with ``value`` where ``mask`` is True."""
    return where(mask, lift(value, a), a)
