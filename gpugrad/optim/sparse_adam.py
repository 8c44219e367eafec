"""SparseAdam: Adam that updates only the rows a row-sparse gradient touches (embeddings)."""
import math

import numpy as np

import gpugrad as gg
from ..backends import get_array_module
from ..sparse import RowSparseGrad
from .sgd import _in_range
from .optimizer import Optimizer, check_betas, check_hyperparameter


def sparse_adam(params, indices, values, exp_avgs, exp_avg_sqs, steps, *, lr, beta1, beta2,
                eps, maximize=False):
    """One SparseAdam step on the rows ``indices`` (unique: coalesce first), in place.

    The moments are stored densely, but only the touched rows decay and update (PyTorch's
    rule); bias corrections use the parameter's step count ``steps[i]``, this step included.

    >>> import numpy as np
    >>> p, m, v = np.ones((3, 1)), np.zeros((3, 1)), np.zeros((3, 1))
    >>> sparse_adam([p], [np.array([2])], [np.array([[4.0]])], [m], [v], [1], lr=0.1,
    ...             beta1=0.9, beta2=0.999, eps=1e-8)
    >>> p.ravel().round(6)
    array([1. , 1. , 0.9])
    """
    for i, (param, rows, grad_rows) in enumerate(zip(params, indices, values)):
        if len(rows) == 0:
            continue
        xp = get_array_module(param)
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        bias_correction1 = 1 - beta1 ** steps[i]
        bias_correction2 = 1 - beta2 ** steps[i]
        step_size = lr * math.sqrt(bias_correction2) / bias_correction1
        if _rows_in_place(param, rows, exp_avg, exp_avg_sq, grad_rows):
            from ..kernels import _cpu_sparse  # imports Numba: on first use only
            scalar = param.dtype.type
            width = math.prod(param.shape[1:])
            _cpu_sparse.sparse_adam_rows(
                param.reshape(-1, width), exp_avg.reshape(-1, width),
                exp_avg_sq.reshape(-1, width), rows, grad_rows.reshape(-1, width),
                scalar(-1 if maximize else 1), scalar(1 - beta1), scalar(1 - beta2),
                scalar(eps), scalar(step_size))
            continue
        if maximize:
            grad_rows = -grad_rows

        # old <- b * old + (1 - b) * new, written as old + (1 - b) * (new - old) on the rows.
        old_avg = exp_avg[rows]
        avg_step = xp.subtract(grad_rows, old_avg)
        avg_step *= 1 - beta1
        exp_avg[rows] = old_avg + avg_step
        old_sq = exp_avg_sq[rows]
        sq_step = xp.multiply(grad_rows, grad_rows)
        sq_step -= old_sq
        sq_step *= 1 - beta2
        exp_avg_sq[rows] = old_sq + sq_step

        numer = avg_step
        numer += old_avg
        denom = sq_step
        denom += old_sq
        xp.sqrt(denom, out=denom)
        denom += eps
        update = xp.divide(numer, denom, out=numer)
        update *= step_size
        param[rows] -= update


def _rows_in_place(param, rows, exp_avg, exp_avg_sq, grad_rows):
    """Can the compiled CPU row update run: NumPy arrays of one float dtype, the dense ones
    C-contiguous so that their 2-d views write through?"""
    arrays = (param, exp_avg, exp_avg_sq, grad_rows)
    return (isinstance(param, np.ndarray) and param.dtype in (np.float32, np.float64)
            and isinstance(rows, np.ndarray) and rows.dtype.kind in "iu" and rows.ndim == 1
            and _in_range(rows, param.shape[0])
            and param.ndim >= 1 and all(a.dtype == param.dtype for a in arrays)
            and all(a.flags.c_contiguous for a in arrays))


class SparseAdam(Optimizer):
    """Adam for row-sparse gradients (``gpugrad.sparse.RowSparseGrad``), like
    ``torch.optim.SparseAdam``: untouched rows keep their values and their moments.

    >>> import numpy as np
    >>> import gpugrad as gg
    >>> from gpugrad.sparse import RowSparseGrad
    >>> w = gg.nn.Parameter(gg.ones((3, 1)))
    >>> opt = gg.optim.SparseAdam([w], lr=0.1)
    >>> w.grad = RowSparseGrad(np.array([2]), np.array([[4.0]], dtype=np.float32), (3, 1))
    >>> opt.step()
    >>> w.numpy().ravel().round(4)
    array([1. , 1. , 0.9], dtype=float32)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, *, maximize=False):
        check_hyperparameter("learning rate", lr, open_low=True)
        check_hyperparameter("epsilon value", eps, open_low=True)
        check_betas(betas)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, group, param):
        return {"step": 0, "exp_avg": gg.zeros_like(param), "exp_avg_sq": gg.zeros_like(param)}

    def _update(self, group, entries):
        if not all(isinstance(p.grad, RowSparseGrad) for _, p in entries):
            raise RuntimeError("SparseAdam does not support dense gradients, please consider "
                               "Adam instead")
        params, indices, values, exp_avgs, exp_avg_sqs, steps = [], [], [], [], [], []
        for pos, p in entries:
            grad = p.grad.coalesce()
            state = self._state(pos, group, p)
            # The step counts even for an empty gradient, as in PyTorch.
            state["step"] += 1
            params.append(p._data)
            indices.append(grad.indices)
            values.append(grad.values)
            exp_avgs.append(state["exp_avg"]._data)
            exp_avg_sqs.append(state["exp_avg_sq"]._data)
            steps.append(state["step"])
        beta1, beta2 = group["betas"]
        sparse_adam(params, indices, values, exp_avgs, exp_avg_sqs, steps, lr=group["lr"],
                    beta1=beta1, beta2=beta2, eps=group["eps"], maximize=group["maximize"])
