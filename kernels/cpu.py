"""CPU twins of the fused kernels, compiled with ``numba.njit``, for the NumPy backend.

Same signatures and results as the CUDA launchers and :mod:`.reference`. Numba is imported
on the first call, not with this module. A twin stays only while it beats the vectorised
NumPy path (``python benchmarks/kernels.py``).
"""
import numpy as np


def embedding_backward(grad_out, indices, num_embeddings, padding_idx=None):
    """Dense (V, D) embedding weight gradient; row ``padding_idx`` gets none.

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


def softmax_xent_forward(logits, targets, ignore_index=-100, label_smoothing=0.0):
    """Per-row softmax cross-entropy loss and log-sum-exp (ignored rows: loss 0).

    >>> loss, lse = softmax_xent_forward(np.zeros((1, 2)), np.array([0]))
    >>> loss.round(4), lse.round(4)
    (array([0.6931]), array([0.6931]))
    """
    from . import _cpu_jit
    logits = np.ascontiguousarray(logits)
    loss = np.empty(logits.shape[0], dtype=logits.dtype)
    lse = np.empty(logits.shape[0], dtype=logits.dtype)
    _cpu_jit.xent_forward(logits, np.ascontiguousarray(targets), loss, lse, ignore_index,
                          float(label_smoothing))
    return loss, lse


def softmax_xent_backward(grad_loss, logits, targets, lse, ignore_index=-100,
                          label_smoothing=0.0):
    """Gradient w.r.t. logits of :func:`softmax_xent_forward`, softmax rebuilt from lse.

    >>> softmax_xent_backward(np.ones(1), np.zeros((1, 2)), np.array([0]), np.log([2.0]))
    array([[-0.5,  0.5]])
    """
    from . import _cpu_jit
    logits = np.ascontiguousarray(logits)
    dlogits = np.empty_like(logits)
    _cpu_jit.xent_backward(np.ascontiguousarray(grad_loss), logits,
                           np.ascontiguousarray(targets), np.ascontiguousarray(lse), dlogits,
                           ignore_index, float(label_smoothing))
    return dlogits
