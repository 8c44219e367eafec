"""Stochastic gradient descent, with momentum, Nesterov momentum and row-sparse gradients.

On CuPy arrays each parameter's step is one fused kernel (``kernels/optim.py``).
"""
import math

import numpy as np

from ..backends import get_array_module
from ..kernels import optim as fused
from ..sparse import RowSparseGrad
from .optimizer import (Optimizer, check_hyperparameter, fusable, state_tensor,
                        weight_decayed_grad)


def sgd(params, grads, momentum_buffers, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
        weight_decay=0.0, maximize=False):
    """One SGD step on raw arrays, in place (PyTorch's rule).

    ``momentum_buffers[i]`` is None before a parameter's first step with momentum; the
    buffer then starts as a copy of the gradient (undamped), stored back into the list.

    >>> import numpy as np
    >>> p, g = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    >>> sgd([p], [g], [None], lr=0.1)
    >>> p
    array([0.95, 2.05])
    """
    for i, (param, grad) in enumerate(zip(params, grads)):
        if fusable(param, momentum_buffers[i]):
            momentum_buffers[i] = _fused_sgd(param, grad, momentum_buffers[i], maximize,
                                             lr=lr, momentum=momentum, dampening=dampening,
                                             nesterov=nesterov, weight_decay=weight_decay)
            continue
        if _cpu_loop(param, grad, momentum_buffers[i]):
            momentum_buffers[i] = _cpu_sgd(param, grad, momentum_buffers[i], maximize,
                                           lr=lr, momentum=momentum, dampening=dampening,
                                           nesterov=nesterov, weight_decay=weight_decay)
            continue
        grad = weight_decayed_grad(param, grad, weight_decay, maximize)
        if momentum != 0:
            buf = momentum_buffers[i]
            if buf is None:
                buf = momentum_buffers[i] = grad.copy()
            else:
                buf *= momentum
                buf += (1 - dampening) * grad
            if nesterov:
                grad = grad + momentum * buf
            else:
                grad = buf
        param -= lr * grad


def _fused_sgd(param, grad, buf, maximize, **hyper):
    """:func:`sgd`'s step for one parameter as one kernel; returns the momentum buffer."""
    xp = get_array_module(param)
    # Only negated here (for maximize): the kernel adds the weight decay itself.
    grad = xp.ascontiguousarray(weight_decayed_grad(param, grad, 0.0, maximize))
    first = buf is None
    if first and hyper["momentum"] != 0:
        buf = xp.empty_like(param)
    # On step 1 the kernel seeds the buffer with the gradient, as the array code does.
    fused.sgd_update(param, grad, buf, step=1 if first else 2, **hyper)
    return buf


CPU_LOOP_SIZE = 1 << 12  # smaller parameters: NumPy's passes cost less than the call


def _cpu_loop(param, grad, buf):
    """Does the one-pass Numba loop (``kernels/_cpu_optim.py``) take this update?"""
    if not isinstance(param, np.ndarray) or param.size < CPU_LOOP_SIZE:
        return False
    from ..kernels import _cpu_optim  # imports Numba: on first use only
    return _cpu_optim.takes(param, grad, buf)


def _cpu_sgd(param, grad, buf, maximize, *, momentum, **hyper):
    """:func:`sgd`'s step for one NumPy parameter as one Numba loop; returns the momentum
    buffer (None without momentum)."""
    from ..kernels import _cpu_optim
    first = buf is None
    if first and momentum != 0:
        buf = np.empty_like(param)
    _cpu_optim.sgd_update(param, grad, param if buf is None else buf, momentum=momentum,
                          maximize=maximize, first=first, **hyper)
    return buf


