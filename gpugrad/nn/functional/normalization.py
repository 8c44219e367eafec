"""``layer_norm``, ``batch_norm``, ``group_norm``, ``instance_norm``: one fused
normalisation op plus an affine transform; ``rms_norm`` as Tensor ops.

``Normalize`` computes (x - mean) / sqrt(var + eps) over some axes in one pass of array
code and has a closed-form backward; the affine part is ordinary Tensor ops. Layer norm of
CuPy arrays runs the row kernels of ``kernels/layernorm.py`` instead, and affine layer norm
of NumPy float32/float64 arrays the Numba row loops of ``kernels/_cpu_rows.py``.
"""
import math
import numbers

import numpy as np

from ... import cuda
from ...autograd.function import Function
from ...autograd.recording import record, write
from ...kernels import layernorm
from ...ops.errors import ShapeError, check_floating, public_op
from ...tensor import Tensor
from ...ops._util import bfloat16_in_float32, has_bfloat16
from ._util import differentiating
from .activation import _upcast


class Normalize(Function):
    """xhat = (x - mean) * rstd over ``axes``, rstd = 1 / sqrt(biased var + eps).

    ``mean`` and ``var`` may be passed in when the caller already computed them (batch
    norm needs them for its running statistics)."""

    saves_inputs = (0,)
    saves_output = True

    @staticmethod
    def forward(ctx, xp, x, axes, eps, mean=None, var=None):
        ctx.fused = mean is None and _trailing(axes, x.ndim) and cuda.use_kernels(xp, x)
        if ctx.fused:
            return _fused_forward(ctx, x, axes, eps)
        z = _upcast(x)
        centered = z - (z.mean(axis=axes, keepdims=True) if mean is None else mean)
        if mean is None:
            var = _mean_square(xp, centered, axes)
        rstd = var + eps
        xp.sqrt(rstd, out=rstd)
        xp.divide(1.0, rstd, out=rstd)
        ctx.axes, ctx.eps, ctx.rstd = axes, eps, rstd.astype(x.dtype, copy=False)
        centered *= rstd  # the array forward owns becomes the output
        return centered.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, xhat = ctx.saved_tensors
        if ctx.fused and not differentiating():
            return g._like(_fused_backward(ctx, g._data, x._data))
        axes = ctx.axes
        if not differentiating():
            return g._like(_normalize_grad(g._backend.xp, g._data, xhat._data, ctx.rstd, axes))
        centered = g - g.mean(axes, keepdim=True)
        return _rstd(ctx, x) * (centered - xhat * (g * xhat).mean(axes, keepdim=True))

    @staticmethod
    def jvp(ctx, t):
        x, xhat, axes = ctx.inputs[0], ctx.output, ctx.axes
        centered = t - t.mean(axes, keepdim=True)
        return _rstd(ctx, x) * (centered - xhat * (xhat * centered).mean(axes, keepdim=True))


class AffineLayerNorm(Function):
    """Layer norm with its weight and bias, y = xhat * weight + bias, as one op on the CPU:
    three gradients from one backward instead of a normalisation and two broadcast ops (and
    their reductions). Gradients that will be differentiated again, and tangents, are Tensor
    ops of the inputs."""

    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, x, weight, bias, axes, eps):
        ctx.axes, ctx.eps = axes, eps
        ctx.cpu_rows = _cpu_rows(xp, x, weight, eps)
        if ctx.cpu_rows:
            return _rows_forward(ctx, x, weight, bias, eps)
        z = _upcast(x)
        xhat = z - z.mean(axis=axes, keepdims=True)
        rstd = _mean_square(xp, xhat, axes)
        rstd += eps
        xp.sqrt(rstd, out=rstd)
        xp.divide(1.0, rstd, out=rstd)
        xhat *= rstd
        ctx.rstd, ctx.xhat = rstd.astype(x.dtype, copy=False), xhat.astype(x.dtype, copy=False)
        out = ctx.xhat * weight
        out += bias
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        if differentiating():
            axes = ctx.axes
            xhat = Normalize.apply(x, axes=axes, eps=ctx.eps)
            gx = None
            if need_x:
                dxhat = g * weight
                centered = x - x.mean(axes, keepdim=True)
                rstd = ((centered * centered).mean(axes, keepdim=True) + ctx.eps) ** -0.5
                gx = rstd * (dxhat - dxhat.mean(axes, keepdim=True)
                             - xhat * (dxhat * xhat).mean(axes, keepdim=True))
            # the engine sums the weight's and bias's gradients over the leading dims
            return gx, (g * xhat if need_w else None), (g if need_b else None)
        if ctx.cpu_rows:
            return _rows_backward(ctx, g, x, weight, need_x, need_w, need_b)
        xp, gd = g._backend.xp, g._data
        width = ctx.xhat.shape[ctx.xhat.ndim - len(ctx.axes):]
        gx = gw = gb = None
        if need_x:
            gx = g._like(_normalize_grad(xp, gd * weight._data, ctx.xhat, ctx.rstd, ctx.axes))
        if need_w:
            rows = (gd * ctx.xhat).reshape((-1,) + width)
            gw = g._like(rows.sum(axis=0))
        if need_b:
            gb = g._like(gd.reshape((-1,) + width).sum(axis=0))
        return gx, gw, gb

    @staticmethod
    def jvp(ctx, tx, tw, tb):
        x, weight = ctx.inputs[0], ctx.inputs[1]
        xhat = Normalize.apply(x, axes=ctx.axes, eps=ctx.eps)
        out = None
        if tx is not None:
            out = Normalize.jvp(_NormalizeCtx(ctx, x, xhat), tx) * weight
        if tw is not None:
            out = xhat * tw if out is None else out + xhat * tw
        if tb is not None:
            out = tb if out is None else out + tb
        return out


