"""Activations: relu, leaky_relu, gelu, tanh, sigmoid, softmax, log_softmax.

Softmax and log-softmax are fused ops that subtract the row maximum first, so ``exp`` never
overflows and log-softmax never takes ``log(0)``; along the last axis of CuPy arrays they run
the row kernels of ``kernels/softmax.py``. The rest are compositions of Tensor ops,
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
        e = xp.exp(z - z.max(axis=axis, keepdims=True))
        return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        if not differentiating() and _fused_rows(g._backend.xp, ctx.axis, g._data, out._data):
            return g._like(_row_kernel(softmax_kernels.softmax_backward, g._data, out._data,
                                       log=False))
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
        return (shifted - lse).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        if not differentiating() and _fused_rows(g._backend.xp, ctx.axis, g._data, out._data):
            return g._like(_row_kernel(softmax_kernels.softmax_backward, g._data, out._data,
                                       log=True))
        return g - out.exp() * g.sum(ctx.axis, keepdim=True)

    @staticmethod
    def jvp(ctx, t):
        return t - (ctx.output.exp() * t).sum(ctx.axis, keepdim=True)


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
    if approximate == "none":
        return input * NormalCdf.apply(input)
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (inner.tanh() + 1.0)
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
