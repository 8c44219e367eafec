"""Embedding backward: scatter-add grad rows into the weight gradient at their indices.

One thread per gradient element adds it atomically, so repeated indices accumulate. The
row-sparse variant first maps indices to their rank among the unique indices and scatters
into a compact (n_unique, D) block instead of the full (V, D) matrix.
"""
import numpy as np

from . import _launch

cuda = None  # numba.cuda, bound by the first launch (see _launch.kernel_factory)


@_launch.kernel_factory
def _kernels(acc):
    @cuda.jit
    def scatter_add_rows(grad, rows, out, skip_row):
        i = cuda.grid(1)
        if i >= grad.size:
            return
        r = i // grad.shape[1]
        c = i - r * grad.shape[1]
        target = rows[r]
        # Out-of-range rows are dropped, never written: validating indices is the op's job.
        if target != skip_row and 0 <= target < out.shape[0]:
            cuda.atomic.add(out, (target, c), grad[r, c])

    return scatter_add_rows


def embedding_backward(grad_out, indices, num_embeddings, padding_idx=None):
    """Dense (V, D) weight gradient; row ``padding_idx`` (non-negative) gets none.

    >>> import numpy as np
    >>> embedding_backward(np.ones((3, 2)), np.array([1, 0, 1]), 3)
    array([[1., 1.],
           [2., 2.],
           [0., 0.]])
    """
    grad, rows = _flatten(grad_out, indices)
    out = _launch.zeros(grad, (num_embeddings, grad.shape[1]))
    _scatter(grad, rows, out, padding_idx)
    return out


def embedding_backward_sparse(grad_out, indices, padding_idx=None):
    """Row-sparse weight gradient: (sorted unique indices, their summed grad rows).

    >>> import numpy as np
    >>> idx, rows = embedding_backward_sparse(np.ones((3, 1)), np.array([4, 0, 4]))
    >>> idx, rows[:, 0]
    (array([0, 4]), array([1., 2.]))
    """
    grad, rows = _flatten(grad_out, indices)
    xp = _launch.array_module(grad)
    if padding_idx is not None:
        keep = rows != padding_idx
        grad, rows = grad[keep], rows[keep]
    unique, inverse = xp.unique(rows, return_inverse=True)
    out = _launch.zeros(grad, (unique.size, grad.shape[1]))
    _scatter(grad, _launch.contiguous(inverse.reshape(-1)), out, None)
    return unique, out


def _flatten(grad_out, indices):
    rows = _launch.contiguous(indices).reshape(-1)
    grad = _launch.contiguous(grad_out).reshape(rows.size, grad_out.shape[-1])
    return grad, rows


def _scatter(grad, rows, out, padding_idx):
    # -1 never matches a valid row, so "no padding" needs no second kernel.
    skip_row = np.int64(-1 if padding_idx is None else padding_idx)
    kernel = _kernels(grad.dtype)
    _launch.launch(kernel, _launch.blocks_for(grad.size), _launch.ELEMENTWISE_THREADS,
                   grad, rows, out, skip_row)