def _cpu_rows(xp, x, weight, eps):
    """Do the Numba row loops of ``kernels/_cpu_rows.py`` take this affine layer norm?
    NumPy float32/float64 arrays, rows that are not empty and a real ``eps`` (anything else
    takes the generic path, and its error)."""
    return (xp is np and x.dtype in (np.float32, np.float64) and math.prod(weight.shape) > 0
            and isinstance(eps, numbers.Real))


def _rows_kernels():
    from ...kernels import _cpu_rows  # imports Numba: on first use only
    return _cpu_rows


def _rows_forward(ctx, x, weight, bias, eps):
    """Affine layer norm of NumPy float32/float64 rows by one Numba loop
    (``kernels/_cpu_rows.py``), which keeps each row's mean and rstd, not xhat."""
    width = math.prod(weight.shape)
    rows = np.ascontiguousarray(x).reshape(-1, width)
    out = np.empty_like(rows)
    mean, rstd = np.empty(rows.shape[0]), np.empty(rows.shape[0])
    _rows_kernels().layer_norm_forward(rows, weight.reshape(-1), bias.reshape(-1), float(eps),
                                       out, mean, rstd)
    ctx.row_stats = (mean, rstd)
    # jvp reads rstd broadcastable against x (through _NormalizeCtx)
    ctx.rstd = rstd.reshape(x.shape[:x.ndim - len(ctx.axes)] + (1,) * len(ctx.axes)).astype(
        x.dtype, copy=False)
    return out.reshape(x.shape)


def _rows_backward(ctx, g, x, weight, need_x, need_w, need_b):
    """The three gradients of :func:`_rows_forward` by one Numba loop (the weight's and
    bias's sums over rows in float64)."""
    width = math.prod(weight.shape)
    gd = np.ascontiguousarray(g._data).reshape(-1, width)
    xd = np.ascontiguousarray(x._data).reshape(-1, width)
    gx = np.empty_like(gd)
    gw, gb = np.zeros(width), np.zeros(width)
    _rows_kernels().layer_norm_backward(gd, xd, weight._data.reshape(-1), *ctx.row_stats, gx,
                                        gw, gb)
    return (g._like(gx.reshape(g.shape)) if need_x else None,
            g._like(gw.astype(gd.dtype).reshape(weight.shape)) if need_w else None,
            g._like(gb.astype(gd.dtype).reshape(weight.shape)) if need_b else None)


class _NormalizeCtx:
    """What ``Normalize.jvp`` reads (a recorded node drops its inputs and output)."""

    def __init__(self, ctx, x, xhat):
        self.inputs, self.output, self.axes, self.eps = (x,), xhat, ctx.axes, ctx.eps
        self.rstd = ctx.rstd


def _trailing(axes, ndim):
    """Are ``axes`` the last dims (layer norm's), so that rows of x are what gets normalised?"""
    return tuple(axes) == tuple(range(ndim - len(axes), ndim))


def _fused_forward(ctx, x, axes, eps):
    """The layer-norm kernel on x viewed as rows; keeps its per-row mean and rstd."""
    lead = x.shape[:x.ndim - len(axes)]
    y, mean, rstd = layernorm.layer_norm_forward(x.reshape(math.prod(lead), -1), eps=eps)
    ctx.axes, ctx.eps, ctx.row_stats = axes, eps, (mean, rstd)
    # The generic rules (jvp, double backward) read rstd broadcastable against x.
    ctx.rstd = rstd.reshape(lead + (1,) * len(axes)).astype(x.dtype, copy=False)
    return y.reshape(x.shape)


