"""Row-wise softmax and log-softmax over the last axis of a 2-D array, one block per row.

Forward reads each row twice: one pass finds the max and the sum of exp(x - max) together
(online rescaling), the second writes the output. Backward needs only the output.
"""
import math

from . import _launch
from ._reduce import block_reducers


cuda = None  # numba.cuda, bound by the first launch (see _launch.kernel_factory)


@_launch.kernel_factory
def _kernels(acc):
    reduce = block_reducers(acc)
    row_max_sum, block_sum = reduce.row_max_sum, reduce.block_sum

    @cuda.jit
    def forward(x, out, log):
        row = cuda.blockIdx.x
        if row >= x.shape[0]:
            return
        m, s = row_max_sum(x, row)
        # Subtract m before log(s): x - m is exact near the max, x - (m + log s) rounds
        # at the magnitude of m (1e-4 relative at |x| ~ 1e4 in float32).
        log_s = math.log(s)
        inv_s = acc(1) / s
        for c in range(cuda.threadIdx.x, x.shape[1], cuda.blockDim.x):
            if log:
                out[row, c] = (x[row, c] - m) - log_s
            else:
                out[row, c] = math.exp(x[row, c] - m) * inv_s

    @cuda.jit
    def backward(grad, out, dx, log):
        row = cuda.blockIdx.x
        if row >= out.shape[0]:
            return
        partial = acc(0)
        for c in range(cuda.threadIdx.x, out.shape[1], cuda.blockDim.x):
            if log:
                partial += grad[row, c]
            else:
                partial += grad[row, c] * out[row, c]
        total = block_sum(partial)
        for c in range(cuda.threadIdx.x, out.shape[1], cuda.blockDim.x):
            if log:
                dx[row, c] = grad[row, c] - math.exp(out[row, c]) * total
            else:
                dx[row, c] = out[row, c] * (grad[row, c] - total)

    return forward, backward


def softmax_forward(x, log=False):
    """Softmax (log-softmax if ``log``) of each row of a 2-D array.

    >>> import numpy as np
    >>> softmax_forward(np.zeros((1, 4)))
    array([[0.25, 0.25, 0.25, 0.25]])
    """
    x = _launch.check_2d(x)
    out = _launch.empty(x, x.shape)
    forward, _ = _kernels(x.dtype)
    _launch.launch(forward, x.shape[0], _launch.row_threads(x.shape[1]), x, out, log)
    return out


def softmax_backward(grad_out, out, log=False):
    """Gradient w.r.t. the input of :func:`softmax_forward`, given its output ``out``.

    >>> import numpy as np
    >>> softmax_backward(np.ones((1, 2)), np.full((1, 2), 0.5))
    array([[0., 0.]])
    """
    grad_out, out = _launch.check_2d(grad_out), _launch.check_2d(out)
    dx = _launch.empty(out, out.shape)
    _, backward = _kernels(out.dtype)
    _launch.launch(backward, out.shape[0], _launch.row_threads(out.shape[1]),
                   grad_out, out, dx, log)
    return dx

