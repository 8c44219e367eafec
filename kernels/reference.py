"""Vectorised NumPy/CuPy references for every kernel: the test oracle and the math, written out.

Each function has the signature of the launcher it checks and works on NumPy or CuPy arrays
(it is also the generic CuPy chain that the fused kernels replace in the benchmarks).
"""
import numpy as np

from ._launch import array_module
from .dropout import dropout_mask


def softmax(x, log=False):
    """Softmax (or log-softmax) over the last axis of a 2-D array.

    >>> softmax(np.zeros((1, 2)))
    array([[0.5, 0.5]])
    """
    xp = array_module(x)
    shifted = x - x.max(axis=-1, keepdims=True)  # exp never overflows
    lse = xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))
    return shifted - lse if log else xp.exp(shifted - lse)


def softmax_backward(grad_out, out, log=False):
    """Gradient of :func:`softmax` from its output.

    softmax: dx = y * (g - sum(g * y)); log-softmax: dx = g - exp(y) * sum(g).

    >>> softmax_backward(np.ones((1, 2)), np.full((1, 2), 0.5))
    array([[0., 0.]])
    """
    xp = array_module(out)
    if log:
        return grad_out - xp.exp(out) * grad_out.sum(axis=-1, keepdims=True)
    return out * (grad_out - (grad_out * out).sum(axis=-1, keepdims=True))