def _fused_backward(ctx, g, x):
    """dx by the layer-norm kernel (no affine part here: gamma is ones)."""
    mean, rstd = ctx.row_stats
    rows = mean.shape[0]
    dx = layernorm.layer_norm_backward_input(g.reshape(rows, -1), x.reshape(rows, -1), None,
                                             mean, rstd)
    return dx.reshape(x.shape)


def _normalize_grad(xp, g, xhat, rstd, axes):
    """rstd * (g - mean(g) - xhat * mean(g * xhat)) on arrays, with one temporary."""
    gz = _upcast(g)
    grad = gz * xhat
    projection = grad.mean(axis=axes, keepdims=True)
    xp.multiply(xhat, projection, out=grad)
    xp.subtract(gz, grad, out=grad)
    grad -= gz.mean(axis=axes, keepdims=True)
    grad *= rstd
    return grad.astype(g.dtype, copy=False)


def _mean_square(xp, centered, axes):
    """mean(centered ** 2) over ``axes``. Over trailing axes of at most 4096 elements it is
    a contraction (2.4x faster: no squared temporary; its running sum is not pairwise, so
    longer rows take the squares and NumPy's pairwise mean)."""
    ndim, k = centered.ndim, len(axes)
    count = math.prod(centered.shape[ndim - k:])
    if _trailing(axes, ndim) and 0 < count <= 4096 and ndim <= 26:
        letters = "abcdefghijklmnopqrstuvwxyz"[:ndim]
        total = xp.einsum(f"{letters},{letters}->{letters[:ndim - k]}", centered, centered)
        return total.reshape(total.shape + (1,) * k) / count
    return (centered * centered).mean(axis=axes, keepdims=True)


def _moments(z, axes):
    """Mean and biased variance; two passes, so the variance never cancels."""
    mean = z.mean(axis=axes, keepdims=True)
    d = z - mean
    return mean, (d * d).mean(axis=axes, keepdims=True)


def _rstd(ctx, x):
    """rstd as a Tensor: the saved constant, or, when it will be differentiated again,
    recomputed from ``x`` so that its own dependence on x is seen."""
    if not differentiating():
        return x._like(ctx.rstd)
    centered = x - x.mean(ctx.axes, keepdim=True)
    return ((centered * centered).mean(ctx.axes, keepdim=True) + ctx.eps) ** -0.5


def _affine(out, weight, bias, shape):
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


@public_op
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims, then scale and shift.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> [round(v, 4) for v in F.layer_norm(gg.tensor([[1.0, 3.0]]), (2,))[0].tolist()]
    [-1.0, 1.0]
    """
    if has_bfloat16(input, weight, bias):
        return bfloat16_in_float32(layer_norm, input, normalized_shape, weight, bias, eps)
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or input.shape[input.ndim - k:] != normalized_shape:
        raise ValueError(f"layer_norm: expected input with trailing shape {normalized_shape}, "
                         f"got input of shape {input.shape}")
    check_floating("layer_norm", input)
    axes = tuple(range(input.ndim - k, input.ndim))
    if _fusable_affine(input, weight, bias, normalized_shape):
        return AffineLayerNorm.apply(input, weight, bias, axes=axes, eps=eps)
    out = Normalize.apply(input, axes=axes, eps=eps)
    return _affine(out, weight, bias, normalized_shape)


def _fusable_affine(input, weight, bias, normalized_shape):
    """Does ``AffineLayerNorm`` apply: arrays the layer-norm row kernels do not take (NumPy's),
    a weight and a bias of the input's dtype and of the normalised shape?"""
    if weight is None or bias is None or cuda.use_kernels(input._backend.xp, input._data):
        return False
    return all(isinstance(t, Tensor) and t.dtype == input.dtype and t.device == input.device
               and tuple(t.shape) == normalized_shape for t in (weight, bias))


@public_op
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) with batch statistics while ``training`` (and update
    the running statistics in place, the variance unbiased), or with the running ones.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> rm, rv = gg.zeros(1), gg.ones(1)
    >>> F.batch_norm(gg.tensor([[1.0], [3.0]]), rm, rv, training=True).shape, rm.tolist()
    ((2, 1), [0.20000000298023224])
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input with a channel dim 1, got shape "
                         f"{input.shape}")
    n_ch = input.shape[1]
    axes = (0,) + tuple(range(2, input.ndim))
    shape = (1, n_ch) + (1,) * (input.ndim - 2)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when not "
                             "training")
        scale = (running_var + eps) ** -0.5
        out = (input - running_mean.reshape(shape)) * scale.reshape(shape)
        return _affine(out, weight, bias, shape)
    count = input.numel() // max(n_ch, 1)
    if count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {input.shape}")
    # The statistics as tensors of recorded ops, so that gg.compile replays them.
    stats = input._like(_stacked_moments(input._backend.xp, input._data, axes=axes))
    record(_stacked_moments, (input,), stats, axes=axes)
    mean, var = stats[0], stats[1]
    out = Normalize.apply(input, axes=axes, eps=eps, mean=mean._data, var=var._data)
    if running_mean is not None:
        _blend(running_mean, mean, momentum)
    if running_var is not None:
        _blend(running_var, var, momentum, scale=count / (count - 1))
    return _affine(out, weight, bias, shape)


