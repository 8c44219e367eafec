"""Adadelta: steps scaled by the ratio of running RMS of updates to running RMS of gradients."""
import gpugrad as gg
from ..backends import get_array_module
from .optimizer import Optimizer, check_hyperparameter, weight_decayed_grad


def adadelta(params, grads, square_avgs, acc_deltas, *, lr=1.0, rho=0.9, eps=1e-6,
             weight_decay=0.0, maximize=False):
    """One Adadelta step on raw arrays, in place (PyTorch's rule).

    >>> import numpy as np
    >>> p, g = np.array([2.0]), np.array([4.0])
    >>> adadelta([p], [g], [np.zeros(1)], [np.zeros(1)], lr=0.75, rho=0.5, eps=1.0)
    >>> p.round(6)
    array([1.])
    """
    for i, (param, grad) in enumerate(zip(params, grads)):
        xp = get_array_module(param)
        square_avg, acc_delta = square_avgs[i], acc_deltas[i]
        grad = weight_decayed_grad(param, grad, weight_decay, maximize)

        scratch = xp.multiply(grad, grad)
        scratch *= 1 - rho
        square_avg *= rho
        square_avg += scratch
        std = xp.add(square_avg, eps, out=scratch)
        xp.sqrt(std, out=std)
        # delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * grad
        delta = xp.add(acc_delta, eps)
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= grad
        xp.multiply(delta, delta, out=scratch)
        scratch *= 1 - rho
        acc_delta *= rho
        acc_delta += scratch
        delta *= lr
        param -= delta


class Adadelta(Optimizer):
    """Adadelta (Zeiler), like ``torch.optim.Adadelta``.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.tensor([2.0]))
    >>> opt = gg.optim.Adadelta([w], lr=0.75, rho=0.5, eps=1.0)
    >>> w.grad = gg.tensor([4.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    1.0
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False):
        check_hyperparameter("learning rate", lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"invalid rho value: {rho}")
        check_hyperparameter("epsilon value", eps)
        check_hyperparameter("weight_decay value", weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, group, param):
        return {"step": 0, "square_avg": gg.zeros_like(param), "acc_delta": gg.zeros_like(param)}

    def _update(self, group, entries):
        # Check every gradient before touching any state.
        grads = [self._dense_grad(p) for _, p in entries]
        params, square_avgs, acc_deltas = [], [], []
        for pos, p in entries:
            state = self._state(pos, group, p)
            state["step"] += 1
            params.append(p._data)
            square_avgs.append(state["square_avg"]._data)
            acc_deltas.append(state["acc_delta"]._data)
        adadelta(params, grads, square_avgs, acc_deltas, lr=group["lr"], rho=group["rho"],
                 eps=group["eps"], weight_decay=group["weight_decay"],
                 maximize=group["maximize"])
