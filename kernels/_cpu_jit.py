"""Numba ``njit`` loops behind :mod:`.cpu`; importing this module imports Numba (not CUDA).

Compiled on first call per signature and cached on disk (``cache=True``).
"""
import math

import numba


@numba.njit(cache=True)
def scatter_add_rows(grad, rows, out, skip_row):
    for r in range(grad.shape[0]):
        target = rows[r]
        if target == skip_row:
            continue
        if target < 0 or target >= out.shape[0]:
            raise IndexError("embedding index out of range")
        for c in range(grad.shape[1]):
            out[target, c] += grad[r, c]


@numba.njit(cache=True)
def xent_forward(logits, targets, loss, lse, ignore_index, smoothing):
    n_rows, n_cols = logits.shape
    for row in range(n_rows):
        m = -math.inf
        for c in range(n_cols):
            m = max(m, logits[row, c])
        s = 0.0
        row_sum = 0.0
        for c in range(n_cols):
            s += math.exp(logits[row, c] - m)
            row_sum += logits[row, c]
        row_lse = m + math.log(s)
        lse[row] = row_lse
        target = targets[row]
        if target == ignore_index:
            loss[row] = 0.0
        elif target < 0 or target >= n_cols:
            raise IndexError("cross-entropy target out of range")
        else:
            nll = row_lse - logits[row, target]
            loss[row] = (1.0 - smoothing) * nll + smoothing * (row_lse - row_sum / n_cols)


@numba.njit(cache=True)
def xent_backward(grad_loss, logits, targets, lse, dlogits, ignore_index, smoothing):
    n_rows, n_cols = logits.shape
    for row in range(n_rows):
        target = targets[row]
        if target == ignore_index:
            dlogits[row, :] = 0.0
            continue
        if target < 0 or target >= n_cols:
            raise IndexError("cross-entropy target out of range")
        g = grad_loss[row]
        for c in range(n_cols):
            dlogits[row, c] = g * (math.exp(logits[row, c] - lse[row]) - smoothing / n_cols)
        dlogits[row, target] -= g * (1.0 - smoothing)
