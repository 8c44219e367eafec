"""Numba ``njit`` loops behind :mod:`.cpu`; importing this module imports Numba (not CUDA).

Compiled on first call per signature and cached on disk (``cache=True``).
"""
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
