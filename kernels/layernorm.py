"""LayerNorm over the last axis of a 2-D array: forward keeps per-row mean and rstd.

Backward is one row kernel for dx (all that an op without an affine part needs,
:func:`layer_norm_backward_input`) plus a column reduction for dgamma/dbeta. The column
reduction writes per-chunk partial sums that the array module then adds up, so the result
is deterministic (no floating-point atomics).
"""
import math

from . import _launch
from ._reduce import block_reducers

cuda = None  # numba.cuda, bound by the first launch (see _launch.kernel_factory)

# Rows each thread of the dgamma/dbeta reduction sums before writing a partial.
ROWS_PER_CHUNK = 32
COLUMN_THREADS = 128


@_launch.kernel_factory
def _kernels(acc):
    block_sum = block_reducers(acc).block_sum

    @cuda.jit
    def forward(x, gamma, beta, y, mean, rstd, eps):
        row = cuda.blockIdx.x
        if row >= x.shape[0]:
            return
        n = acc(x.shape[1])
        partial = acc(0)
        for c in range(cuda.threadIdx.x, x.shape[1], cuda.blockDim.x):
            partial += x[row, c]
        mu = block_sum(partial) / n
        # Second pass over centred values: the variance never cancels catastrophically.
        partial = acc(0)
        for c in range(cuda.threadIdx.x, x.shape[1], cuda.blockDim.x):
            d = acc(x[row, c]) - mu
            partial += d * d
        r = acc(1) / math.sqrt(block_sum(partial) / n + eps)
        for c in range(cuda.threadIdx.x, x.shape[1], cuda.blockDim.x):
            y[row, c] = (x[row, c] - mu) * r * gamma[c] + beta[c]
        if cuda.threadIdx.x == 0:
            mean[row] = mu
            rstd[row] = r

    @cuda.jit
    def backward_input(grad, x, gamma, mean, rstd, dx):
        row = cuda.blockIdx.x
        if row >= x.shape[0]:
            return
        mu, r = mean[row], rstd[row]
        sum_wg = acc(0)
        sum_wg_xhat = acc(0)
        for c in range(cuda.threadIdx.x, x.shape[1], cuda.blockDim.x):
            wg = acc(grad[row, c] * gamma[c])
            sum_wg += wg
            sum_wg_xhat += wg * (x[row, c] - mu) * r
        n = acc(x.shape[1])
        mean_wg = block_sum(sum_wg) / n
        mean_wg_xhat = block_sum(sum_wg_xhat) / n
        for c in range(cuda.threadIdx.x, x.shape[1], cuda.blockDim.x):
            xhat = (x[row, c] - mu) * r
            dx[row, c] = r * (grad[row, c] * gamma[c] - mean_wg - xhat * mean_wg_xhat)

    @cuda.jit
    def backward_params(grad, x, mean, rstd, dgamma_part, dbeta_part):
        col = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        chunk = cuda.blockIdx.y
        if col >= x.shape[1]:
            return
        start = chunk * ROWS_PER_CHUNK
        stop = min(start + ROWS_PER_CHUNK, x.shape[0])
        sum_g_xhat = acc(0)
        sum_g = acc(0)
        for row in range(start, stop):
            g = grad[row, col]
            sum_g_xhat += g * (x[row, col] - mean[row]) * rstd[row]
            sum_g += g
        dgamma_part[chunk, col] = sum_g_xhat
        dbeta_part[chunk, col] = sum_g

    return forward, backward_input, backward_params


def layer_norm_forward(x, gamma=None, beta=None, eps=1e-5):
    """Normalise each row of a 2-D array; returns (y, mean, rstd).

    gamma/beta default to ones/zeros; mean and rstd use the accumulator dtype (float32
    for half inputs).

    >>> import numpy as np
    >>> y, mean, rstd = layer_norm_forward(np.array([[1.0, 3.0]]), eps=0.0)
    >>> y, mean, rstd
    (array([[-1.,  1.]]), array([2.]), array([1.]))
    """
    x = _launch.check_2d(x)
    gamma, beta = _affine(x, gamma, beta)
    acc = _launch.accumulator(x.dtype)
    y = _launch.empty(x, x.shape)
    mean = _launch.empty(x, x.shape[:1], acc)
    rstd = _launch.empty(x, x.shape[:1], acc)
    forward, _, _ = _kernels(x.dtype)
    _launch.launch(forward, x.shape[0], _launch.row_threads(x.shape[1]),
                   x, gamma, beta, y, mean, rstd, acc(eps))
    return y, mean, rstd


def layer_norm_backward(grad_out, x, gamma, mean, rstd):
    """Gradients (dx, dgamma, dbeta) of :func:`layer_norm_forward` (gamma None means ones).

    >>> import numpy as np
    >>> x = np.array([[1.0, 3.0]])
    >>> dx, dgamma, dbeta = layer_norm_backward(np.ones((1, 2)), x, None, np.array([2.0]),
    ...                                         np.array([1.0]))
    >>> dx, dgamma, dbeta
    (array([[0., 0.]]), array([-1.,  1.]), array([1., 1.]))
    """
    grad_out, x = _launch.check_2d(grad_out), _launch.check_2d(x)
    gamma, _ = _affine(x, gamma, None)
    dx = layer_norm_backward_input(grad_out, x, gamma, mean, rstd)
    _, _, backward_params = _kernels(x.dtype)
    chunks = _launch.blocks_for(x.shape[0], ROWS_PER_CHUNK)
    acc = _launch.accumulator(x.dtype)
    dgamma_part = _launch.zeros(x, (chunks, x.shape[1]), acc)
    dbeta_part = _launch.zeros(x, (chunks, x.shape[1]), acc)
    blocks = (_launch.blocks_for(x.shape[1], COLUMN_THREADS), chunks)
    _launch.launch(backward_params, blocks, COLUMN_THREADS,
                   grad_out, x, mean, rstd, dgamma_part, dbeta_part)
    dgamma = dgamma_part.sum(axis=0).astype(gamma.dtype)
    return dx, dgamma, dbeta_part.sum(axis=0).astype(gamma.dtype)


def layer_norm_backward_input(grad_out, x, gamma, mean, rstd):
    """Only dx of :func:`layer_norm_backward`: one row kernel, no dgamma/dbeta reduction.

    >>> import numpy as np
    >>> x, g = np.array([[0.0, 1.0, 5.0]]), np.array([[1.0, 0.0, 0.0]])
    >>> _, mean, rstd = layer_norm_forward(x)
    >>> dx = layer_norm_backward_input(g, x, None, mean, rstd)
    >>> bool(np.allclose(dx, layer_norm_backward(g, x, None, mean, rstd)[0]))
    True
    """
    grad_out, x = _launch.check_2d(grad_out), _launch.check_2d(x)
    gamma, _ = _affine(x, gamma, None)
    _, backward_input, _ = _kernels(x.dtype)
    dx = _launch.empty(x, x.shape)
    _launch.launch(backward_input, x.shape[0], _launch.row_threads(x.shape[1]),
                   grad_out, x, gamma, mean, rstd, dx)
    return dx


def _affine(x, gamma, beta):
    xp = _launch.array_module(x)
    n = x.shape[1]
    gamma = xp.ones(n, x.dtype) if gamma is None else _launch.contiguous(gamma)
    beta = xp.zeros(n, x.dtype) if beta is None else _launch.contiguous(beta)
    return gamma, beta

