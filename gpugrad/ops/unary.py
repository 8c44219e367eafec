"""Unary math: exp, exp2, expm1, log, log2, log10, log1p, sqrt, rsqrt, reciprocal, erf,
sin, cos, tanh, sigmoid, relu, abs, and the roundings floor, ceil, round, trunc."""
import math

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..dtypes import get_default_dtype
from ._util import add_tangents
from .arithmetic import pow
from .select import Where
from .errors import public_op
from ..threads import parallel_loops


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
    def backward_arrays(ctx, xp, g):
        (out,) = ctx.saved_arrays()
        if g.dtype is not out.dtype:
            return NotImplemented  # backward's Tensor ops promote first
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
    def backward_arrays(ctx, xp, g):
        (a,) = ctx.saved_arrays()
        if g.dtype is not a.dtype:
            return NotImplemented  # backward's Tensor ops promote first
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
    def backward_arrays(ctx, xp, g):
        (out,) = ctx.saved_arrays()
        if g.dtype is not out.dtype:
            return NotImplemented  # backward's Tensor ops promote first
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
    def backward_arrays(ctx, xp, g):
        (out,) = ctx.saved_arrays()
        return TanhBackward.forward(None, xp, g, out)

    @staticmethod
    def jvp(ctx, t):
        return TanhBackward.apply(t, ctx.output)


class TanhBackward(Function):
    """g * (1 - out^2) in one op: backward passes are op-count bound on small tensors."""

    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, g, out):
        return g * (_one(xp, out) - out * out)

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


def _one(xp, x):
    """1 for ``1 - x``: on the CPU a cached 0-d array of ``x``'s dtype, as NumPy converts a
    Python 1 at every call, which costs as much as the subtraction itself on small arrays
    (the bits are the same)."""
    return _ONES.get(x.dtype, 1) if xp is np else 1


_ONES = {np.dtype(t): np.ones((), t) for t in (np.float16, np.float32, np.float64)}
for _array in _ONES.values():
    _array.flags.writeable = False


class Sigmoid(Function):
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a):
        # e = exp(-|a|) lies in (0, 1], so nothing overflows for either sign: 1 / (1 + e)
        # for a >= 0, e / (1 + e) below. Five times faster than exp(-logaddexp(0, -a)) in
        # float32, and as exact; float16 is computed in float32, as rounding e hurts there.
        # Worked in place: two temporaries, not six (1.8x faster on a (32, 512) float32).
        x = a.astype(xp.float32) if a.dtype == xp.float16 else a
        e = xp.empty_like(x)  # an array even for 0-d input (abs would give a scalar)
        xp.abs(x, out=e)
        xp.negative(e, out=e)
        xp.exp(e, out=e)
        out = xp.where(x >= 0, 1.0, e)
        out /= e + 1
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return SigmoidBackward.apply(g, out)

    @staticmethod
    def backward_arrays(ctx, xp, g):
        (out,) = ctx.saved_arrays()
        return SigmoidBackward.forward(None, xp, g, out)

    @staticmethod
    def jvp(ctx, t):
        return SigmoidBackward.apply(t, ctx.output)


class SigmoidBackward(Function):
    """g * out * (1 - out) in one op."""

    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, g, out):
        return g * out * (_one(xp, out) - out)

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
        if parallel_loops(xp, a):  # NumPy's maximum runs on one thread
            out = np.empty_like(a)
            _relu_kernels().relu(a.reshape(-1), out.reshape(-1))
            return out
        return xp.maximum(a, 0)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        if _cpu_fast_path(g):
            return g._like(_relu_grad(g._data, out._data))
        # out > 0 picks the subgradient 0 at a == 0, as PyTorch does.
        return Where.apply(g, g._like(g._backend.xp.zeros((), g.dtype)), cond=out._data > 0)

    @staticmethod
    def jvp(ctx, t):
        zero = t._like(t._backend.xp.zeros((), t.dtype))
        return Where.apply(t, zero, cond=ctx.output._data > 0)


def _cpu_fast_path(g):
    """Relu's backward on the CPU, not differentiated again."""
    return g._data.__class__ is np.ndarray and not state.grad_enabled and not state.forward_levels


def _relu_grad(g, out):
    """``where(out > 0, g, 0)``. NumPy's ``where`` runs about 10x slower than a multiply by
    the mask on a random mask (branchy inner loop), and the multiply is exact unless ``g``
    holds inf or NaN, whose product with 0 is NaN: checked first, ``where`` then. Large
    float arrays take a Numba loop over the threads instead (the same values, and +0.0
    where ``g * mask`` gives -0.0)."""
    if parallel_loops(np, g, out):
        grad = np.empty_like(g)
        _relu_kernels().relu_backward(g.reshape(-1), out.reshape(-1), grad.reshape(-1))
        return grad
    mask = out > 0
    if np.isfinite(g).all():
        return g * mask
    return np.where(mask, g, g.dtype.type(0))


