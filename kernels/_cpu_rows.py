"""Numba row loops behind layer norm, attention's softmax and cross-entropy's softmax on
the NumPy backend; importing this module imports Numba (not CUDA).

Each loop keeps one row (a layer-norm row of features, an attention row of keys, a row of
logits) in cache and passes over it a few times, where the NumPy path makes a full-size
temporary per step. Layer norm sums in float64; the softmax rows sum in their own dtype
(float32 sums vectorise, and may be reordered, as PyTorch's are). ``exp`` is
:mod:`._cpu_exp`'s, which vectorises in float32. Compiled on first call per signature and
cached on disk.

The loops run on one thread. Their ``prange`` versions were faster at 2 threads in their
best runs (layer-norm backward 0.22 -> 0.17 ms, attention softmax 0.71 -> 0.41 ms) but
10-100x slower in their median ones on a busy 2-core machine, where each loop waits for a
second core. Measured again (transformer sizes, float32, medians of 31, OpenMP workers
passive, the second core lightly loaded): layer-norm forward (2048, 128) 0.164 ms serial,
0.205 / 0.164 ms prange at 1 / 2 threads; attention softmax (128, 64, 64) causal 0.70,
0.72 / 0.55; its backward 0.36, 0.35 / 0.38; logsumexp rows (2048, 1000) 1.85, 1.87 / 1.94;
softmax rows 1.49, 1.73 / 1.83. No consistent gain, small losses at 1 thread, and with
spinning workers a 2-thread loop took 8 ms (a scheduler time slice): they stay serial.
"""
import math

import numba
import numpy as np

from ._cpu_exp import exp

# Sums may be reordered (so they vectorise); no assumption about inf or NaN.
_REASSOC = {"reassoc", "contract"}


@numba.njit(cache=True, fastmath=_REASSOC)
def layer_norm_forward(x, weight, bias, eps, out, mean, rstd):
    """out = (x - mean) * rstd * weight + bias over each row of the 2-D ``x``; fills the
    per-row ``mean`` and ``rstd`` (float64) that :func:`layer_norm_backward` reads."""
    rows, cols = x.shape
    for r in range(rows):
        total = 0.0
        for c in range(cols):
            total += x[r, c]
        mu = total / cols
        square = 0.0
        for c in range(cols):
            d = x[r, c] - mu
            square += d * d
        inv = 1.0 / math.sqrt(square / cols + eps)
        mean[r], rstd[r] = mu, inv
        for c in range(cols):
            out[r, c] = (x[r, c] - mu) * inv * weight[c] + bias[c]


@numba.njit(cache=True, fastmath=_REASSOC)
def layer_norm_backward(g, x, weight, mean, rstd, gx, gw, gb):
    """gx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) with dxhat = g * weight, into
    ``gx``; the weight's and bias's gradients (sums over rows) added into the float64 rows
    ``gw`` and ``gb``."""
    rows, cols = x.shape
    for r in range(rows):
        mu, inv = mean[r], rstd[r]
        s1 = 0.0
        s2 = 0.0
        for c in range(cols):
            h = (x[r, c] - mu) * inv
            dh = g[r, c] * weight[c]
            s1 += dh
            s2 += dh * h
            gw[c] += g[r, c] * h
            gb[c] += g[r, c]
        s1 /= cols
        s2 /= cols
        for c in range(cols):
            h = (x[r, c] - mu) * inv
            gx[r, c] = inv * (g[r, c] * weight[c] - s1 - h * s2)


@numba.njit(cache=True, fastmath=_REASSOC)
def attention_softmax(scores, scale, causal):
    """softmax(scores * scale) over the last axis of the 3-D ``scores``, in place; with
    ``causal`` row i keeps keys 0..i (the rest become 0, and get no ``exp``). A row whose
    scores are all -inf becomes 0 (PyTorch's safe softmax). ``scale`` has the scores' dtype,
    so that float32 scores stay in float32 (and take the vectorised ``exp``)."""
    heads, length, keys = scores.shape
    zero = scale - scale
    for h in range(heads):
        for i in range(length):
            end = min(i + 1, keys) if causal else keys
            if end == 0:
                continue
            top = scores[h, i, 0] * scale
            for j in range(end):
                s = scores[h, i, j] * scale
                scores[h, i, j] = s
                top = s if s > top else top
            if top == -np.inf:
                top = zero  # every exp is then exp(-inf) = 0, and the row stays 0
            total = zero
            for j in range(end):
                e = exp(scores[h, i, j] - top)
                scores[h, i, j] = e
                total += e
            inv = zero if total == zero else 1 / total  # a NaN total keeps its NaN
            for j in range(end):
                scores[h, i, j] *= inv
            for j in range(end, keys):
                scores[h, i, j] = zero


@numba.njit(cache=True, fastmath=_REASSOC)
def attention_softmax_backward(d_probs, probs, scale, causal):
    """scale * probs * (d_probs - sum(d_probs * probs)) over the last axis, into
    ``d_probs``: the gradient of the scaled scores. ``causal`` skips the keys after each
    query, whose weights are 0."""
    heads, length, keys = probs.shape
    zero = scale - scale
    for h in range(heads):
        for i in range(length):
            end = min(i + 1, keys) if causal else keys
            dot = zero
            for j in range(end):
                dot += d_probs[h, i, j] * probs[h, i, j]
            for j in range(end):
                d_probs[h, i, j] = scale * probs[h, i, j] * (d_probs[h, i, j] - dot)
            for j in range(end, keys):
                d_probs[h, i, j] = zero


@numba.njit(cache=True, fastmath=_REASSOC)
def logsumexp_rows(x, lse):
    """lse[r] = log(sum(exp(x[r]))) of each row of the 2-D ``x``, shifted by the row maximum
    (nothing overflows); one read of ``x``, each row's exps summed while it is in cache.
    A row of -inf gives -inf, a row holding +inf or NaN gives NaN or +inf as NumPy's
    max-shifted formula does."""
    rows, cols = x.shape
    zero = np.zeros(1, x.dtype)[0]  # sums in x's dtype: float32 ones vectorise, 2x faster
    for r in range(rows):
        top = x[r, 0]
        for c in range(cols):
            v = x[r, c]
            top = v if v > top else top
        if top == -np.inf or top == np.inf or top != top:
            lse[r] = np.nan  # as x - max(x) gives: -inf - -inf, inf - inf
            continue
        total = zero
        for c in range(cols):
            total += exp(x[r, c] - top)
        lse[r] = math.log(total) + top


@numba.njit(cache=True, fastmath=_REASSOC)
def softmax_scaled_rows(x, lse, scale, out):
    """out[r, c] = scale[r] * exp(x[r, c] - lse[r]): each row's softmax (from its
    log-sum-exp) times a per-row factor, in one pass."""
    rows, cols = x.shape
    for r in range(rows):
        shift, factor = lse[r], scale[r]
        for c in range(cols):
            out[r, c] = factor * exp(x[r, c] - shift)