def softmax_xent_forward(logits, targets, ignore_index=-100, label_smoothing=0.0):
    """Per-row cross-entropy of softmax(logits) with integer targets, and each row's lse.

    loss_i = (1 - ls) * (lse_i - x[i, t_i]) + ls * (lse_i - mean_c x[i, c]) (PyTorch's
    label smoothing); rows whose target is ``ignore_index`` get 0.

    >>> loss, lse = softmax_xent_forward(np.zeros((1, 2)), np.array([0]))
    >>> loss.round(4), lse.round(4)
    (array([0.6931]), array([0.6931]))
    """
    xp = array_module(logits)
    m = logits.max(axis=1, keepdims=True)
    lse = (m + xp.log(xp.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
    valid = targets != ignore_index
    safe = xp.where(valid, targets, 0)
    picked = xp.take_along_axis(logits, safe[:, None], axis=1)[:, 0]
    loss = lse - picked
    if label_smoothing != 0:  # skipped, not multiplied by 0: masked (-inf) logits stay finite
        loss = (1.0 - label_smoothing) * loss + label_smoothing * (lse - logits.mean(axis=1))
    return xp.where(valid, loss, 0).astype(logits.dtype), lse.astype(logits.dtype)


def softmax_xent_backward(grad_loss, logits, targets, lse, ignore_index=-100,
                          label_smoothing=0.0):
    """Gradient of :func:`softmax_xent_forward` w.r.t. logits, softmax rebuilt from lse.

    dx[i, c] = g_i * (p[i, c] - (1 - ls) * [c == t_i] - ls / C), 0 on ignored rows.

    >>> softmax_xent_backward(np.ones(1), np.zeros((1, 2)), np.array([0]), np.log([2.0]))
    array([[-0.5,  0.5]])
    """
    xp = array_module(logits)
    n, c = logits.shape
    valid = targets != ignore_index
    dx = xp.exp(logits - lse[:, None]) - label_smoothing / c
    rows = xp.arange(n)
    dx[rows, xp.where(valid, targets, 0)] -= 1.0 - label_smoothing
    return (dx * xp.where(valid, grad_loss, 0)[:, None]).astype(logits.dtype)


def layer_norm_forward(x, gamma, beta, eps=1e-5):
    """LayerNorm over the last axis; returns (y, mean, rstd) with per-row mean and rstd.

    >>> y, mean, rstd = layer_norm_forward(np.array([[1.0, 3.0]]), np.ones(2), np.zeros(2))
    >>> y.round(3), mean, rstd.round(3)
    (array([[-1.,  1.]]), array([2.]), array([1.]))
    """
    xp = array_module(x)
    mean = x.mean(axis=-1)
    var = ((x - mean[:, None]) ** 2).mean(axis=-1)  # biased, as PyTorch normalises
    rstd = 1.0 / xp.sqrt(var + eps)
    y = (x - mean[:, None]) * rstd[:, None] * gamma + beta
    return y.astype(x.dtype), mean.astype(x.dtype), rstd.astype(x.dtype)


def layer_norm_backward(grad_out, x, gamma, mean, rstd):
    """Gradients (dx, dgamma, dbeta) of :func:`layer_norm_forward`.

    With xhat = (x - mean) * rstd and wg = g * gamma:
    dx = rstd * (wg - mean(wg) - xhat * mean(wg * xhat)); dgamma = sum_rows g * xhat.

    >>> x = np.array([[1.0, 3.0]])
    >>> dx, dg, db = layer_norm_backward(np.ones((1, 2)), x, np.ones(2), np.ones(1) * 2, np.ones(1))
    >>> dx, dg, db
    (array([[0., 0.]]), array([-1.,  1.]), array([1., 1.]))
    """
    xhat = (x - mean[:, None]) * rstd[:, None]
    wg = grad_out * gamma
    dx = rstd[:, None] * (wg - wg.mean(axis=-1, keepdims=True)
                          - xhat * (wg * xhat).mean(axis=-1, keepdims=True))
    dgamma = (grad_out * xhat).sum(axis=0)
    return dx.astype(x.dtype), dgamma.astype(gamma.dtype), grad_out.sum(axis=0).astype(gamma.dtype)


def embedding_backward(grad_out, indices, num_embeddings, padding_idx=None):
    """Dense weight gradient of an embedding lookup: rows of grad_out summed per index.

    >>> embedding_backward(np.ones((3, 1)), np.array([2, 0, 2]), 3)
    array([[1.],
           [0.],
           [2.]])
    """
    xp = array_module(grad_out)
    idx = indices.reshape(-1)
    grad = grad_out.reshape(idx.size, -1)
    dweight = xp.zeros((num_embeddings, grad.shape[1]), dtype=grad_out.dtype)
    xp.add.at(dweight, idx, grad)  # unbuffered: repeated indices accumulate
    if padding_idx is not None:
        dweight[padding_idx] = 0
    return dweight


def embedding_backward_sparse(grad_out, indices, padding_idx=None):
    """Row-sparse weight gradient: (sorted unique indices, summed grad rows for each).

    >>> rows, values = embedding_backward_sparse(np.ones((3, 1)), np.array([2, 0, 2]))
    >>> rows, values[:, 0]
    (array([0, 2]), array([1., 2.]))
    """
    xp = array_module(grad_out)
    idx = indices.reshape(-1)
    grad = grad_out.reshape(idx.size, -1)
    if padding_idx is not None:
        keep = idx != padding_idx
        idx, grad = idx[keep], grad[keep]
    unique, inverse = xp.unique(idx, return_inverse=True)
    values = xp.zeros((unique.size, grad.shape[1]), dtype=grad_out.dtype)
    xp.add.at(values, inverse.reshape(-1), grad)
    return unique, values


def dropout_forward(x, p, seed, offset=0):
    """y = x * mask / (1 - p), mask drawn by :func:`~.dropout.dropout_mask` (0 if p == 1).

    >>> dropout_forward(np.ones(4), 0.0, seed=0)
    array([1., 1., 1., 1.])
    """
    xp = array_module(x)
    mask = dropout_mask(seed, offset, x.shape, p, xp=xp)
    scale = x.dtype.type(0.0 if p >= 1 else 1.0 / (1.0 - p))
    return xp.where(mask, x * scale, x.dtype.type(0))


def dropout_backward(grad_out, p, seed, offset=0):
    """Gradient of :func:`dropout_forward`: the same mask and scale applied to grad_out.

    >>> dropout_backward(np.ones(2), 0.0, seed=0)
    array([1., 1.])
    """
    return dropout_forward(grad_out, p, seed, offset)


def sgd_update(param, grad, momentum_buf, lr, momentum=0.0, dampening=0.0, nesterov=False,
               weight_decay=0.0, step=1):
    """PyTorch's SGD step, in place on param (and momentum_buf); returns param.

    d = g + wd * p; buf = d on step 1, else momentum * buf + (1 - dampening) * d;
    p -= lr * (d + momentum * buf if nesterov else buf).

    >>> sgd_update(np.ones(2), np.ones(2), None, lr=0.5)
    array([0.5, 0.5])
    """
    d = grad + weight_decay * param
    if momentum != 0:
        if step == 1:
            momentum_buf[...] = d
        else:
            momentum_buf[...] = momentum * momentum_buf + (1.0 - dampening) * d
        d = d + momentum * momentum_buf if nesterov else momentum_buf
    param -= lr * d
    return param


def adam_update(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999),
                eps=1e-8, weight_decay=0.0, amsgrad=False, max_exp_avg_sq=None,
                decoupled=False):
    """PyTorch's Adam (decoupled=False) or AdamW (decoupled=True) step, in place.

    Adam adds wd * p to the gradient; AdamW first scales p by 1 - lr * wd. Then
    m = lerp(m, g, 1 - b1); v = b2 * v + (1 - b2) * g^2 (v <- max(v_max, v) with amsgrad);
    p -= lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps).

    >>> adam_update(np.ones(1), np.ones(1), np.zeros(1), np.zeros(1), step=1, lr=0.1)
    array([0.9])
    """
    xp = array_module(param)
    beta1, beta2 = betas
    if decoupled:
        param *= 1.0 - lr * weight_decay
    elif weight_decay != 0:
        grad = grad + weight_decay * param
    exp_avg += (1.0 - beta1) * (grad - exp_avg)
    exp_avg_sq *= beta2
    exp_avg_sq += (1.0 - beta2) * grad * grad
    second = exp_avg_sq
    if amsgrad:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second = max_exp_avg_sq
    denom = xp.sqrt(second) / np.sqrt(1.0 - beta2 ** step) + eps
    param -= lr / (1.0 - beta1 ** step) * exp_avg / denom
    return param


def pack_bucket(arrays, scale=1.0, out=None):
    """Concatenate the flattened arrays into one 1-D buffer, times scale.

    >>> pack_bucket([np.ones((2, 1)), np.zeros(1)], scale=0.5)
    array([0.5, 0.5, 0. ])
    """
    xp = array_module(arrays[0])
    flat = xp.concatenate([a.reshape(-1) for a in arrays]) * scale
    if out is None:
        return flat
    out[...] = flat
    return out


def unpack_bucket(flat, arrays, scale=1.0):
    """Copy consecutive slices of flat, times scale, back into each array; returns arrays.

    >>> unpack_bucket(np.arange(3.0), [np.empty(1), np.empty((1, 2))])[1]
    array([[1., 2.]])
    """
    start = 0
    for a in arrays:
        a[...] = (flat[start:start + a.size] * scale).reshape(a.shape)
        start += a.size
    return arrays