def _relu_kernels():
    from ..kernels import _cpu_relu  # imports Numba: on first use only
    return _cpu_relu


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


class Exp2(Function):
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a):
        return xp.exp2(a)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * math.log(2.0)

    @staticmethod
    def jvp(ctx, t):
        return t * ctx.output * math.log(2.0)


class Expm1(Function):
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a):
        return xp.expm1(a)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (out + 1)

    @staticmethod
    def jvp(ctx, t):
        return t * (ctx.output + 1)


class Log2(Function):
    saves_inputs = (0,)
    base = 2.0

    @staticmethod
    def forward(ctx, xp, a):
        return xp.log2(a) if ctx.base == 2.0 else xp.log10(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / (a * math.log(ctx.base))

    @staticmethod
    def jvp(ctx, t):
        return t / (ctx.inputs[0] * math.log(ctx.base))


class Log10(Log2):
    base = 10.0


class Rsqrt(Function):
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a):
        return 1 / xp.sqrt(a)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * out * out * -0.5

    @staticmethod
    def jvp(ctx, t):
        out = ctx.output
        return t * out * out * out * -0.5


class Reciprocal(Function):
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a):
        return 1 / a

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return -g * out * out

    @staticmethod
    def jvp(ctx, t):
        return -t * ctx.output * ctx.output


class Erf(Function):
    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, a):
        return erf_array(xp, a).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * _erf_slope(a)

    @staticmethod
    def jvp(ctx, t):
        return t * _erf_slope(ctx.inputs[0])


def _erf_slope(a):
    return (a * a * -1.0).exp() * (2.0 / math.sqrt(math.pi))


_erf_ufunc = None


def erf_array(xp, x):
    """erf on the array backend: NumPy has none, so the CPU uses a Numba ufunc over math.erf
    (compiled on first use) and CuPy its own special function. float16 computes in float32."""
    global _erf_ufunc
    if xp is not np:
        from cupyx.scipy.special import erf
        return erf(x)
    if _erf_ufunc is None:
        import numba

        @numba.vectorize(["float32(float32)", "float64(float64)"], cache=False)
        def erf_ufunc(v):
            return math.erf(v)
        _erf_ufunc = erf_ufunc
    return _erf_ufunc(x.astype(np.float32) if x.dtype == np.float16 else x)


class Floor(Function):
    """A rounding: piecewise constant, so its gradient is zero (PyTorch's convention)."""

    rounding = "floor"

    @staticmethod
    def forward(ctx, xp, a, decimals=0):
        if decimals:
            return xp.round(a, decimals)
        return getattr(xp, ctx.rounding)(a)

    @staticmethod
    def backward(ctx, g):
        return g._like(g._backend.xp.zeros_like(g._data))

    @staticmethod
    def jvp(ctx, t):
        return t._like(t._backend.xp.zeros_like(t._data))


class Ceil(Floor):
    rounding = "ceil"


class Trunc(Floor):
    rounding = "trunc"


class Round(Floor):
    rounding = "round"  # half to even, as PyTorch


def _floating(a):
    """Integer and bool inputs of the float-valued functions compute in float32 (PyTorch)."""
    if a._data.dtype.kind == "f":  # the array's dtype first: Tensor.dtype costs more
        return a
    return a if a.dtype.kind == "f" else a.to(dtype=get_default_dtype())  # bfloat16 too


@public_op
def exp(a):
    """``e ** a`` elementwise (integers compute in float32).

    >>> gg.exp(gg.tensor([0.0, 1.0]))
    tensor([1.      , 2.718282])
    """
    return Exp.apply(_floating(a))


@public_op
def log(a):
    """The natural logarithm.

    >>> gg.log(gg.tensor([1.0, 100.0])).round(decimals=4)
    tensor([0.    , 4.6052])
    """
    return Log.apply(_floating(a))


@public_op
def log1p(a):
    """``log(1 + a)``, accurate where ``a`` is tiny.

    >>> gg.log1p(gg.tensor([1e-10], dtype=gg.float64)).item()
    9.999999999500001e-11
    """
    return Log1p.apply(_floating(a))


@public_op
def sqrt(a):
    """The square root.

    >>> gg.sqrt(gg.tensor([4.0, 2.25]))
    tensor([2. , 1.5])
    """
    return Sqrt.apply(_floating(a))


@public_op
def sin(a):
    """The sine (radians).

    >>> gg.sin(gg.tensor([0.0, 3.14159265 / 2]))
    tensor([0., 1.])
    """
    return Sin.apply(_floating(a))


