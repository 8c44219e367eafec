"""Adagrad: per-coordinate steps shrinking with the sum of squared gradients; sparse-aware."""
import gpugrad as gg
from ..backends import get_array_module
from ..sparse import RowSparseGrad
from .optimizer import Optimizer, check_hyperparameter, weight_decayed_grad


def adagrad(params, grads, state_sums, steps, *, lr, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
            maximize=False):
    """One Adagrad step on raw arrays, in place (PyTorch's rule).

    ``steps[i]`` is parameter i's step count including this step (1 on the first).

    >>> import numpy as np
    >>> p, g = np.array([1.0]), np.array([2.0])
    >>> adagrad([p], [g], [np.zeros(1)], [1], lr=0.1, eps=0.0)
    >>> p
    array([0.9])
    """
    for i, (param, grad) in enumerate(zip(params, grads)):
        xp = get_array_module(param)
        state_sum = state_sums[i]
        grad = weight_decayed_grad(param, grad, weight_decay, maximize)
        clr = lr / (1 + (steps[i] - 1) * lr_decay)

        scratch = xp.multiply(grad, grad)
        state_sum += scratch
        std = xp.sqrt(state_sum, out=scratch)
        std += eps
        update = xp.divide(grad, std, out=scratch)
        update *= clr
        param -= update


def sparse_adagrad(params, indices, values, state_sums, steps, *, lr, lr_decay=0.0, eps=1e-10,
                   maximize=False):
    """Adagrad on the rows ``indices`` only (unique: coalesce first); other rows keep
    both their values and their squared-gradient sums.

    >>> import numpy as np
    >>> p, s = np.ones((3, 1)), np.zeros((3, 1))
    >>> sparse_adagrad([p], [np.array([1])], [np.array([[2.0]])], [s], [1], lr=0.1, eps=0.0)
    >>> p.ravel(), s.ravel()
    (array([1. , 0.9, 1. ]), array([0., 4., 0.]))
    """
    for i, (param, rows, grad_rows) in enumerate(zip(params, indices, values)):
        xp = get_array_module(param)
        state_sum = state_sums[i]
        if maximize:
            grad_rows = -grad_rows
        clr = lr / (1 + (steps[i] - 1) * lr_decay)

        state_sum[rows] += grad_rows * grad_rows
        std = xp.sqrt(state_sum[rows])
        std += eps
        update = xp.divide(grad_rows, std, out=std)
        update *= clr
        param[rows] -= update


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), like ``torch.optim.Adagrad``; accepts row-sparse gradients
    (``gpugrad.sparse.RowSparseGrad``) without weight decay.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.tensor([1.0]))
    >>> opt = gg.optim.Adagrad([w], lr=0.1)
    >>> w.grad = gg.tensor([2.0])
    >>> opt.step()
    >>> round(w.item(), 4)
    0.9
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, *, maximize=False):
        check_hyperparameter("learning rate", lr)
        check_hyperparameter("lr_decay value", lr_decay)
        check_hyperparameter("weight_decay value", weight_decay)
        check_hyperparameter("initial_accumulator_value", initial_accumulator_value)
        check_hyperparameter("epsilon value", eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, group, param):
        initial = group["initial_accumulator_value"]
        return {"step": 0, "sum": gg.full(param.shape, initial, dtype=param.dtype,
                                          device=param.device)}

    def _update(self, group, entries):
        dense = [(pos, p) for pos, p in entries if not isinstance(p.grad, RowSparseGrad)]
        sparse = [(pos, p) for pos, p in entries if isinstance(p.grad, RowSparseGrad)]
        if sparse and group["weight_decay"] != 0:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        hyper = dict(lr=group["lr"], lr_decay=group["lr_decay"], eps=group["eps"],
                     maximize=group["maximize"])
        if dense:
            params, sums, steps = self._collect(group, dense)
            adagrad(params, [p.grad._data for _, p in dense], sums, steps,
                    weight_decay=group["weight_decay"], **hyper)
        if sparse:
            params, sums, steps = self._collect(group, sparse)
            grads = [p.grad.coalesce() for _, p in sparse]
            sparse_adagrad(params, [g.indices for g in grads], [g.values for g in grads], sums,
                           steps, **hyper)

    def _collect(self, group, entries):
        """Parameter arrays, sum arrays and (incremented) steps of ``entries``."""
        params, sums, steps = [], [], []
        for pos, p in entries:
            state = self._state(pos, group, p)
            state["step"] += 1
            params.append(p._data)
            sums.append(state["sum"]._data)
            steps.append(state["step"])
        return params, sums, steps
