"""RMSprop: divide by a running RMS of the gradient; optional momentum and centering."""
import gpugrad as gg
from ..backends import get_array_module
from .optimizer import Optimizer, check_hyperparameter, weight_decayed_grad


def rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffers, *, lr, alpha, eps,
            weight_decay=0.0, momentum=0.0, centered=False, maximize=False):
    """One RMSprop step on raw arrays, in place (PyTorch's rule).

    ``grad_avgs`` is only read when ``centered``, ``momentum_buffers`` when ``momentum > 0``.

    >>> import numpy as np
    >>> p, g = np.array([1.0]), np.array([2.0])
    >>> rmsprop([p], [g], [np.zeros(1)], [], [], lr=0.01, alpha=0.75, eps=0.0)
    >>> p
    array([0.98])
    """
    for i, (param, grad) in enumerate(zip(params, grads)):
        xp = get_array_module(param)
        square_avg = square_avgs[i]
        grad = weight_decayed_grad(param, grad, weight_decay, maximize)

        scratch = xp.multiply(grad, grad)
        scratch *= 1 - alpha
        square_avg *= alpha
        square_avg += scratch
        if centered:
            grad_avg = grad_avgs[i]
            xp.multiply(grad, 1 - alpha, out=scratch)
            grad_avg *= alpha
            grad_avg += scratch
            # Centered: divide by the running standard deviation, not the raw RMS.
            xp.multiply(grad_avg, grad_avg, out=scratch)
            xp.subtract(square_avg, scratch, out=scratch)
            avg = xp.sqrt(scratch, out=scratch)
        else:
            avg = xp.sqrt(square_avg, out=scratch)
        avg += eps

        update = xp.divide(grad, avg, out=scratch)
        if momentum > 0:
            buf = momentum_buffers[i]
            buf *= momentum
            buf += update
            update = xp.multiply(buf, lr, out=scratch)
        else:
            update *= lr
        param -= update


class RMSprop(Optimizer):
    """RMSprop (Hinton), like ``torch.optim.RMSprop``.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.tensor([1.0]))
    >>> opt = gg.optim.RMSprop([w], lr=0.01, alpha=0.75, eps=0.0)
    >>> w.grad = gg.tensor([2.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    0.98
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False):
        check_hyperparameter("learning rate", lr)
        check_hyperparameter("epsilon value", eps)
        check_hyperparameter("momentum value", momentum)
        check_hyperparameter("weight_decay value", weight_decay)
        check_hyperparameter("alpha value", alpha)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, group, param):
        state = {"step": 0, "square_avg": gg.zeros_like(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = gg.zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = gg.zeros_like(param)
        return state

    def _update(self, group, entries):
        # Check every gradient before touching any state.
        grads = [self._dense_grad(p) for _, p in entries]
        params, square_avgs, grad_avgs, buffers = [], [], [], []
        for pos, p in entries:
            state = self._state(pos, group, p)
            state["step"] += 1
            params.append(p._data)
            square_avgs.append(state["square_avg"]._data)
            if group["centered"]:
                grad_avgs.append(state["grad_avg"]._data)
            if group["momentum"] > 0:
                buffers.append(state["momentum_buffer"]._data)
        rmsprop(params, grads, square_avgs, grad_avgs, buffers, lr=group["lr"],
                alpha=group["alpha"], eps=group["eps"], weight_decay=group["weight_decay"],
                momentum=group["momentum"], centered=group["centered"],
                maximize=group["maximize"])