@public_op
def cos(a):
    """The cosine (radians).

    >>> gg.cos(gg.tensor([0.0]))
    tensor([1.])
    """
    return Cos.apply(_floating(a))


@public_op
def tanh(a):
    """The hyperbolic tangent.

    >>> gg.tanh(gg.tensor([0.0, 1000.0, -1000.0]))
    tensor([ 0.,  1., -1.])
    """
    return Tanh.apply(_floating(a))


@public_op
def sigmoid(a):
    """The logistic function ``1 / (1 + exp(-a))``, without overflow at large ``|a|``.

    >>> gg.sigmoid(gg.tensor([0.0, 1000.0, -1000.0]))
    tensor([0.5, 1. , 0. ])
    """
    return Sigmoid.apply(_floating(a))


@public_op
def relu(a):
    """``max(a, 0)``; the gradient at 0 is 0, as in PyTorch.

    >>> x = gg.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    >>> gg.relu(x).sum().backward()
    >>> x.grad
    tensor([0., 0., 1.])
    """
    return Relu.apply(a)


@public_op
def abs(a):
    """The absolute value; the gradient at 0 is 0, as in PyTorch.

    >>> gg.abs(gg.tensor([-2, 3]))
    tensor([2, 3])
    """
    return Abs.apply(a)


@public_op
def exp2(a):
    """``2 ** a`` elementwise.

    >>> gg.exp2(gg.tensor([0.0, 3.0]))
    tensor([1., 8.])
    """
    return Exp2.apply(_floating(a))


@public_op
def expm1(a):
    """``exp(a) - 1``, accurate where ``a`` is tiny.

    >>> gg.expm1(gg.tensor([1e-10], dtype=gg.float64)).item()
    1.00000000005e-10
    """
    return Expm1.apply(_floating(a))


@public_op
def log2(a):
    """The base-2 logarithm.

    >>> gg.log2(gg.tensor([1.0, 1024.0]))
    tensor([ 0., 10.])
    """
    return Log2.apply(_floating(a))


@public_op
def log10(a):
    """The base-10 logarithm.

    >>> gg.log10(gg.tensor([1.0, 0.01], dtype=gg.float64))
    tensor([ 0., -2.], dtype=gpugrad.float64)
    """
    return Log10.apply(_floating(a))


@public_op
def rsqrt(a):
    """``1 / sqrt(a)``.

    >>> gg.rsqrt(gg.tensor([0.25, 4.0]))
    tensor([2. , 0.5])
    """
    return Rsqrt.apply(_floating(a))


@public_op
def square(a):
    """``a * a``; integer and bool tensors give int64, as ``a ** 2`` in PyTorch.

    >>> gg.square(gg.tensor([-3, 2]))
    tensor([9, 4])
    >>> gg.square(gg.tensor([1.5]))
    tensor([2.25])
    """
    return pow(a, 2)


@public_op
def reciprocal(a):
    """``1 / a`` (integers give float32).

    >>> gg.reciprocal(gg.tensor([2, 4]))
    tensor([0.5 , 0.25])
    """
    return Reciprocal.apply(_floating(a))


@public_op
def erf(a):
    """The error function, 2/sqrt(pi) times the integral of exp(-t^2) from 0 to ``a``.

    >>> import gpugrad as gg
    >>> gg.erf(gg.tensor([0.0, 0.5, -3.0])).round(decimals=4)
    tensor([ 0.    ,  0.5205, -1.    ])
    """
    return Erf.apply(_floating(a))


def _rounding(op, a, **params):
    # Integer and bool tensors are already whole: PyTorch returns a copy of the same dtype.
    return a.clone() if a.dtype.kind != "f" else op.apply(a, **params)


@public_op
def floor(a):
    """Round down; the gradient is zero.

    >>> import gpugrad as gg
    >>> gg.floor(gg.tensor([1.5, -1.5])).tolist()
    [1.0, -2.0]
    """
    return _rounding(Floor, a)


@public_op
def ceil(a):
    """Round up; the gradient is zero.

    >>> gg.ceil(gg.tensor([1.2, -1.8]))
    tensor([ 2., -1.])
    """
    return _rounding(Ceil, a)


@public_op
def trunc(a):
    """Round toward zero; the gradient is zero.

    >>> gg.trunc(gg.tensor([1.8, -1.8]))
    tensor([ 1., -1.])
    """
    return _rounding(Trunc, a)


@public_op
def round(a, decimals=0):
    """Round half to even (``decimals`` places), as PyTorch; the gradient is zero.

    >>> gg.round(gg.tensor([0.5, 1.5, -2.5]))
    tensor([ 0.,  2., -2.])
    >>> gg.round(gg.tensor([1.2345]), decimals=2)
    tensor([1.23])
    """
    if decimals:
        return _rounding(Round, a, decimals=decimals)
    return _rounding(Round, a)
