"""Losses: cross_entropy, nll_loss, mse_loss, l1_loss, smooth_l1_loss, huber_loss, kl_div,
binary_cross_entropy(_with_logits), cosine_embedding_loss, margin_ranking_loss,
triplet_margin_loss.

Cross-entropy is one fused op from logits: it keeps each row's log-sum-exp and never forms
probabilities and then their log, so no ``log(0)`` happens at any logit magnitude; without
class weights, CuPy logits run the kernels of ``kernels/xent.py``; NumPy float32/float64
logits take the log-sum-exp and the gradient's softmax from the Numba row loops of
``kernels/_cpu_rows.py``, one pass over the logits each. Binary cross-entropy of
probabilities is a small fused op too, for PyTorch's finite gradient at 0 and 1. The others
are compositions of Tensor ops. Semantics follow PyTorch, including its means:
class-weighted and over non-ignored targets only.
"""
import warnings

import numpy as np

from ... import cuda
from ...autograd.function import Function
from ...backends.checks import require_valid
from ...kernels import xent
from ...ops import elementwise as ew
from ...ops._util import lift
from ...ops.errors import ShapeError, check_floating, public_op
from ...tensor import Tensor
from ._util import differentiating
from .activation import Softmax, _upcast, log_softmax
from .distance import _cosine_similarity_eps, pairwise_distance

_REDUCTIONS = ("none", "mean", "sum")


