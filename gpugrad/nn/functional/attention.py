"""``scaled_dot_product_attention``: softmax(q k^T * scale + mask) v as one fused op.

One ``Function`` computes the scores, the row-stable softmax (the row maximum is subtracted
first), the optional dropout of the weights and the product with v; its backward works from
the probabilities forward kept, so no intermediate (scores, weights) is a graph node.

Masks follow PyTorch: a boolean mask keeps the positions where it is True, a float mask is
added to the scores; both broadcast against (..., L, S). A row that every position is masked
out of (all scores -inf) gives 0, not NaN, as PyTorch's CPU implementation does since its
"safe softmax" (2.5); its gradients are 0 too, and no NaN reaches the other rows.

On CuPy arrays with the kernels on, the flash-style kernels of ``kernels/attention.py`` run
forward and backward without the (L, S) weights: forward keeps only the output and each
row's logsumexp, backward recomputes the weights tile by tile. They take float32/float64,
head dims up to 128, causal, boolean and float masks (broadcast over batch and heads), any
scale and grouped-query attention, where query, key and value have the same batch dims
(heads aside). Dropout, batch dims that broadcast, and the gradient of a float mask take
the generic path; so do double backward and forward mode, which recompute the weights.

On NumPy float32/float64 arrays without a mask (causal or not), the scaled, masked softmax
and its backward are the Numba row loops of ``kernels/_cpu_rows.py`` (the causal ones skip
the keys after each query), in place on the scores the BLAS products make.
"""
import math
import numbers

import numpy as np

from ... import cuda
from ...autograd.function import Function
from ...random import draw_seed
from ...kernels import attention as attention_kernels
from ...ops.errors import DTypeError, ShapeError, public_op
from ...ops._util import bfloat16_in_float32, has_bfloat16
from ._util import differentiating
from .activation import _upcast, softmax
from .dropout import Dropout

_NAME = "scaled_dot_product_attention"


class ScaledDotProductAttention(Function):
    """out = dropout(softmax(q k^T * scale [+ causal mask])) v for inputs (q, k, v).

    ``groups`` > 1 is grouped-query attention: key/value head h serves query heads
    h * groups ... h * groups + groups - 1 (PyTorch's ``repeat_interleave`` on dim -3).

    >>> q = gg.ones(1, 2, 3)
    >>> params = dict(scale=1.0, causal=True, groups=1, p=0.0, seed=0)
    >>> ScaledDotProductAttention.apply(q, q, gg.tensor([[[1.0], [3.0]]]), **params).tolist()
    [[[1.0], [2.0]]]
    """

    saves_inputs = (0, 1, 2)

    @staticmethod
    def forward(ctx, xp, q, k, v, mask=None, *, scale, causal, groups, p, seed):
        ctx.scale, ctx.causal, ctx.groups, ctx.p, ctx.seed = scale, causal, groups, p, seed
        ctx.mask_dtype = None if mask is None else mask.dtype
        ctx.fused = _fused(xp, q, k, v, ctx)
        ctx.cpu_rows = not ctx.fused and _cpu_rows(xp, ctx, q, k, v, mask)
        if ctx.fused:
            ctx.probs = None  # the kernels recompute the weights from the logsumexp
            return _flash_forward(ctx, q, k, v, mask)
        ctx.probs = _forward_probs(xp, ctx, q, k, mask)
        return _dropped(xp, ctx.probs, p, seed) @ _repeat(xp, v, groups)

    @staticmethod
    def backward(ctx, g):
        q, k, v, *mask = ctx.saved_tensors
        mask = mask[0] if mask else None
        need = ctx.needs_input_grad
        need_mask = mask is not None and need[3] and mask.dtype.kind == "f"
        if ctx.fused and not (differentiating() or need_mask):
            return _grads(ctx, *_flash_backward(ctx, g, q, k, v, mask, need), None)
        if ctx.cpu_rows and not (differentiating() or need_mask):
            return _grads(ctx, *_rows_backward(ctx, g, q, k, v, need), None)
        probs = _probs(ctx, q, k, mask)
        gv = None
        if need[2]:
            gv = _unrepeat(_dropout(ctx, probs).transpose(-1, -2) @ g, ctx.groups)
        if not (need[0] or need[1] or need_mask):
            return _grads(ctx, None, None, gv, None)
        d_scores = _scores_grad(ctx, g, probs, v)
        gq = (d_scores @ _repeated(k, ctx.groups)) * ctx.scale if need[0] else None
        gk = None
        if need[1]:
            gk = _unrepeat(d_scores.transpose(-1, -2) @ q, ctx.groups) * ctx.scale
        return _grads(ctx, gq, gk, gv, d_scores if need_mask else None)

    @staticmethod
    def jvp(ctx, tq, tk, tv, tmask=None):
        q, k, v, *mask = ctx.inputs
        probs = _probs(ctx, q, k, mask[0] if mask else None)
        d_scores = _scores_tangent(ctx, q, k, tq, tk, tmask)
        out = None
        if d_scores is not None:
            d_probs = probs * (d_scores - (d_scores * probs).sum(-1, keepdim=True))
            out = _dropout(ctx, d_probs) @ _repeated(v, ctx.groups)
        if tv is not None:
            term = _dropout(ctx, probs) @ _repeated(tv, ctx.groups)
            out = term if out is None else out + term
        return out if out is not None else ctx.output * 0


