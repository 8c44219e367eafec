"""CPU twins of the fused kernels, compiled with ``numba.njit``, for the NumPy backend.

Same signatures and results as the CUDA launchers and :mod:`.reference`. Numba is imported
on the first call, not with this module. A twin stays only while it beats the vectorised
NumPy path (``python benchmarks/kernels.py``). Softmax cross-entropy's row loops live in
:mod:`._cpu_rows`: with :mod:`._cpu_exp`'s vectorisable ``exp`` they beat NumPy's passes
(libm's scalar ``exp`` made them lose, 0.5x forward).
"""
import numpy as np


def embedding_backward(grad_out, indices, num_embeddings, padding_idx=None):
    """Dense (V, D) embedding weight gradient; row ``padding_idx`` (non-negative) gets none.

    Replaces ``np.add.at``; raises IndexError for an index outside [0, V).

    >>> embedding_backward(np.ones((3, 1)), np.array([2, 0, 2]), 3)[:, 0]
    array([1., 0., 2.])
    """
    from . import _cpu_jit
    rows = np.ascontiguousarray(indices).reshape(-1)
    grad = np.ascontiguousarray(grad_out).reshape(rows.size, grad_out.shape[-1])
    out = np.zeros((num_embeddings, grad.shape[1]), dtype=grad.dtype)
    skip_row = -1 if padding_idx is None else padding_idx
    _cpu_jit.scatter_add_rows(grad, rows, out, skip_row)
    return out
