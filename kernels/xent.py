"""Fused softmax + cross-entropy with integer targets, ignore_index and label smoothing.

Forward keeps only each row's log-sum-exp (N values, not an (N, C) probability tensor);
backward rebuilds softmax from logits and lse. Semantics follow PyTorch's
``cross_entropy(..., reduction="none")``: the mean over non-ignored rows is the caller's.
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
    def forward(logits, targets, loss, lse, ignore_index, smoothing):
        row = cuda.blockIdx.x
        if row >= logits.shape[0]:
            return
        n_cols = logits.shape[1]
        m, s = row_max_sum(logits, row)
        row_sum = acc(0)
        if smoothing != 0:  # same branch for the whole block, so its barriers stay safe
            partial = acc(0)
            for c in range(cuda.threadIdx.x, n_cols, cuda.blockDim.x):
                partial += logits[row, c]
            row_sum = block_sum(partial)
        if cuda.threadIdx.x == 0:
            row_lse = m + math.log(s)
            lse[row] = row_lse
            target = targets[row]
            if target == ignore_index:
                loss[row] = 0
            elif target < 0 or target >= n_cols:
                loss[row] = math.nan  # surfaces a bad target instead of reading out of bounds
            elif smoothing == 0:  # not nll + 0 * smooth: masked (-inf) logits make smooth inf
                loss[row] = row_lse - logits[row, target]
            else:
                nll = row_lse - logits[row, target]
                # mean_c(-log p_c) = lse - mean_c(x_c): smoothing costs no extra pass.
                smooth = row_lse - row_sum / acc(n_cols)
                loss[row] = (acc(1) - smoothing) * nll + smoothing * smooth

    @cuda.jit
    def backward(grad_loss, logits, targets, lse, dlogits, ignore_index, smoothing):
        i = cuda.grid(1)
        if i >= logits.size:
            return
        n_cols = logits.shape[1]
        row = i // n_cols
        c = i - row * n_cols
        target = targets[row]
        if target == ignore_index:
            dlogits[row, c] = 0
            return
        d = math.exp(logits[row, c] - lse[row]) - smoothing / acc(n_cols)
        if c == target:
            d -= acc(1) - smoothing
        dlogits[row, c] = grad_loss[row] * d

    return forward, backward


def softmax_xent_forward(logits, targets, ignore_index=-100, label_smoothing=0.0):
    """Per-row loss and log-sum-exp of softmax cross-entropy; ignored rows get loss 0.

    >>> import numpy as np
    >>> loss, lse = softmax_xent_forward(np.zeros((2, 4)), np.array([1, -100]))
    >>> loss.round(4), lse.round(4)
    (array([1.3863, 0.    ]), array([1.3863, 1.3863]))
    """
    logits, targets = _check(logits, targets)
    loss = _launch.empty(logits, logits.shape[:1])
    lse = _launch.empty(logits, logits.shape[:1])
    forward, _ = _kernels(logits.dtype)
    smoothing = logits.dtype.type(label_smoothing)
    _launch.launch(forward, logits.shape[0], _launch.row_threads(logits.shape[1]),
                   logits, targets, loss, lse, ignore_index, smoothing)
    return loss, lse


def softmax_xent_backward(grad_loss, logits, targets, lse, ignore_index=-100,
                          label_smoothing=0.0):
    """Gradient w.r.t. logits, given the per-row loss gradient and the forward's lse.

    >>> import numpy as np
    >>> softmax_xent_backward(np.ones(1), np.zeros((1, 2)), np.array([0]), np.log([2.0]))
    array([[-0.5,  0.5]])
    """
    logits, targets = _check(logits, targets)
    dlogits = _launch.empty(logits, logits.shape)
    _, backward = _kernels(logits.dtype)
    smoothing = logits.dtype.type(label_smoothing)
    _launch.launch(backward, _launch.blocks_for(logits.size), _launch.ELEMENTWISE_THREADS,
                   _launch.contiguous(grad_loss), logits, targets, _launch.contiguous(lse),
                   dlogits, ignore_index, smoothing)
    return dlogits


def _check(logits, targets):
    if logits.ndim != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(f"expected logits (N, C) and targets (N,), got {logits.shape} "
                         f"and {targets.shape}")
    return _launch.contiguous(logits), _launch.contiguous(targets)