class MaskedScaledDotProductAttention(ScaledDotProductAttention):
    """The same op with a fourth input, the mask (kept for double backward).

    >>> q, keep = gg.ones(1, 2, 3), gg.tensor([[False, True], [True, True]])
    >>> params = dict(scale=1.0, causal=False, groups=1, p=0.0, seed=0)
    >>> v = gg.tensor([[[1.0], [3.0]]])
    >>> MaskedScaledDotProductAttention.apply(q, q, v, keep, **params).tolist()
    [[[3.0], [2.0]]]
    """

    saves_inputs = (0, 1, 2, 3)


# ---- array helpers (forward) -------------------------------------------------------------
def _forward_probs(xp, ctx, q, k, mask):
    """The attention weights (before dropout) as an array in q's dtype."""
    scores = q @ xp.swapaxes(_repeat(xp, k, ctx.groups), -1, -2)
    if ctx.cpu_rows:
        rows = _by_rows(scores)
        _rows_kernels().attention_softmax(rows, scores.dtype.type(ctx.scale), ctx.causal)
        return rows.reshape(scores.shape)
    scores *= ctx.scale
    return _masked_softmax(xp, _apply_mask(xp, scores, mask, ctx.causal)).astype(
        q.dtype, copy=False)


def _cpu_rows(xp, ctx, q, k, v, mask):
    """Do the Numba row loops of ``kernels/_cpu_rows.py`` take this call's softmax and its
    backward? NumPy float32/float64 arrays, no mask but the causal one, and query, key and
    value of one batch shape (no GQA, no broadcasting)."""
    return (xp is np and mask is None and ctx.groups == 1
            and q.dtype in (np.float32, np.float64)
            and q.shape[:-2] == k.shape[:-2] == v.shape[:-2])


def _rows_kernels():
    from ...kernels import _cpu_rows  # imports Numba: on first use only
    return _cpu_rows


def _by_rows(a):
    """(..., L, S) as a C-contiguous (heads, L, S) array, the kernels' layout: a view of a
    C-contiguous ``a`` (NumPy's matmul may lay its output out otherwise), else a copy."""
    return np.ascontiguousarray(a).reshape((math.prod(a.shape[:-2]),) + a.shape[-2:])


def _rows_backward(ctx, g, q, k, v, need):
    """(dq, dk, dv) on arrays from the weights forward kept, the softmax's gradient by one
    row loop (which also folds in the scale)."""
    probs, gd = ctx.probs, g._data
    qd, kd, vd = q._data, k._data, v._data
    gq = gk = gv = None
    if need[2]:
        gv = g._like(np.swapaxes(_dropped(np, probs, ctx.p, ctx.seed), -1, -2) @ gd)
    if need[0] or need[1]:
        d_scores = gd @ np.swapaxes(vd, -1, -2)
        if ctx.p > 0.0:
            d_scores = _dropout(ctx, g._like(d_scores))._data
        rows = _by_rows(d_scores)
        _rows_kernels().attention_softmax_backward(
            rows, _by_rows(probs), probs.dtype.type(ctx.scale), ctx.causal)
        d_scores = rows.reshape(d_scores.shape)
        gq = g._like(d_scores @ kd) if need[0] else None
        gk = g._like(np.swapaxes(d_scores, -1, -2) @ qd) if need[1] else None
    return gq, gk, gv


