"""ASGD: SGD with an L2 decay of the step and a running (Polyak) average of the iterates,
which starts averaging after ``t0`` steps."""
import gpugrad as gg
from .optimizer import Optimizer, check_hyperparameter, weight_decayed_grad


def asgd(params, grads, axs, etas, mus, steps, *, lr, lambd, alpha, t0, weight_decay=0.0,
         maximize=False):
    """One ASGD step on raw arrays, in place (PyTorch's rule).

    ``etas[i]`` and ``mus[i]`` are parameter i's current step size and averaging weight
    (``lr`` and 1.0 before the first step); this function replaces them in the lists with
    the values for the next step. ``steps[i]`` counts this step (1 on the first).

    >>> import numpy as np
    >>> p, ax, etas, mus = np.array([1.0]), np.zeros(1), [0.1], [1.0]
    >>> asgd([p], [np.array([2.0])], [ax], etas, mus, [1], lr=0.1, lambd=0.0, alpha=0.75,
    ...      t0=1e6)
    >>> p, ax, etas, mus
    (array([0.8]), array([0.8]), [0.1], [1.0])
    """
    for i, (param, grad) in enumerate(zip(params, grads)):
        grad = weight_decayed_grad(param, grad, weight_decay, maximize)
        eta, mu, ax, step = etas[i], mus[i], axs[i], steps[i]
        param *= 1 - lambd * eta
        param -= eta * grad
        if mu != 1:
            ax += (param - ax) * mu
        else:
            ax[...] = param
        etas[i] = lr / ((1 + lambd * lr * step) ** alpha)
        mus[i] = 1 / max(1, step - t0)


class ASGD(Optimizer):
    """Averaged stochastic gradient descent, like ``torch.optim.ASGD``; the average of the
    iterates is ``state[i]["ax"]``.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.tensor([1.0]))
    >>> opt = gg.optim.ASGD([w], lr=0.1, lambd=0.0)
    >>> w.grad = gg.tensor([2.0])
    >>> opt.step()
    >>> round(w.item(), 4), sorted(opt.state[0])
    (0.8, ['ax', 'eta', 'mu', 'step'])
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, *,
                 maximize=False):
        check_hyperparameter("learning rate", lr)
        check_hyperparameter("weight_decay value", weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, group, param):
        return {"step": 0, "eta": float(group["lr"]), "mu": 1.0, "ax": gg.zeros_like(param)}

    def _update(self, group, entries):
        grads = [self._dense_grad(p) for _, p in entries]
        states = [self._state(pos, group, p) for pos, p in entries]
        for state in states:
            state["step"] += 1
        etas = [state["eta"] for state in states]
        mus = [state["mu"] for state in states]
        asgd([p._data for _, p in entries], grads, [state["ax"]._data for state in states],
             etas, mus, [state["step"] for state in states], lr=group["lr"],
             lambd=group["lambd"], alpha=group["alpha"], t0=group["t0"],
             weight_decay=group["weight_decay"], maximize=group["maximize"])
        for state, eta, mu in zip(states, etas, mus):
            state["eta"], state["mu"] = eta, mu
