"""Fused optimizer steps over flat parameter buffers: one kernel updates every element.

Params, grads and state are C-contiguous arrays of one shape (normally the 1-D flat
buffers of a parameter bucket), updated in place. The rules are PyTorch's single-tensor
SGD and Adam/AdamW; scalars that depend only on hyperparameters and ``step`` are computed
once on the host, in double precision as PyTorch does, then cast to the parameter dtype.
Each element is rounded in the order of ``gpugrad.optim``'s array code (the NumPy path),
so the two agree to the bit wherever the compiler does not contract a * b + c into an FMA.
"""
import math

from . import _launch

cuda = None  # numba.cuda, bound by the first launch (see _launch.kernel_factory)


@_launch.kernel_factory
def _kernels(acc):
    @cuda.jit
    def sgd(param, grad, buf, lr, momentum, keep_grad, nesterov, weight_decay, first_step):
        i = cuda.grid(1)
        if i >= param.size:
            return
        d = grad[i] + weight_decay * param[i]
        if momentum != 0:
            if first_step:
                b = d  # PyTorch seeds the buffer with the first gradient, undamped
            else:
                b = momentum * buf[i] + keep_grad * d
            buf[i] = b
            if nesterov:
                d = d + momentum * b
            else:
                d = b
        param[i] -= lr * d

    @cuda.jit
    def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, decay, l2, beta1,
             one_minus_beta1, beta2, one_minus_beta2, eps, amsgrad, step_size, bias2_sqrt):
        i = cuda.grid(1)
        if i >= param.size:
            return
        p = param[i] * decay  # AdamW's decoupled decay; decay == 1 for Adam
        g = grad[i] + l2 * p  # Adam's L2 term; l2 == 0 for AdamW
        # Rounded in the order of gpugrad.optim.adam's array code, so both paths agree.
        m = beta1 * exp_avg[i] + one_minus_beta1 * g
        v = beta2 * exp_avg_sq[i] + g * g * one_minus_beta2
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            v = max(max_exp_avg_sq[i], v)
            max_exp_avg_sq[i] = v
        param[i] = p - m / (math.sqrt(v) / bias2_sqrt + eps) * step_size

    return sgd, adam


def sgd_update(param, grad, momentum_buf, lr, momentum=0.0, dampening=0.0, nesterov=False,
               weight_decay=0.0, step=1):
    """One SGD step in place (momentum_buf may be None when momentum == 0); returns param.

    >>> import numpy as np
    >>> sgd_update(np.ones(2), np.ones(2), None, lr=0.5)
    array([0.5, 0.5])
    """
    if momentum != 0 and momentum_buf is None:
        raise ValueError("momentum needs a momentum buffer")
    flat = _launch.flat_view(param)
    buf = _unused_like(flat) if momentum_buf is None else _launch.flat_view(momentum_buf)
    cast = param.dtype.type
    sgd, _ = _kernels(param.dtype)
    _launch.launch(sgd, _launch.blocks_for(flat.size), _launch.ELEMENTWISE_THREADS,
                   flat, _launch.flat_view(grad), buf, cast(lr), cast(momentum),
                   cast(1.0 - dampening), nesterov, cast(weight_decay), step == 1)
    return param


def adam_update(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999),
                eps=1e-8, weight_decay=0.0, amsgrad=False, max_exp_avg_sq=None,
                decoupled=False):
    """One Adam step in place (AdamW's decoupled decay if ``decoupled``); returns param.

    ``step`` counts from 1 and sets the bias corrections; amsgrad needs max_exp_avg_sq.

    >>> import numpy as np
    >>> adam_update(np.ones(1), np.ones(1), np.zeros(1), np.zeros(1), step=1, lr=0.1)
    array([0.9])
    """
    if amsgrad and max_exp_avg_sq is None:
        raise ValueError("amsgrad needs a max_exp_avg_sq buffer")
    beta1, beta2 = betas
    flat = _launch.flat_view(param)
    vmax = _unused_like(flat) if max_exp_avg_sq is None else _launch.flat_view(max_exp_avg_sq)
    cast = param.dtype.type
    decay = 1.0 - lr * weight_decay if decoupled else 1.0
    l2 = 0.0 if decoupled else weight_decay
    step_size = lr / (1.0 - beta1 ** step)
    bias2_sqrt = math.sqrt(1.0 - beta2 ** step)
    _, adam = _kernels(param.dtype)
    _launch.launch(adam, _launch.blocks_for(flat.size), _launch.ELEMENTWISE_THREADS,
                   flat, _launch.flat_view(grad), _launch.flat_view(exp_avg),
                   _launch.flat_view(exp_avg_sq), vmax, cast(decay), cast(l2), cast(beta1),
                   cast(1.0 - beta1), cast(beta2), cast(1.0 - beta2), cast(eps),
                   bool(amsgrad), cast(step_size), cast(bias2_sqrt))
    return param


def adamw_update(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999),
                 eps=1e-8, weight_decay=1e-2, amsgrad=False, max_exp_avg_sq=None):
    """:func:`adam_update` with decoupled weight decay and AdamW's default decay of 1e-2.

    >>> import numpy as np
    >>> adamw_update(np.ones(1), np.ones(1), np.zeros(1), np.zeros(1), step=1, lr=0.1)
    array([0.899])
    """
    return adam_update(param, grad, exp_avg, exp_avg_sq, step, lr, betas, eps, weight_decay,
                       amsgrad, max_exp_avg_sq, decoupled=True)


def _unused_like(flat):
    # Stands in for a state buffer the kernel never touches. Not ``flat`` itself: NumPy
    # arguments are copied to the device and back one by one, and the stale copy of an
    # alias would be written back over the update.
    return _launch.empty(flat, (0,))