def _fused(xp, q, k, v, ctx):
    """Do the flash kernels take this call? No dropout, kernel dtypes, head dims up to 128,
    and one batch shape for query, key and value (key/value heads aside under GQA)."""
    if ctx.p > 0.0 or not cuda.use_kernels(xp, q, k, v):
        return False
    if not (q.ndim == k.ndim == v.ndim and q.dtype == k.dtype == v.dtype):
        return False
    kv_lead = k.shape[:-2]
    if ctx.groups > 1:
        kv_lead = kv_lead[:-1] + (kv_lead[-1] * ctx.groups,)
    return (q.shape[:-2] == kv_lead and k.shape[:-2] == v.shape[:-2]
            and attention_kernels.supports(*_heads(q, k, v)))


def _heads(*arrays):
    """Arrays (..., rows, cols) as (heads, rows, cols)."""
    return tuple(a.reshape((-1,) + a.shape[-2:]) for a in arrays)


def _kernel_mask(q, mask):
    """The mask as the kernels read it: (M, Lm, Sm) and the head divisor ``inner``."""
    if mask is None:
        return None, 1
    return attention_kernels.broadcast_mask(mask, q.shape[:-2])


def _flash_forward(ctx, q, k, v, mask):
    q3, k3, v3 = _heads(q, k, v)
    out, ctx.lse = attention_kernels.attention_forward(
        q3, k3, v3, *_kernel_mask(q, mask), causal=ctx.causal, scale=ctx.scale)
    ctx.flash_out = out
    return out.reshape(q.shape[:-1] + v.shape[-1:])


def _flash_backward(ctx, g, q, k, v, mask, need):
    """(dq, dk, dv) by the backward kernels, as Tensors where ``need`` asks for them."""
    arrays = (q._data, k._data, v._data)
    mask = None if mask is None else mask._data
    grads = attention_kernels.attention_backward(
        g._data.reshape(ctx.flash_out.shape), *_heads(*arrays), ctx.flash_out, ctx.lse,
        *_kernel_mask(q._data, mask), causal=ctx.causal, scale=ctx.scale)
    return tuple(g._like(d.reshape(a.shape)) if wanted else None
                 for d, a, wanted in zip(grads, arrays, need))


def _repeat(xp, a, groups):
    return a if groups == 1 else xp.repeat(a, groups, axis=-3)


def _causal_keep(xp, rows, cols):
    """PyTorch's causal mask: query i sees keys 0..i, aligned at the top-left corner."""
    return xp.tri(rows, cols, 0, dtype=bool)


def _apply_mask(xp, scores, mask, causal):
    if mask is not None and mask.dtype == np.bool_:
        scores = xp.where(mask, scores, -xp.inf)
    elif mask is not None:
        scores = scores + mask
    if causal:
        scores = xp.where(_causal_keep(xp, *scores.shape[-2:]), scores, -xp.inf)
    return scores


def _masked_softmax(xp, scores):
    """Softmax over the last axis; rows that are -inf throughout give 0 (PyTorch's safe
    softmax), which the shift by a finite stand-in maximum makes fall out of exp."""
    if scores.shape[-1] == 0:
        return scores.copy()
    z = _upcast(scores)
    top = z.max(axis=-1, keepdims=True)
    dead = top == -xp.inf
    e = xp.exp(z - xp.where(dead, 0.0, top))
    total = e.sum(axis=-1, keepdims=True)
    return e / xp.where(dead, 1.0, total)


def _dropped(xp, probs, p, seed):
    """The weights after the Dropout op's own forward, so that backward's ``Dropout.apply``
    with the same seed redraws the identical mask (on the GPU too, where a kernel draws it)."""
    if p == 0.0:
        return probs
    return Dropout.forward(_Scratch(), xp, probs, p, seed)