class SoftmaxCrossEntropy(Function):
    """Per-row loss (1 - s) w[t] (lse - x[t]) + (s / C) sum_c w[c] (lse - x[c]) of (N, C)
    logits, 0 on rows whose target is ``ignore_index``. d loss_i / d x_ic = a_i p_ic - b_ic,
    with p the softmax and a, b constants of the targets (see ``_jacobian``)."""

    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, logits, target, class_weight, ignore_index, smoothing):
        x = _upcast(logits)
        n_cls = x.shape[1]
        keep = target != ignore_index
        safe = xp.where(keep, target, 0)  # ignored rows read class 0, then get weight 0
        w = xp.ones(n_cls, x.dtype) if class_weight is None else class_weight.astype(x.dtype)
        w_t = w[safe] * keep
        # The kernel's path keeps these too: double backward and jvp use the generic rules.
        ctx.safe, ctx.keep, ctx.class_w, ctx.w_t = safe, keep, w, w_t
        ctx.target, ctx.ignore_index, ctx.smoothing = target, ignore_index, smoothing
        ctx.fused = class_weight is None and cuda.use_kernels(xp, logits)
        if ctx.fused:
            loss, lse = xent.softmax_xent_forward(logits, target, ignore_index, smoothing)
            ctx.lse = lse[:, None]
            return loss
        ctx.cpu_rows = _cpu_rows(xp, x)
        if ctx.cpu_rows:  # one read of the logits, by the Numba row loop
            lse = np.empty((x.shape[0], 1))
            _rows_kernels().logsumexp_rows(x, lse[:, 0])
        else:
            m = x.max(axis=1, keepdims=True)
            shifted = x - m
            lse = xp.log(xp.exp(shifted, out=shifted).sum(axis=1, keepdims=True)) + m
        picked = x[xp.arange(x.shape[0]), safe]  # 3-10x faster than take_along_axis
        with np.errstate(invalid="ignore"):  # 0 * inf on ignored rows; masked below
            loss = (1.0 - smoothing) * w_t * (lse[:, 0] - picked)
            if smoothing:
                # mean_c of -w_c log p_c: one more pass over the row, no log of a softmax.
                loss = loss + (smoothing / n_cls) * ((lse - x) * w).sum(axis=1)
        ctx.lse = lse.astype(logits.dtype, copy=False)
        # where, not a product: an ignored row may hold -inf logits, and 0 * inf is nan.
        return xp.where(keep, loss, 0).astype(logits.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if not differentiating():
            return x._like(_grad_array(ctx, x._backend.xp, x._data, g._data))
        # Ignored rows get exactly 0, even when g is inf (a mean over zero targets).
        g = ew.where(g._like(ctx.keep), g, 0)
        return g.unsqueeze(1) * _jacobian(ctx, x)

    @staticmethod
    def jvp(ctx, t):
        return (_jacobian(ctx, ctx.inputs[0]) * t).sum(1)


def _cpu_rows(xp, x):
    """Do the Numba row loops of ``kernels/_cpu_rows.py`` take this softmax: C-contiguous
    NumPy float32/float64 logits with at least one class?"""
    return (xp is np and x.dtype in (np.float32, np.float64) and x.shape[1] > 0
            and x.flags.c_contiguous)


def _rows_kernels():
    from ...kernels import _cpu_rows  # imports Numba: on first use only
    return _cpu_rows


def _row_scale(ctx):
    """a_i: the factor of row i's softmax in its gradient."""
    eps, w = ctx.smoothing, ctx.class_w
    return (1.0 - eps) * ctx.w_t + (eps / w.shape[0]) * w.sum() * ctx.keep


def _grad_array(ctx, xp, x, g):
    """g_i (a_i p_ic - b_ic) as one array, built in place in a few passes (the usual case,
    when the gradient will not be differentiated again), or by one kernel after its forward."""
    if ctx.fused:
        return xent.softmax_xent_backward(g, x, ctx.target, ctx.lse[:, 0], ctx.ignore_index,
                                          ctx.smoothing)
    eps, w = ctx.smoothing, ctx.class_w
    g = xp.where(ctx.keep, g, 0).astype(w.dtype)  # exactly 0 on ignored rows, even if inf
    if ctx.cpu_rows:  # a_i g_i softmax(x)_ic in one pass over x
        z = _upcast(x)
        out = np.empty_like(z)
        _rows_kernels().softmax_scaled_rows(z, ctx.lse[:, 0].astype(z.dtype), (
            _row_scale(ctx) * g).astype(z.dtype, copy=False), out)
    else:
        out = x - ctx.lse
        xp.exp(out, out=out)
        out *= (_row_scale(ctx) * g).astype(out.dtype)[:, None]
    if eps:
        out -= ((eps / w.shape[0]) * g * ctx.keep)[:, None] * w[None, :]
    rows = xp.arange(out.shape[0])
    out[rows, ctx.safe] -= ((1.0 - eps) * ctx.w_t * g).astype(out.dtype)  # one per row
    return out.astype(x.dtype, copy=False)


def _jacobian(ctx, x):
    """The (N, C) Jacobian rows a_i softmax(x)_ic - b_ic as Tensor ops of ``x``. The softmax
    is rebuilt from the saved log-sum-exp, or is the differentiable op when it will be
    differentiated again."""
    xp = x._backend.xp
    if differentiating():
        p = Softmax.apply(x, axis=1)  # lse depends on x too
    else:
        p = x._like(xp.exp(x._data - ctx.lse))
    eps, w = ctx.smoothing, ctx.class_w
    n_rows, n_cls = x.shape
    b = xp.zeros((n_rows, n_cls), dtype=w.dtype)
    if eps:
        b += (eps / n_cls) * w[None, :] * ctx.keep[:, None]
    b[xp.arange(n_rows), ctx.safe] += (1.0 - eps) * ctx.w_t
    a = _row_scale(ctx)[:, None]
    return p * x._like(a.astype(x.dtype)) - x._like(b.astype(x.dtype))


def _check_reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _as_tensor(value, like):
    """``value`` (a Tensor, or numbers a NumPy array can hold) as a Tensor beside ``like``;
    anything else (None, strings, ragged lists) is a TypeError the op boundary names."""
    if isinstance(value, Tensor):
        return value
    return lift(value, like, "argument")


def _rows_and_targets(name, input, target):
    """PyTorch's (N, C, d1, ...) / (N, d1, ...) layout (or unbatched (C,) / ()) as (M, C)
    rows and (M,) class indices, plus the shape of the unreduced loss."""
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    if input.ndim == 1:
        loss_shape, rows = (), input.unsqueeze(0)
    else:
        loss_shape = (input.shape[0],) + input.shape[2:]
        rows = input
        if input.ndim > 2:
            rows = input.permute(0, *range(2, input.ndim), 1).reshape(-1, input.shape[1])
    if target.shape != loss_shape:
        raise ValueError(f"{name}: expected target of shape {loss_shape} for input of shape "
                         f"{input.shape}, got {target.shape}")
    if target.dtype.kind not in "iu":
        raise ValueError(f"{name}: class-index targets must be integers, got {target.dtype}")
    return rows, target._data.reshape(-1), loss_shape


def _check_targets(name, target, n_classes, ignore_index):
    bad = (target != ignore_index) & ((target < 0) | (target >= n_classes))
    require_valid(bad, IndexError, lambda value: (
        f"{name}: target {'' if value is None else str(value) + ' '}is out of bounds for "
        f"{n_classes} classes (valid targets are 0..{n_classes - 1} or "
        f"ignore_index={ignore_index})"), target)


def _class_weight(name, weight, n_classes, like):
    if weight is None:
        return None
    weight = _as_tensor(weight, like)
    if weight.shape != (n_classes,):
        raise ValueError(f"{name}: weight must have shape ({n_classes},) for {n_classes} "
                         f"classes, got {weight.shape}")
    return weight._data


@public_op
def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy between logits ``input`` (N, C, d1, ...) and class indices ``target``
    (N, d1, ...) or class probabilities (input's shape), as in PyTorch.

    ``reduction='mean'`` divides by the summed weights of the non-ignored targets.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> round(F.cross_entropy(gg.tensor([[0.0, 0.0]]), gg.tensor([1])).item(), 4)
    0.6931
    """
    name = "cross_entropy"
    _check_reduction(name, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    check_floating(name, input)
    target = _as_tensor(target, input)
    if target.dtype.kind == "f" and target.shape == input.shape:
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    rows, flat_target, loss_shape = _rows_and_targets(name, input, target)
    n_cls = rows.shape[1]
    xp = input._backend.xp
    _check_targets(name, flat_target, n_cls, ignore_index)
    class_w = _class_weight(name, weight, n_cls, input)
    loss = SoftmaxCrossEntropy.apply(rows, target=flat_target, class_weight=class_w,
                                     ignore_index=ignore_index, smoothing=label_smoothing)
    if reduction == "none":
        return loss.reshape(loss_shape)
    return _weighted_reduce(loss, reduction, _weight_total(xp, flat_target, class_w,
                                                           ignore_index))


def _weight_total(xp, target, class_w, ignore_index):
    """The denominator of PyTorch's mean: summed weights of the non-ignored targets."""
    keep = target != ignore_index
    if class_w is None:
        return keep.sum()
    return (class_w[xp.where(keep, target, 0)] * keep).sum()


def _weighted_reduce(loss, reduction, total_weight):
    """'sum', or 'mean' as sum / total_weight; float16 losses are summed in float32, so a
    representable mean is not lost to an overflowing float16 sum."""
    half = loss.dtype == np.float16
    if half:
        loss = loss.to(dtype=np.float32)
    out = loss.sum()
    if reduction == "mean":
        out = out / loss._like(total_weight.astype(loss.dtype))
    return out.to(dtype=np.float16) if half else out


def _soft_cross_entropy(input, target, weight, reduction, smoothing):
    """Class-probability targets: -sum_c w_c q_c log p_c per row, mean over rows."""
    n_cls = input.shape[1] if input.ndim > 1 else input.shape[0]
    if smoothing:
        target = target * (1.0 - smoothing) + smoothing / n_cls
    logp = log_softmax(input, dim=1 if input.ndim > 1 else 0)
    if weight is not None:
        w = _as_tensor(weight, input)
        logp = logp * (w.reshape((n_cls,) + (1,) * (input.ndim - 2)) if input.ndim > 1 else w)
    return _reduce(-(logp * target).sum(1 if input.ndim > 1 else 0), reduction)


@public_op
def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C, d1, ...) at class
    indices ``target`` (N, d1, ...); ``mean`` divides by the summed target weights.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.nll_loss(gg.tensor([[-1.0, -2.0]]), gg.tensor([1])).item()
    2.0
    """
    name = "nll_loss"
    _check_reduction(name, reduction)
    rows, flat_target, loss_shape = _rows_and_targets(name, input, _as_tensor(target, input))
    n_rows, n_cls = rows.shape
    xp = input._backend.xp
    _check_targets(name, flat_target, n_cls, ignore_index)
    class_w = _class_weight(name, weight, n_cls, input)
    keep = flat_target != ignore_index
    safe = xp.where(keep, flat_target, 0)
    w_t = keep if class_w is None else class_w[safe] * keep
    picked = rows[rows._like(xp.arange(n_rows)), rows._like(safe)]
    # where, not only the 0 weight: ignored rows must get a 0 gradient even from an inf
    # mean (all targets ignored), as in PyTorch.
    loss = ew.where(rows._like(keep), -picked * rows._like(w_t.astype(rows.dtype)), 0)
    if reduction == "none":
        return loss.reshape(loss_shape)
    return _weighted_reduce(loss, reduction, _weight_total(xp, flat_target, class_w,
                                                           ignore_index))


def _pointwise_target(name, input, target):
    target = _as_tensor(target, input)
    if target.shape != input.shape:
        # PyTorch broadcasts with this warning; it is almost always an (N, 1) vs (N,) bug.
        warnings.warn(f"{name}: using a target size ({target.shape}) that is different to the "
                      f"input size ({input.shape}). This will likely lead to incorrect "
                      "results due to broadcasting.", stacklevel=3)
    return target


@public_op
def mse_loss(input, target, *, reduction="mean"):
    """Mean squared error.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.mse_loss(gg.tensor([1.0, 3.0]), gg.tensor([0.0, 0.0])).item()
    5.0
    """
    _check_reduction("mse_loss", reduction)
    diff = input - _pointwise_target("mse_loss", input, target)
    return _reduce(diff * diff, reduction)


@public_op
def l1_loss(input, target, *, reduction="mean"):
    """Mean absolute error (subgradient 0 where input == target, as in PyTorch).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.l1_loss(gg.tensor([1.0, -3.0]), gg.tensor([0.0, 0.0])).item()
    2.0
    """
    _check_reduction("l1_loss", reduction)
    return _reduce((input - _pointwise_target("l1_loss", input, target)).abs(), reduction)


@public_op
def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction="mean",
                                     pos_weight=None):
    """Binary cross-entropy of logits, in the stable form
    max(x, 0) - x y + log1p(exp(-|x|)) (weighted by ``pos_weight`` on positives).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> round(F.binary_cross_entropy_with_logits(gg.tensor([0.0]), gg.tensor([1.0])).item(), 4)
    0.6931
    """
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    target = _as_tensor(target, input)
    if target.shape != input.shape:
        raise ValueError(f"{name}: target size {target.shape} must be the same as input size "
                         f"{input.shape}")
    # log(1 + exp(-x)) for any x; maximum's tie rule gives the exact slope -1/2 at x == 0.
    softplus_neg = ew.maximum(-input, 0) + (-input.abs()).exp().log1p()
    if pos_weight is None:
        loss = (1 - target) * input + softplus_neg
    else:
        pos_weight = _as_tensor(pos_weight, input)
        loss = (1 - target) * input + ((pos_weight - 1) * target + 1) * softplus_neg
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction)


@public_op
def smooth_l1_loss(input, target, *, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, for d = input - target
    (the L1 loss when ``beta`` is 0).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.smooth_l1_loss(gg.tensor([0.5, 3.0]), gg.tensor([0.0, 0.0]), reduction="none").tolist()
    [0.125, 2.5]
    """
    name = "smooth_l1_loss"
    _check_reduction(name, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    diff = input - _pointwise_target(name, input, target)
    size = diff.abs()
    return _reduce(ew.where(size < beta, diff * diff * (0.5 / beta), size - 0.5 * beta),
                   reduction)


@public_op
def huber_loss(input, target, *, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta): ``delta`` times
    ``smooth_l1_loss`` with ``beta = delta``.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.huber_loss(gg.tensor([0.5, 3.0]), gg.tensor([0.0, 0.0]), reduction="none",
    ...              delta=2.0).tolist()
    [0.125, 4.0]
    """
    name = "huber_loss"
    _check_reduction(name, reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    diff = input - _pointwise_target(name, input, target)
    size = diff.abs()
    return _reduce(ew.where(size < delta, diff * diff * 0.5, (size - 0.5 * delta) * delta),
                   reduction)


@public_op
def kl_div(input, target, *, reduction="mean", log_target=False):
    """Pointwise KL divergence target * (log target - input) of log-probabilities ``input``
    (``target`` given as log-probabilities with ``log_target``); 0 where target is 0.
    ``'batchmean'`` divides the sum by the batch size (the true KL divergence); ``'mean'``
    divides by the element count and warns, as in PyTorch.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> p = gg.tensor([[0.5, 0.5]])
    >>> F.kl_div(p.log(), p, reduction="batchmean").item()
    0.0
    """
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"kl_div: reduction must be one of {_REDUCTIONS + ('batchmean',)}, "
                         f"got {reduction!r}")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    target = _as_tensor(target, input)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # t log t is 0 at t == 0; log reads 1 there, so no 0 * -inf reaches the gradient.
        positive = target > 0
        t_log_t = ew.where(positive, target * ew.where(positive, target, 1).log(), 0)
        loss = t_log_t - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


class BinaryCrossEntropy(Function):
    """-(t log x + (1 - t) log(1 - x)) with each log clamped to >= -100 (PyTorch's), so the
    loss stays finite at x = 0 or 1. The gradients are PyTorch's: (x - t) / max(x (1 - x),
    1e-12) for x (finite at 0 and 1), log(1 - x) - log(x) for t."""

    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, x, t):
        with np.errstate(divide="ignore"):  # log(0) = -inf, clamped just below
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        return -(t * log_x + (1 - t) * log_1mx)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        d_x, d_t = _bce_partials(x, t)
        return g * d_x, g * d_t

    @staticmethod
    def jvp(ctx, t_x, t_t):
        d_x, d_t = _bce_partials(*ctx.inputs)
        out = None if t_x is None else d_x * t_x
        if t_t is not None:
            out = d_t * t_t if out is None else out + d_t * t_t
        return out


_BCE_EPS = float(np.float32(1e-12))  # PyTorch's EPSILON is a C float


def _bce_partials(x, t):
    """d loss / d x and d loss / d t as Tensor ops (differentiable again)."""
    d_x = (x - t) / ew.maximum(x * (1 - x), _BCE_EPS)
    with np.errstate(divide="ignore"):  # an infinite slope in t at x = 0 or 1, as PyTorch's
        d_t = (-x).log1p() - x.log()
    return d_x, d_t


@public_op
def binary_cross_entropy(input, target, weight=None, *, reduction="mean"):
    """Binary cross-entropy of probabilities ``input`` in [0, 1]; each log is clamped to at
    least -100, as in PyTorch. Prefer ``binary_cross_entropy_with_logits`` on logits.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> round(F.binary_cross_entropy(gg.tensor([0.5, 0.0]), gg.tensor([1.0, 1.0]),
    ...                              reduction="none")[0].item(), 4)
    0.6931
    >>> F.binary_cross_entropy(gg.tensor([0.0]), gg.tensor([1.0])).item()
    100.0
    """
    name = "binary_cross_entropy"
    _check_reduction(name, reduction)
    target = _as_tensor(target, input)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the "
                         "same size.")
    x = input._data
    # ~(0 <= x <= 1) so that NaN fails too
    require_valid(~((x >= 0) & (x <= 1)), RuntimeError,
                  lambda _: "binary_cross_entropy: all elements of input should be between "
                            "0 and 1")
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction)


@public_op
def cosine_embedding_loss(input1, input2, target, margin=0.0, *, reduction="mean"):
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1, over
    the last dimension of (N, D) or (D,) inputs (PyTorch's formula, eps 1e-12 on the
    squared norms).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> x = gg.tensor([[1.0, 0.0], [1.0, 0.0]])
    >>> F.cosine_embedding_loss(x, x, gg.tensor([1, -1]), reduction="none").tolist()
    [0.0, 1.0]
    """
    name = "cosine_embedding_loss"
    _check_reduction(name, reduction)
    if input1.ndim not in (1, 2) or input1.shape != input2.shape:
        raise RuntimeError(f"{name}: expected two 1D or 2D inputs of one shape, got "
                           f"{input1.shape} and {input2.shape}")
    target = _as_tensor(target, input1)
    if target.ndim != input1.ndim - 1:
        raise RuntimeError(f"{name}: a {input1.ndim}D input needs a {input1.ndim - 1}D "
                           f"target, got shape {target.shape}")
    cos = _cosine_similarity_eps(input1, input2, input1.ndim - 1)
    loss = (ew.where(target == 1, 1 - cos, 0)
            + ew.where(target == -1, (cos - margin).clamp(min=0), 0))
    return _reduce(loss, reduction)


@public_op
def margin_ranking_loss(input1, input2, target, margin=0, *, reduction="mean"):
    """max(0, -target * (x1 - x2) + margin): target 1 asks for x1 > x2, -1 for x2 > x1.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> x1, x2 = gg.tensor([1.0, 1.0]), gg.tensor([0.0, 0.0])
    >>> F.margin_ranking_loss(x1, x2, gg.tensor([1.0, -1.0]), reduction="none").tolist()
    [0.0, 1.0]
    """
    name = "margin_ranking_loss"
    _check_reduction(name, reduction)
    target = _as_tensor(target, input1)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ShapeError(f"{name} : All input tensors should have same dimension but got "
                         f"sizes: input1: {input1.shape}, input2: {input2.shape}, target: "
                         f"{target.shape}")
    check_floating(name, input1)
    check_floating(name, input2)
    # clamp, not relu: its slope at exactly 0 is 1, as PyTorch's clamp_min.
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return _reduce(loss, reduction)


@public_op
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, *,
                        reduction="mean"):
    """max(0, d(a, p) - d(a, n) + margin) with d the ``pairwise_distance``; ``swap`` uses
    min(d(a, n), d(p, n)) for the negative distance.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> a, pos, neg = gg.tensor([[0.0, 0.0]]), gg.tensor([[0.0, 1.0]]), gg.tensor([[3.0, 4.0]])
    >>> F.triplet_margin_loss(a, pos, neg, eps=0).item()
    0.0
    """
    name = "triplet_margin_loss"
    _check_reduction(name, reduction)
    dims = [t.ndim for t in (anchor, positive, negative)]
    if not dims[0] == dims[1] == dims[2]:
        raise ShapeError(f"{name}: The anchor, positive, and negative tensors are expected to "
                         f"have the same number of dimensions, but got: anchor {dims[0]}D, "
                         f"positive {dims[1]}D, and negative {dims[2]}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ew.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    loss = (d_pos - d_neg + margin).clamp(min=0)
    return _reduce(loss, reduction)