def sparse_sgd(params, indices, values, *, lr, maximize=False):
    """SGD on the rows ``indices`` only; ``values[i]`` holds those rows' gradients.

    Indices must be unique (coalesce first so repeated rows add up).

    >>> import numpy as np
    >>> p = np.ones((3, 2))
    >>> sparse_sgd([p], [np.array([2])], [np.full((1, 2), 4.0)], lr=0.5)
    >>> p[:, 0]
    array([ 1.,  1., -1.])
    """
    for param, rows, grad_rows in zip(params, indices, values):
        if _rows_in_place(param, rows, grad_rows):
            from ..kernels import _cpu_sparse  # imports Numba: on first use only
            width = math.prod(param.shape[1:])
            _cpu_sparse.add_scaled_rows(param.reshape(param.shape[0], width), rows,
                                        grad_rows.reshape(rows.shape[0], width),
                                        param.dtype.type(lr if maximize else -lr))
            continue
        update = lr * grad_rows
        if maximize:
            param[rows] += update
        else:
            param[rows] -= update


def _rows_in_place(param, rows, grad_rows):
    """Can the compiled CPU row update run: NumPy float arrays of one dtype, C-contiguous
    (so the 2-d view writes through), at least one row?"""
    return (isinstance(param, np.ndarray) and param.dtype in (np.float32, np.float64)
            and grad_rows.dtype == param.dtype and param.flags.c_contiguous
            and grad_rows.flags.c_contiguous and param.ndim >= 1
            and isinstance(rows, np.ndarray) and rows.dtype.kind in "iu" and rows.ndim == 1
            and rows.shape[0] > 0 and _in_range(rows, param.shape[0]))


def _in_range(rows, n):
    """All of ``rows`` index one of n rows (else the array path raises NumPy's IndexError
    before anything is written)."""
    return -n <= int(rows.min()) and int(rows.max()) < n


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), like ``torch.optim.SGD``.

    Row-sparse gradients (``gpugrad.sparse.RowSparseGrad``, from sparse embeddings) update
    only the rows they hold; they need ``momentum=0`` and ``weight_decay=0``.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.tensor([1.0, 2.0]))
    >>> opt = gg.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> w.grad = gg.tensor([1.0, 1.0])
    >>> opt.step()
    >>> w.numpy().round(4)
    array([0.9, 1.9], dtype=float32)
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        check_hyperparameter("learning rate", lr)
        check_hyperparameter("momentum value", momentum)
        check_hyperparameter("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, group, param):
        # PyTorch keeps no SGD state until momentum needs a buffer.
        return {}

    def _update(self, group, entries):
        dense = [(pos, p) for pos, p in entries if not isinstance(p.grad, RowSparseGrad)]
        sparse = [p for _, p in entries if isinstance(p.grad, RowSparseGrad)]
        if sparse and (group["momentum"] != 0 or group["weight_decay"] != 0):
            raise RuntimeError("SGD supports sparse gradients only with momentum=0 and "
                               "weight_decay=0")
        if dense:
            self._update_dense(group, dense)
        if sparse:
            self._update_sparse(group, sparse)

    def _update_dense(self, group, entries):
        params = [p._data for _, p in entries]
        grads = [p.grad._data for _, p in entries]
        momentum = group["momentum"]
        buffers = [self._buffer(pos, group, p) for pos, p in entries]
        sgd(params, grads, buffers, lr=group["lr"], momentum=momentum,
            dampening=group["dampening"], nesterov=group["nesterov"],
            weight_decay=group["weight_decay"], maximize=group["maximize"])
        if momentum != 0:
            for (pos, p), buf in zip(entries, buffers):
                state = self._state(pos, group, p)
                if state.get("momentum_buffer") is None:
                    state["momentum_buffer"] = state_tensor(buf)

    def _buffer(self, pos, group, param):
        if group["momentum"] == 0:
            return None
        buf = self._state(pos, group, param).get("momentum_buffer")
        return None if buf is None else buf._data

    def _update_sparse(self, group, params):
        grads = [p.grad.coalesce() for p in params]
        sparse_sgd([p._data for p in params], [g.indices for g in grads],
                   [g.values for g in grads], lr=group["lr"], maximize=group["maximize"])
