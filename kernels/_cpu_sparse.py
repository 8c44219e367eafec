"""Numba loop behind ``RowSparseGrad.coalesce`` on the NumPy backend; importing this module
imports Numba. Compiled on first call per signature and cached on disk (``cache=True``).

Summing repeated rows after a sort is one pass over the values: 10x ``np.add.at`` and 3x
``np.add.reduceat`` (which loops per segment) for 4096 rows of 64 float32.
"""
import numba
import numpy as np


@numba.njit(cache=True)
def sum_sorted_rows(order, sorted_rows, values, out_rows, out):
    """Visit ``values[order]`` (rows ``sorted_rows``, ascending): write each distinct row
    once to ``out_rows``/``out``, summing repeats. Returns how many distinct rows."""
    n = -1
    prev = 0
    for i in range(order.shape[0]):
        row = sorted_rows[i]
        src = order[i]
        if n < 0 or row != prev:
            n += 1
            prev = row
            out_rows[n] = row
            for c in range(values.shape[1]):
                out[n, c] = values[src, c]
        else:
            for c in range(values.shape[1]):
                out[n, c] += values[src, c]
    return n + 1


@numba.njit(inline="always")
def _row(r, n):
    """Row r of n, negative counting from the end as in NumPy; IndexError outside (these
    loops index without bounds checks)."""
    if r < 0:
        r += n
    if r < 0 or r >= n:
        raise IndexError("row index out of range")
    return r


@numba.njit(cache=True)
def add_scaled_rows(param, rows, values, alpha):
    """param[rows[i]] += alpha * values[i] for each i (rows unique), in place: one pass,
    where ``param[rows] -= ...`` gathers, computes and scatters (3 passes, 2 temporaries)."""
    for i in range(rows.shape[0]):
        r = _row(rows[i], param.shape[0])
        for c in range(values.shape[1]):
            param[r, c] += alpha * values[i, c]


@numba.njit(cache=True)
def sparse_adam_rows(param, exp_avg, exp_avg_sq, rows, grad, sign, keep1, keep2, eps,
                     step_size):
    """SparseAdam on the rows ``rows`` (unique) in place, in one pass, with the arithmetic
    of ``optim.sparse_adam``'s array code: m += keep1 * (sign * g - m), v likewise with
    g^2 and keep2, param -= step_size * m / (sqrt(v) + eps); scalars in param's dtype."""
    for i in range(rows.shape[0]):
        r = _row(rows[i], param.shape[0])
        for c in range(grad.shape[1]):
            g = sign * grad[i, c]
            old_avg = exp_avg[r, c]
            old_sq = exp_avg_sq[r, c]
            avg_step = (g - old_avg) * keep1
            sq_step = (g * g - old_sq) * keep2
            exp_avg[r, c] = old_avg + avg_step
            exp_avg_sq[r, c] = old_sq + sq_step
            denom = np.sqrt(sq_step + old_sq) + eps
            param[r, c] -= (avg_step + old_avg) / denom * step_size
