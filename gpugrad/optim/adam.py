"""Adam and AdamW (Adam with decoupled weight decay), with the AMSGrad variant.

On CuPy arrays each parameter's step is one fused kernel (``kernels/optim.py``).
"""
import math

import gpugrad as gg
from ..backends import get_array_module
from ..kernels import optim as fused
from .optimizer import (Optimizer, check_betas, check_hyperparameter, decayed_grad, fusable,
                        weight_decayed_grad)


def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1, beta2,
         eps, weight_decay=0.0, amsgrad=False, maximize=False, decoupled_weight_decay=False):
    """One Adam step on raw arrays, in place (PyTorch's rule).

    ``steps[i]`` is parameter i's step count *including* this step (1 on the first).
    ``max_exp_avg_sqs`` is only read with ``amsgrad``. ``decoupled_weight_decay`` gives
    AdamW: the parameter shrinks by ``lr * weight_decay`` instead of an L2 gradient term.

    >>> import numpy as np
    >>> p, g = np.array([1.0]), np.array([3.0])
    >>> adam([p], [g], [np.zeros(1)], [np.zeros(1)], [], [1], lr=0.1, beta1=0.9,
    ...      beta2=0.999, eps=1e-8)
    >>> p.round(6)
    array([0.9])
    """
    for i, (param, grad) in enumerate(zip(params, grads)):
        xp = get_array_module(param)
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        max_sq = max_exp_avg_sqs[i] if amsgrad else None
        if fusable(param, exp_avg, exp_avg_sq, max_sq):
            # Only negated here (for maximize): the kernel applies the weight decay itself.
            grad = xp.ascontiguousarray(weight_decayed_grad(param, grad, 0.0, maximize))
            fused.adam_update(param, grad, exp_avg, exp_avg_sq, steps[i], lr=lr,
                              betas=(beta1, beta2), eps=eps, weight_decay=weight_decay,
                              amsgrad=amsgrad, max_exp_avg_sq=max_sq,
                              decoupled=decoupled_weight_decay)
            continue
        grad = decayed_grad(param, grad, lr, weight_decay, decoupled_weight_decay, maximize)

        scratch = xp.multiply(grad, 1 - beta1)
        exp_avg *= beta1
        exp_avg += scratch
        xp.multiply(grad, grad, out=scratch)
        scratch *= 1 - beta2
        exp_avg_sq *= beta2
        exp_avg_sq += scratch

        second_moment = exp_avg_sq
        if amsgrad:
            xp.maximum(max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])
            second_moment = max_exp_avg_sqs[i]
        bias_correction1 = 1 - beta1 ** steps[i]
        bias_correction2 = 1 - beta2 ** steps[i]
        # denom = sqrt(v) / sqrt(bc2) + eps: eps sits outside the bias correction, as in PyTorch.
        denom = xp.sqrt(second_moment, out=scratch)
        denom /= math.sqrt(bias_correction2)
        denom += eps
        update = xp.divide(exp_avg, denom, out=scratch)
        update *= lr / bias_correction1
        param -= update


class Adam(Optimizer):
    """Adam (Kingma & Ba), like ``torch.optim.Adam``: L2 weight decay, optional AMSGrad.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.tensor([1.0]))
    >>> opt = gg.optim.Adam([w], lr=0.1)
    >>> w.grad = gg.tensor([3.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    0.9
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        check_hyperparameter("learning rate", lr)
        check_hyperparameter("epsilon value", eps)
        check_betas(betas)
        check_hyperparameter("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _init_state(self, group, param):
        state = {"step": 0, "exp_avg": gg.zeros_like(param), "exp_avg_sq": gg.zeros_like(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = gg.zeros_like(param)
        return state

    def _update(self, group, entries):
        # Check every gradient before touching any state.
        grads = [self._dense_grad(p) for _, p in entries]
        params, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = [], [], [], [], []
        for pos, p in entries:
            state = self._state(pos, group, p)
            state["step"] += 1
            params.append(p._data)
            exp_avgs.append(state["exp_avg"]._data)
            exp_avg_sqs.append(state["exp_avg_sq"]._data)
            if group["amsgrad"]:
                max_exp_avg_sqs.append(state["max_exp_avg_sq"]._data)
            steps.append(state["step"])
        beta1, beta2 = group["betas"]
        adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr=group["lr"],
             beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
             amsgrad=group["amsgrad"], maximize=group["maximize"],
             decoupled_weight_decay=group["decoupled_weight_decay"])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), like ``torch.optim.AdamW``.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.tensor([1.0]))
    >>> opt = gg.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = gg.tensor([0.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    0.95
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)