class _Scratch:
    """A throwaway context for calling another op's forward on arrays."""


# ---- Tensor helpers (backward, jvp) --------------------------------------------------------
def _repeated(t, groups):
    """``t`` with each head (dim -3) repeated ``groups`` times in place, as a view-like op."""
    if groups == 1:
        return t
    lead, (heads, rows, cols) = t.shape[:-3], t.shape[-3:]
    return (t.unsqueeze(-3).expand(*lead, heads, groups, rows, cols)
            .reshape(*lead, heads * groups, rows, cols))


def _unrepeat(t, groups):
    """The adjoint of ``_repeated``: sum each group of ``groups`` heads."""
    if groups == 1:
        return t
    lead, (heads, rows, cols) = t.shape[:-3], t.shape[-3:]
    return t.reshape(*lead, heads // groups, groups, rows, cols).sum(-3)


def _dropout(ctx, t):
    return t if ctx.p == 0.0 else Dropout.apply(t, p=ctx.p, seed=ctx.seed)


def _probs(ctx, q, k, mask):
    """The attention weights as a Tensor: forward's array, or, when the gradient will itself
    be differentiated, recomputed with Tensor ops of q, k and the mask."""
    if ctx.probs is None:  # the flash kernels kept no weights: recompute them once
        mask_data = None if mask is None else mask._data
        ctx.probs = _forward_probs(q._backend.xp, ctx, q._data, k._data, mask_data)
    if not differentiating():
        return q._like(ctx.probs)
    scores = q @ _repeated(k, ctx.groups).transpose(-1, -2) * ctx.scale
    if mask is not None and mask.dtype == np.bool_:
        scores = scores.masked_fill(~mask, -math.inf)
    elif mask is not None:
        scores = scores + mask
    if ctx.causal:
        keep = _causal_keep(q._backend.xp, *scores.shape[-2:])
        scores = scores.masked_fill(q._like(~keep), -math.inf)
    dead = q._like(ctx.probs.sum(axis=-1, keepdims=True) == 0)
    # Dead rows get finite scores before softmax: NaN there would reach every gradient.
    return softmax(scores.masked_fill(dead, 0.0), dim=-1).masked_fill(dead, 0.0)


def _scores_grad(ctx, g, probs, v):
    """d loss / d scores through the weights' dropout and the softmax."""
    d_dropped = g @ _repeated(v, ctx.groups).transpose(-1, -2)
    if d_dropped.shape != probs.shape:
        # v's batch dims broadcast the weights: forward dropped them in their own shape.
        d_dropped = d_dropped.sum_to_size(*probs.shape)
    d_probs = _dropout(ctx, d_dropped)
    return probs * (d_probs - (d_probs * probs).sum(-1, keepdim=True))


def _grads(ctx, gq, gk, gv, gmask):
    grads = (gq, gk, gv)
    if len(ctx.next) == 3:
        return grads
    if gmask is not None and gmask.dtype != ctx.mask_dtype:
        gmask = gmask.to(dtype=ctx.mask_dtype)  # a float32 mask of float64 attention
    return grads + (gmask,)


def _scores_tangent(ctx, q, k, tq, tk, tmask):
    terms = []
    if tq is not None:
        terms.append(tq @ _repeated(k, ctx.groups).transpose(-1, -2) * ctx.scale)
    if tk is not None:
        terms.append(q @ _repeated(tk, ctx.groups).transpose(-1, -2) * ctx.scale)
    if tmask is not None:
        terms.append(tmask)
    if not terms:
        return None
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


# ---- the public function ----------------------------------------------------------------
@public_op
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(query key^T * scale + mask) value over the last two dims, as
    ``torch.nn.functional.scaled_dot_product_attention``: query (..., L, E), key (..., S, E),
    value (..., S, Ev) give (..., L, Ev). ``attn_mask`` is boolean (True = attend) or added
    to the scores; ``scale`` defaults to 1 / sqrt(E); ``enable_gqa`` shares each key/value
    head among query heads. A row with no position to attend to gives 0.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> q, k = gg.ones(1, 2, 4), gg.ones(1, 3, 4)
    >>> v = gg.tensor([[[1.0], [2.0], [3.0]]])
    >>> F.scaled_dot_product_attention(q, k, v).tolist()
    [[[2.0], [2.0]]]
    >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).tolist()
    [[[1.0], [1.5]]]
    """
    if has_bfloat16(query, key, value, attn_mask):
        return bfloat16_in_float32(scaled_dot_product_attention, query, key, value,
                                   attn_mask, dropout_p, is_causal, scale, enable_gqa)
    _check_inputs(query, key, value)
    groups = _groups(query, key, enable_gqa)
    _check_mask(attn_mask, _scores_shape(query, key, value, groups), is_causal)
    scale = _scale(query, scale)
    p = _dropout_p(dropout_p)
    seed = _draw_seed() if p > 0.0 else 0
    params = dict(scale=scale, causal=bool(is_causal), groups=groups, p=p, seed=seed)
    if attn_mask is None:
        return ScaledDotProductAttention.apply(query, key, value, **params)
    return MaskedScaledDotProductAttention.apply(query, key, value, attn_mask, **params)


def _check_inputs(query, key, value):
    dtype = query.dtype
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.dtype.kind != "f" or t.dtype != dtype:
            raise DTypeError(f"{_NAME}: expected query, key and value of one floating point "
                             f"dtype, got {query.dtype}, {key.dtype} and {value.dtype}")
        if t.ndim < 2:
            raise ShapeError(f"{_NAME}: expected {name} with at least 2 dims (..., length, "
                             f"features), got shape {t.shape}")
    if key.shape[-1] != query.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ShapeError(f"{_NAME}: expected query (..., L, E), key (..., S, E) and value "
                         f"(..., S, Ev), got {query.shape}, {key.shape} and {value.shape}")


def _groups(query, key, enable_gqa):
    """How many query heads share one key/value head (dim -3)."""
    if not (enable_gqa and query.ndim >= 3 and key.ndim >= 3):
        return 1
    heads, kv_heads = query.shape[-3], key.shape[-3]
    if kv_heads == 0 or heads % kv_heads:
        raise ShapeError(f"{_NAME}: with enable_gqa the query heads ({heads}) must be a "
                         f"multiple of the key and value heads ({kv_heads})")
    return heads // kv_heads


def _scores_shape(query, key, value, groups):
    """(..., L, S), checking that the batch dims (heads repeated for GQA) broadcast."""
    lead = [t.shape[:-2] for t in (query, key, value)]
    if groups > 1:
        lead[1:] = [shape[:-1] + (shape[-1] * groups,) for shape in lead[1:]]
    try:
        np.broadcast_shapes(*lead)
    except ValueError:
        raise ShapeError(f"{_NAME}: the batch dims of query {query.shape}, key {key.shape} "
                         f"and value {value.shape} do not broadcast") from None
    return np.broadcast_shapes(lead[0], lead[1]) + (query.shape[-2], key.shape[-2])


def _check_mask(mask, scores, is_causal):
    if mask is None:
        return
    if is_causal:
        raise RuntimeError(f"{_NAME}: explicit attn_mask should not be set when "
                           "is_causal=True")
    if mask.dtype != np.bool_ and mask.dtype.kind != "f":
        raise DTypeError(f"{_NAME}: expected a bool or floating point attn_mask, got "
                         f"{mask.dtype}")
    try:
        fits = np.broadcast_shapes(mask.shape, scores) == scores
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"{_NAME}: attn_mask of shape {mask.shape} does not broadcast to "
                         f"the attention scores' shape {scores}")


def _scale(query, scale):
    if scale is None:
        features = query.shape[-1]
        return 1.0 / math.sqrt(features) if features else 1.0
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"{_NAME}: scale must be a number or None, got "
                        f"{type(scale).__name__}")
    return float(scale)


def _dropout_p(p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{_NAME}: dropout_p has to be between 0 and 1, but got {p!r}")
    return float(p)


def _draw_seed():
    """A dropout seed from the CPU generator ``gg.manual_seed`` seeds, as ``F.dropout``."""
    return draw_seed()
