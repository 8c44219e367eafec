"""Adamax: Adam with the second moment replaced by an exponentially weighted infinity norm."""
import gpugrad as gg
from ..backends import get_array_module
from .optimizer import Optimizer, check_betas, check_hyperparameter, weight_decayed_grad


def adamax(params, grads, exp_avgs, exp_infs, steps, *, lr, beta1, beta2, eps,
           weight_decay=0.0, maximize=False):
    """One Adamax step on raw arrays, in place (PyTorch's rule).

    ``steps[i]`` is parameter i's step count including this step (1 on the first).

    >>> import numpy as np
    >>> p, g = np.array([1.0]), np.array([-2.0])
    >>> adamax([p], [g], [np.zeros(1)], [np.zeros(1)], [1], lr=0.5, beta1=0.9, beta2=0.999,
    ...        eps=0.0)
    >>> p.round(6)
    array([1.5])
    """
    for i, (param, grad) in enumerate(zip(params, grads)):
        xp = get_array_module(param)
        exp_avg, exp_inf = exp_avgs[i], exp_infs[i]
        grad = weight_decayed_grad(param, grad, weight_decay, maximize)

        scratch = xp.multiply(grad, 1 - beta1)
        exp_avg *= beta1
        exp_avg += scratch
        # eps goes inside the max (PyTorch), so exp_inf is never 0 after the first step.
        xp.abs(grad, out=scratch)
        scratch += eps
        exp_inf *= beta2
        xp.maximum(exp_inf, scratch, out=exp_inf)

        update = xp.divide(exp_avg, exp_inf, out=scratch)
        update *= lr / (1 - beta1 ** steps[i])
        param -= update


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, section 7), like ``torch.optim.Adamax``.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.tensor([1.0]))
    >>> opt = gg.optim.Adamax([w], lr=0.5)
    >>> w.grad = gg.tensor([-2.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    1.5
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 maximize=False):
        check_hyperparameter("learning rate", lr)
        check_hyperparameter("epsilon value", eps)
        check_betas(betas)
        check_hyperparameter("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, group, param):
        return {"step": 0, "exp_avg": gg.zeros_like(param), "exp_inf": gg.zeros_like(param)}

    def _update(self, group, entries):
        # Check every gradient before touching any state.
        grads = [self._dense_grad(p) for _, p in entries]
        params, exp_avgs, exp_infs, steps = [], [], [], []
        for pos, p in entries:
            state = self._state(pos, group, p)
            state["step"] += 1
            params.append(p._data)
            exp_avgs.append(state["exp_avg"]._data)
            exp_infs.append(state["exp_inf"]._data)
            steps.append(state["step"])
        beta1, beta2 = group["betas"]
        adamax(params, grads, exp_avgs, exp_infs, steps, lr=group["lr"], beta1=beta1,
               beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
               maximize=group["maximize"])
