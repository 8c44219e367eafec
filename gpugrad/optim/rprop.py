"""Rprop: each weight moves by its own step size, grown while its gradient keeps its sign
and shrunk when the sign flips; only the gradient's sign is used."""
import gpugrad as gg
from ..backends import get_array_module
from .optimizer import Optimizer, check_hyperparameter


def rprop(params, grads, prevs, step_sizes, *, step_size_min, step_size_max, etaminus,
          etaplus, maximize=False):
    """One Rprop step on raw arrays, in place (PyTorch's rule, the iRprop- variant).

    ``prevs[i]`` holds the gradient the previous step used (zeros before the first), and
    ``step_sizes[i]`` the per-element step sizes (``lr`` before the first step).

    >>> import numpy as np
    >>> p, prev, size = np.zeros(3), np.array([1.0, 1.0, 0.0]), np.full(3, 0.1)
    >>> rprop([p], [np.array([2.0, -2.0, 2.0])], [prev], [size], step_size_min=1e-6,
    ...       step_size_max=50, etaminus=0.5, etaplus=1.2)
    >>> p, size, prev  # same sign: grow; flipped: shrink and skip; first: keep
    (array([-0.12,  0.  , -0.1 ]), array([0.12, 0.05, 0.1 ]), array([2., 0., 2.]))
    """
    for param, grad, prev, step_size in zip(params, grads, prevs, step_sizes):
        xp = get_array_module(param)
        if maximize:
            grad = -grad
        sign = xp.sign(grad * prev)
        factor = xp.ones_like(sign)
        factor[sign > 0] = etaplus
        factor[sign < 0] = etaminus
        step_size *= factor
        xp.clip(step_size, step_size_min, step_size_max, out=step_size)
        # After a sign flip the weight stays put, and the next step sees no previous sign.
        grad = grad.copy()
        grad[sign < 0] = 0
        param -= xp.sign(grad) * step_size
        prev[...] = grad


class Rprop(Optimizer):
    """Resilient backpropagation, like ``torch.optim.Rprop``.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.tensor([1.0, 1.0]))
    >>> opt = gg.optim.Rprop([w], lr=0.1)
    >>> for _ in range(2):
    ...     w.grad = gg.tensor([3.0, -0.5])
    ...     opt.step()
    >>> w.numpy().round(4)  # 0.1, then 0.1 * 1.2
    array([0.78, 1.22], dtype=float32)
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 maximize=False):
        check_hyperparameter("learning rate", lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes),
                        maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, group, param):
        return {"step": 0, "prev": gg.zeros_like(param),
                "step_size": gg.full_like(param, group["lr"])}

    def _update(self, group, entries):
        grads = [self._dense_grad(p) for _, p in entries]
        params, prevs, step_sizes = [], [], []
        for pos, p in entries:
            state = self._state(pos, group, p)
            state["step"] += 1
            params.append(p._data)
            prevs.append(state["prev"]._data)
            step_sizes.append(state["step_size"]._data)
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        rprop(params, grads, prevs, step_sizes, step_size_min=step_size_min,
              step_size_max=step_size_max, etaminus=etaminus, etaplus=etaplus,
              maximize=group["maximize"])