def _stacked_moments(xp, x, *, axes):
    """``stack(_moments(x))``: the batch mean and biased variance in one array."""
    return xp.stack(_moments(_upcast(x), axes))


def _blend(running, batch, momentum, scale=1.0):
    """running <- (1 - momentum) * running + momentum * (batch * scale), in place (a
    write gg.compile records)."""
    write(_blend_into, running, batch, momentum=momentum, scale=scale)
    running._bump_version()


def _blend_into(xp, running, batch, *, momentum, scale):
    batch = batch.reshape(running.shape)
    if scale != 1.0:
        batch = batch * scale
    running[...] = (1.0 - momentum) * running + momentum * batch
    return running


def _count(name, what, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}(): argument '{what}' must be int, not {type(value).__name__}")
    return int(value)


@public_op
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each of ``num_groups`` groups of channels (dim 1) of each sample, then
    scale and shift per channel.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> [round(v, 4) for v in F.group_norm(gg.tensor([[1.0, 3.0, 5.0, 5.0]]), 2)[0].tolist()]
    [-1.0, 1.0, 0.0, 0.0]
    """
    if has_bfloat16(input, weight, bias):
        return bfloat16_in_float32(group_norm, input, num_groups, weight, bias, eps)
    num_groups = _count("group_norm", "num_groups", num_groups)
    check_floating("group_norm", input)
    if input.ndim < 2 or num_groups <= 0 or input.shape[1] % num_groups:
        raise ShapeError(f"group_norm: Expected number of channels in input to be divisible by "
                         f"num_groups, but got input of shape {input.shape} and "
                         f"num_groups={num_groups}")
    n, channels = input.shape[:2]
    grouped = input.reshape(n, num_groups, -1)
    out = Normalize.apply(grouped, axes=(2,), eps=eps).reshape(input.shape)
    return _affine(out, weight, bias, (1, channels) + (1,) * (input.ndim - 2))


@public_op
def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample over its spatial dims (dims 2...). With
    running statistics given and ``use_input_stats``, they are updated in place with the
    mean over the batch of the per-instance statistics (the variance unbiased).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> y = F.instance_norm(gg.tensor([[[1.0, 3.0], [5.0, 5.0]]]))
    >>> [round(v, 4) for v in y.flatten().tolist()]
    [-1.0, 1.0, 0.0, 0.0]
    """
    check_floating("instance_norm", input)
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input of shape (N, C, ...), got shape "
                         f"{input.shape}")
    n, channels = input.shape[:2]
    shape = (1, channels) + (1,) * (input.ndim - 2)
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    axes = tuple(range(2, input.ndim))
    count = math.prod(input.shape[2:])
    if count <= 1 and running_mean is not None:
        raise ValueError(f"instance_norm: Expected more than 1 spatial element when "
                         f"training, got input size {input.shape}")
    mean, var = _moments(_upcast(input._data), axes)
    out = Normalize.apply(input, axes=axes, eps=eps, mean=mean, var=var)
    if running_mean is not None:
        _blend(running_mean, input._like(mean.reshape(n, channels).mean(axis=0)), momentum)
    if running_var is not None:
        unbiased = var.reshape(n, channels) * (count / max(count - 1, 1))
        _blend(running_var, input._like(unbiased.mean(axis=0)), momentum)
    return _affine(out, weight, bias, shape)


@public_op
def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing ``normalized_shape`` dims, times
    ``weight``; ``eps=None`` is the machine epsilon of the input's dtype.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> [round(v, 4) for v in F.rms_norm(gg.tensor([[3.0, 4.0]]), (2,))[0].tolist()]
    [0.8485, 1.1314]
    """
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    check_floating("rms_norm", input)
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or input.shape[input.ndim - k:] != normalized_shape:
        raise ShapeError(f"rms_norm: Given normalized_shape={list(normalized_shape)}, expected "
                         f"input with shape [*, {normalized_shape}], but got input of size "
                         f"{input.shape}")
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    axes = tuple(range(input.ndim - k, input.ndim))
    out = input * ((input * input).mean(axes, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight
