"""Activations: relu, leaky_relu, gelu, tanh, sigmoid, softmax, log_softmax.

Softmax and log-softmax are fused ops that subtract the row maximum first, so ``exp`` never
overflows and log-softmax never takes ``log(0)``; along the last axis of CuPy arrays they run
the row kernels of ``kernels/softmax.py``. GELU is one fused op too (its derivatives for
double backward and forward mode are Tensor ops). The rest are compositions of Tensor ops,
which gives them backward, double backward and forward mode for free.
"""
import math
import numbers
import warnings

import numpy as np

from ... import cuda
from ...autograd.function import Function
from ...kernels import softmax as softmax_kernels
from ...ops import elementwise as ew
from ...ops._util import norm_dim
from ...ops.errors import check_floating, public_op
from ...ops.unary import erf_array as _erf
from ._util import differentiating


def _upcast(x):
    """float16 inputs are reduced in float32: a float16 sum of many terms loses digits."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _fused_rows(xp, axis, *arrays):
    """Do the row kernels take softmax along ``axis``? The last one, of arrays they accept."""
    return axis == arrays[0].ndim - 1 and cuda.use_kernels(xp, *arrays)


def _row_kernel(kernel, *arrays, log):
    """Apply a row launcher to arrays viewed as (rows, last dim), in their own shape."""
    shape = arrays[0].shape
    return kernel(*[a.reshape(-1, shape[-1]) for a in arrays], log=log).reshape(shape)


class Softmax(Function):
    saves_output = True

    @staticmethod
    def forward(ctx, xp, x, axis):
        ctx.axis = axis
        if _fused_rows(xp, axis, x):
            return _row_kernel(softmax_kernels.softmax_forward, x, log=False)
        z = _upcast(x)
        e = z - z.max(axis=axis, keepdims=True)  # a new array: the rest works in place
        xp.exp(e, out=e)
        e /= e.sum(axis=axis, keepdims=True)
        return e.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        if not differentiating() and _fused_rows(g._backend.xp, ctx.axis, g._data, out._data):
            return g._like(_row_kernel(softmax_kernels.softmax_backward, g._data, out._data,
                                       log=False))
        if not differentiating():
            return g._like(_softmax_grad(g._backend.xp, g._data, out._data, ctx.axis))
        return out * (g - (g * out).sum(ctx.axis, keepdim=True))

    @staticmethod
    def jvp(ctx, t):
        out = ctx.output
        return out * (t - (t * out).sum(ctx.axis, keepdim=True))


class LogSoftmax(Function):
    saves_output = True

    @staticmethod
    def forward(ctx, xp, x, axis):
        ctx.axis = axis
        if _fused_rows(xp, axis, x):
            return _row_kernel(softmax_kernels.softmax_forward, x, log=True)
        z = _upcast(x)
        shifted = z - z.max(axis=axis, keepdims=True)
        lse = xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        shifted -= lse
        return shifted.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        if not differentiating() and _fused_rows(g._backend.xp, ctx.axis, g._data, out._data):
            return g._like(_row_kernel(softmax_kernels.softmax_backward, g._data, out._data,
                                       log=True))
        if not differentiating():
            return g._like(_log_softmax_grad(g._backend.xp, g._data, out._data, ctx.axis))
        return g - out.exp() * g.sum(ctx.axis, keepdim=True)

    @staticmethod
    def jvp(ctx, t):
        return t - (ctx.output.exp() * t).sum(ctx.axis, keepdim=True)


def _softmax_grad(xp, g, out, axis):
    """out * (g - sum(g * out)) on arrays, with one temporary."""
    grad = g * out
    total = grad.sum(axis=axis, keepdims=True)
    xp.subtract(g, total, out=grad)
    grad *= out
    return grad


def _log_softmax_grad(xp, g, out, axis):
    """g - exp(out) * sum(g) on arrays, with one temporary."""
    grad = xp.exp(out)
    grad *= g.sum(axis=axis, keepdims=True)
    xp.subtract(g, grad, out=grad)
    return grad


class NormalCdf(Function):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2, the standard normal CDF (exact GELU's gate)."""

    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, x):
        return (0.5 * (1.0 + _erf(xp, x * (1.0 / math.sqrt(2.0))))).astype(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _normal_pdf(x)

    @staticmethod
    def jvp(ctx, t):
        return t * _normal_pdf(ctx.inputs[0])


def _normal_pdf(x):
    return (x * x * -0.5).exp() * (1.0 / math.sqrt(2.0 * math.pi))


class Gelu(Function):
    """x * Phi(x) (``approximate="none"``) or x * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
    (``"tanh"``) as one op: one pass forward and one backward on the CPU (the Numba ufuncs
    of ``kernels/_cpu_gelu.py``) instead of a graph of eight. A gradient that will be
    differentiated again is built from Tensor ops of x, so higher derivatives still work."""

    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, x, approximate):
        ctx.approximate = approximate
        z = _upcast(x)
        cpu = xp is np and z.dtype in (np.float32, np.float64)
        if approximate == "none":
            if cpu:
                out = _gelu_kernels().gelu_erf32(z) if z.dtype == np.float32 else \
                    _gelu_kernels().gelu_erf64(z)
            else:
                out = z * (0.5 * (1.0 + _erf(xp, z * _RSQRT2)))
            return out.astype(x.dtype, copy=False)
        # tanh form; tanh(inner) is kept for backward
        t = z * z
        t *= _TANH_C * _TANH_K
        t += _TANH_K
        t *= z
        xp.tanh(t, out=t)
        ctx.tanh = t
        out = t + 1.0
        out *= z
        out *= 0.5
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if differentiating():
            return g * _gelu_derivative(x, ctx.approximate)
        return g._like(_gelu_grad_array(g._backend.xp, ctx, x._data, g._data))

    @staticmethod
    def jvp(ctx, t):
        return t * _gelu_derivative(ctx.inputs[0], ctx.approximate)


_RSQRT2 = 1.0 / math.sqrt(2.0)
_RSQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)
_TANH_C = 0.044715


def _gelu_kernels():
    from ...kernels import _cpu_gelu  # imports Numba: on first use only
    return _cpu_gelu


def _gelu_grad_array(xp, ctx, x, g):
    """g * gelu'(x) on arrays, from what forward kept."""
    z, gz = _upcast(x), _upcast(g)
    cpu = xp is np and z.dtype in (np.float32, np.float64) and gz.dtype == z.dtype
    if ctx.approximate == "tanh":
        t = ctx.tanh
        if cpu:
            kernels = _gelu_kernels()
            grad = kernels.gelu_tanh_grad32 if z.dtype == np.float32 else kernels.gelu_tanh_grad64
            return grad(z, t, gz).astype(g.dtype, copy=False)
        dinner = _TANH_K + (3.0 * _TANH_K * _TANH_C) * z * z
        return (gz * 0.5 * (1.0 + t + z * (1.0 - t * t) * dinner)).astype(g.dtype, copy=False)
    if cpu and z.dtype == np.float32:
        return _gelu_kernels().gelu_erf_grad_exp32(z, gz).astype(g.dtype, copy=False)
    gauss = z * z
    gauss *= -0.5
    xp.exp(gauss, out=gauss)  # NumPy's SIMD exp beats a scalar one inside the Numba ufunc
    if cpu:
        kernels = _gelu_kernels()
        grad = kernels.gelu_erf_grad32 if z.dtype == np.float32 else kernels.gelu_erf_grad64
        # no out=gauss: Numba does not vectorise a loop whose output aliases an input
        return grad(z, gauss, gz).astype(g.dtype, copy=False)
    cdf = 0.5 * (1.0 + _erf(xp, z * _RSQRT2))
    return (gz * (cdf + z * _RSQRT2PI * gauss)).astype(g.dtype, copy=False)


def _gelu_derivative(x, approximate):
    """gelu'(x) as Tensor ops of x, for gradients that will be differentiated again."""
    if approximate == "none":
        return NormalCdf.apply(x) + x * _normal_pdf(x)
    t = ((x + x * x * x * _TANH_C) * _TANH_K).tanh()
    return (t + 1.0 + x * (1.0 - t * t) * (_TANH_K + (3.0 * _TANH_K * _TANH_C) * x * x)) * 0.5


@public_op
def relu(input, inplace=False):
    """max(x, 0); the gradient at 0 is 0, as in PyTorch. ``inplace`` is accepted for
    ported code, but the result is always a new tensor.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.relu(gg.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    return ew.relu(input)


@public_op
def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, else negative_slope * x.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.leaky_relu(gg.tensor([-2.0, 3.0]), 0.5).tolist()
    [-1.0, 3.0]
    """
    if not isinstance(negative_slope, numbers.Number):
        raise TypeError(f"leaky_relu(): argument 'negative_slope' must be a number, not "
                        f"{type(negative_slope).__name__}")
    return ew.where(input > 0, input, input * negative_slope)


@public_op
def gelu(input, approximate="none"):
    """x * Phi(x) with the exact normal CDF, or PyTorch's tanh approximation.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> round(F.gelu(gg.tensor([1.0])).item(), 4)
    0.8413
    """
    check_floating("gelu", input)
    if approximate in ("none", "tanh"):
        return Gelu.apply(input, approximate=approximate)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


@public_op
def tanh(input):
    """Hyperbolic tangent.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.tanh(gg.tensor([0.0])).tolist()
    [0.0]
    """
    return ew.tanh(input)


@public_op
def sigmoid(input):
    """1 / (1 + exp(-x)), computed without overflow for either sign.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.sigmoid(gg.tensor([0.0])).tolist()
    [0.5]
    """
    return ew.sigmoid(input)


def _softmax_dim(name, ndim, dim):
    if dim is not None:
        return norm_dim(dim, ndim)
    # PyTorch's legacy rule for a missing dim, with its warning.
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


@public_op
def softmax(input, dim=None, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``, shifted by the maximum so nothing overflows.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.softmax(gg.tensor([1000.0, 1000.0]), dim=0).tolist()
    [0.5, 0.5]
    """
    if dtype is not None:
        input = input.to(dtype=dtype)
    check_floating("softmax", input)
    return Softmax.apply(input, axis=_softmax_dim("softmax", input.ndim, dim))


@public_op
def log_softmax(input, dim=None, dtype=None):
    """x - logsumexp(x) along ``dim``: finite wherever x is, even where softmax underflows.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.log_softmax(gg.tensor([-1000.0, 0.0]), dim=0).tolist()
    [-1000.0, 0.0]
    """
    if dtype is not None:
        input = input.to(dtype=dtype)
    check_floating("log_softmax", input)
    return LogSoftmax.apply(input, axis=_softmax_dim("log_softmax", input.ndim, dim))
