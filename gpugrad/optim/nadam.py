"""NAdam: Adam with Nesterov momentum and Dozat's momentum-decay schedule."""
import gpugrad as gg
from ..backends import get_array_module
from .optimizer import Optimizer, check_betas, check_hyperparameter, decayed_grad


def nadam(params, grads, exp_avgs, exp_avg_sqs, mu_products, steps, *, lr, beta1, beta2, eps,
          weight_decay=0.0, momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    """One NAdam step on raw arrays, in place (PyTorch's rule).

    ``steps[i]`` counts this step (1 on the first). ``mu_products[i]`` is the product of the
    momentum coefficients mu_1..mu_{t-1} (1.0 before the first step); this function replaces
    it in the list with the product up to mu_t.

    >>> import numpy as np
    >>> p, mu_products = np.array([1.0]), [1.0]
    >>> nadam([p], [np.array([2.0])], [np.zeros(1)], [np.zeros(1)], mu_products, [1], lr=0.1,
    ...       beta1=0.9, beta2=0.999, eps=1e-8)
    >>> p.round(4), round(mu_products[0], 6)
    (array([0.8944]), 0.450073)
    """
    for i, (param, grad) in enumerate(zip(params, grads)):
        xp = get_array_module(param)
        exp_avg, exp_avg_sq, step = exp_avgs[i], exp_avg_sqs[i], steps[i]
        grad = decayed_grad(param, grad, lr, weight_decay, decoupled_weight_decay, maximize)

        # Momentum schedule mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay)).
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        mu_product = mu_products[i] * mu
        mu_products[i] = mu_product

        scratch = xp.multiply(grad, 1 - beta1)
        exp_avg *= beta1
        exp_avg += scratch
        xp.multiply(grad, grad, out=scratch)
        scratch *= 1 - beta2
        exp_avg_sq *= beta2
        exp_avg_sq += scratch

        denom = xp.divide(exp_avg_sq, 1 - beta2 ** step, out=scratch)
        xp.sqrt(denom, out=denom)
        denom += eps
        # Nesterov: the current gradient and the momentum each get their own bias correction.
        update = xp.divide(grad, denom)
        update *= lr * (1.0 - mu) / (1.0 - mu_product)
        param -= update
        xp.divide(exp_avg, denom, out=update)
        update *= lr * mu_next / (1.0 - mu_product * mu_next)
        param -= update


class NAdam(Optimizer):
    """NAdam (Dozat), like ``torch.optim.NAdam``; ``decoupled_weight_decay`` gives NAdamW.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.tensor([1.0]))
    >>> opt = gg.optim.NAdam([w], lr=0.1)
    >>> w.grad = gg.tensor([2.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    0.8944
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False):
        check_hyperparameter("learning rate", lr)
        check_hyperparameter("epsilon value", eps)
        check_betas(betas)
        check_hyperparameter("weight_decay value", weight_decay)
        check_hyperparameter("momentum_decay value", momentum_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, group, param):
        return {"step": 0, "mu_product": 1.0, "exp_avg": gg.zeros_like(param),
                "exp_avg_sq": gg.zeros_like(param)}

    def _update(self, group, entries):
        # Check every gradient before touching any state.
        grads = [self._dense_grad(p) for _, p in entries]
        params, exp_avgs, exp_avg_sqs, mu_products, steps = [], [], [], [], []
        states = []
        for pos, p in entries:
            state = self._state(pos, group, p)
            state["step"] += 1
            states.append(state)
            params.append(p._data)
            exp_avgs.append(state["exp_avg"]._data)
            exp_avg_sqs.append(state["exp_avg_sq"]._data)
            mu_products.append(state["mu_product"])
            steps.append(state["step"])
        beta1, beta2 = group["betas"]
        nadam(params, grads, exp_avgs, exp_avg_sqs, mu_products, steps, lr=group["lr"],
              beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
              momentum_decay=group["momentum_decay"],
              decoupled_weight_decay=group["decoupled_weight_decay"],
              maximize=group["maximize"])
        for state, mu_product in zip(states, mu_products):
            state["mu_product"] = mu_product
