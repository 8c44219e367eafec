"""RAdam: Adam whose adaptive step is switched on, and rectified, once the variance of the
second-moment estimate is tractable (Liu et al.)."""
import math

import gpugrad as gg
from ..backends import get_array_module
from .optimizer import Optimizer, check_betas, check_hyperparameter, decayed_grad


def radam(params, grads, exp_avgs, exp_avg_sqs, steps, *, lr, beta1, beta2, eps,
          weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
    """One RAdam step on raw arrays, in place (PyTorch's rule).

    ``steps[i]`` counts this step (1 on the first). While the approximated SMA length
    ``rho_t`` is at most 5 the step is plain bias-corrected momentum (SGD with momentum).

    >>> import numpy as np
    >>> p = np.array([1.0])
    >>> radam([p], [np.array([2.0])], [np.zeros(1)], [np.zeros(1)], [1], lr=0.1, beta1=0.9,
    ...       beta2=0.999, eps=1e-8)
    >>> p  # first step: rho_1 = 1, so p -= lr * grad
    array([0.8])
    """
    rho_inf = 2 / (1 - beta2) - 1
    for i, (param, grad) in enumerate(zip(params, grads)):
        xp = get_array_module(param)
        exp_avg, exp_avg_sq, step = exp_avgs[i], exp_avg_sqs[i], steps[i]
        grad = decayed_grad(param, grad, lr, weight_decay, decoupled_weight_decay, maximize)

        # exp_avg.lerp_(grad, 1 - beta1), in lerp's own rounding order.
        exp_avg += (1 - beta1) * (grad - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * (grad * grad)

        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        update = exp_avg / bias_correction1
        update *= lr
        rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            denom = xp.sqrt(exp_avg_sq)
            denom += eps
            update *= math.sqrt(bias_correction2) / denom
            update *= rect
        param -= update


class RAdam(Optimizer):
    """RAdam (rectified Adam), like ``torch.optim.RAdam``; ``decoupled_weight_decay``
    shrinks the parameters AdamW-style instead of adding an L2 gradient term.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.tensor([1.0]))
    >>> opt = gg.optim.RAdam([w], lr=0.1)
    >>> w.grad = gg.tensor([2.0])
    >>> opt.step()
    >>> round(w.item(), 4), opt.state[0]["step"]
    (0.8, 1)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, maximize=False):
        check_hyperparameter("learning rate", lr)
        check_hyperparameter("epsilon value", eps)
        check_betas(betas)
        check_hyperparameter("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, group, param):
        return {"step": 0, "exp_avg": gg.zeros_like(param), "exp_avg_sq": gg.zeros_like(param)}

    def _update(self, group, entries):
        # Check every gradient before touching any state.
        grads = [self._dense_grad(p) for _, p in entries]
        params, exp_avgs, exp_avg_sqs, steps = [], [], [], []
        for pos, p in entries:
            state = self._state(pos, group, p)
            state["step"] += 1
            params.append(p._data)
            exp_avgs.append(state["exp_avg"]._data)
            exp_avg_sqs.append(state["exp_avg_sq"]._data)
            steps.append(state["step"])
        beta1, beta2 = group["betas"]
        radam(params, grads, exp_avgs, exp_avg_sqs, steps, lr=group["lr"], beta1=beta1,
              beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
              decoupled_weight_decay=group["decoupled_weight_decay"],
              maximize=group["maximize"])
