"""L-BFGS: a quasi-Newton method that rebuilds the inverse Hessian from the last
``history_size`` steps, driven by a closure that re-evaluates the loss.

The class only moves parameters and calls the closure; the direction (the two-loop
recursion) and the strong-Wolfe line search are functions on flat arrays.
"""
import math

import numpy as np

import gpugrad as gg
from ..autograd.grad_mode import enable_grad, no_grad
from ..backends import get_array_module
from .optimizer import Optimizer, _load_value, check_hyperparameter, state_tensor
from ..autograd.recording import traced_call


def lbfgs_direction(flat_grad, old_dirs, old_stps, ro, h_diag, al):
    """The search direction ``-H grad`` by the two-loop recursion over the stored pairs
    (``old_dirs`` the gradient changes y, ``old_stps`` the steps s, ``ro`` their 1 / y.s);
    ``h_diag`` scales the initial Hessian and ``al`` is scratch of at least that length.

    >>> import numpy as np
    >>> lbfgs_direction(np.array([2.0, -4.0]), [], [], [], 0.5, [])
    array([-1.,  2.])
    """
    xp = get_array_module(flat_grad)
    q = -flat_grad
    for i in range(len(old_dirs) - 1, -1, -1):
        al[i] = float(xp.dot(old_stps[i], q)) * ro[i]
        q -= al[i] * old_dirs[i]
    r = q * h_diag
    for i in range(len(old_dirs)):
        be_i = float(xp.dot(old_dirs[i], r)) * ro[i]
        r += (al[i] - be_i) * old_stps[i]
    return r


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through two points with values ``f`` and slopes ``g``,
    clamped to ``bounds`` (default: between the points); their midpoint when it has none.

    >>> cubic_interpolate(0.0, 0.0, -2.0, 2.0, 0.0, 2.0)  # the parabola (x - 1)**2 - 1
    1.0
    """
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (xmin_bound + xmax_bound) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, xmin_bound), xmax_bound)


def strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                 max_ls=25):
    """Search along ``d`` from ``x`` (loss ``f``, flat gradient ``g``, slope ``gtd``) for a
    step ``t`` meeting the strong Wolfe conditions, bracketing then zooming by cubic
    interpolation (PyTorch's, after minFunc). ``obj_func(x, t, d)`` returns the loss and
    flat gradient at ``x + t d``. Returns ``(f_new, g_new, t, evaluations)``.

    >>> import numpy as np
    >>> def f(x, t, d):
    ...     y = x + t * d
    ...     return float(y @ y), 2 * y
    >>> x = np.array([1.0, 2.0])
    >>> f_new, g_new, t, evals = strong_wolfe(f, x, 1.0, -x, 5.0, 2 * x, -10.0)
    >>> f_new, t, evals
    (0.0, 1.0, 1)
    """
    xp = get_array_module(d)
    d_norm = float(xp.abs(d).max())
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = float(xp.dot(g_new, d))
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    bracket_gtd = None
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # Extrapolate, at least 1% of the last move and at most 10x the step.
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                              bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(xp.dot(g_new, d))
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # Zoom: shrink the bracket until a point satisfies the conditions.
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                              bracket[1], bracket_f[1], bracket_gtd[1])
        # A point too close to an end of the bracket makes no progress: move it inwards.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(xp.dot(g_new, d))
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class LBFGS(Optimizer):
    """L-BFGS, like ``torch.optim.LBFGS``: one parameter group, all parameters on one
    device, and ``step(closure)`` runs up to ``max_iter`` iterations, calling ``closure``
    (which zeroes the gradients, computes the loss, calls ``backward`` and returns the loss)
    as often as it needs. ``line_search_fn`` is None (fixed step ``lr``) or
    ``"strong_wolfe"``. The state (history included) is parameter 0's entry.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.tensor([3.0, -1.0], dtype="float64"))
    >>> opt = gg.optim.LBFGS([w], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = ((w - 1.0) ** 2).sum()
    ...     loss.backward()
    ...     return loss
    >>> opt.step(closure).item()  # the loss before the step
    8.0
    >>> w.numpy().round(6)
    array([1., 1.])
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        check_hyperparameter("learning rate", lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")

    @traced_call("step")
    def step(self, closure):
        """Run up to ``max_iter`` iterations; return the loss ``closure`` gave first.

        >>> import gpugrad as gg
        >>> w = gg.nn.Parameter(gg.tensor([2.0], dtype="float64"))
        >>> opt = gg.optim.LBFGS([w], lr=0.5, max_iter=1)
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = (w ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> opt.step(closure).item(), w.item()  # one step of min(1, 1/|g|_1) * lr = 0.125
        (4.0, 1.5)
        """
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        params = self.param_groups[0]["params"]
        device = params[0].device
        with no_grad(), device.backend.device_context(device):
            return self._run(closure)

    def _run(self, closure):
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        if line_search_fn not in (None, "strong_wolfe"):
            raise RuntimeError("only 'strong_wolfe' is supported")
        state = self.state.setdefault(0, {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._evaluate(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        xp = get_array_module(flat_grad)
        if float(xp.abs(flat_grad).max()) <= tolerance_grad:
            return orig_loss

        d, prev_flat_grad = _array(state.get("d")), _array(state.get("prev_flat_grad"))
        old_dirs = [_array(a) for a in state.get("old_dirs", [])]
        old_stps = [_array(a) for a in state.get("old_stps", [])]
        t, ro, h_diag = state.get("t"), list(state.get("ro", [])), state.get("H_diag")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, h_diag = [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(xp.dot(y, s))
                if ys > 1e-10:  # skip the pair when the curvature is not positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(xp.dot(y, y))
                al = state.setdefault("al", [None] * history_size)
                d = lbfgs_direction(flat_grad, old_dirs, old_stps, ro, h_diag, al)

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # The first step is scaled down, as no curvature is known yet.
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(xp.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(xp.dot(flat_grad, d))
            if gtd > -tolerance_change:  # not a descent direction
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = [p._data.copy() for p in self.param_groups[0]["params"]]

                def obj_func(x, step, direction):
                    return self._directional_evaluate(closure, x, step, direction)

                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = float(xp.abs(flat_grad).max()) <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    loss = float(self._evaluate(closure))
                    flat_grad = self._gather_flat_grad()
                    opt_cond = float(xp.abs(flat_grad).max()) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if float(xp.abs(d * t).max()) <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"], state["t"] = state_tensor(d), t
        state["old_dirs"] = [state_tensor(a) for a in old_dirs]
        state["old_stps"] = [state_tensor(a) for a in old_stps]
        state["ro"], state["H_diag"] = ro, h_diag
        state["prev_flat_grad"] = state_tensor(prev_flat_grad)
        state["prev_loss"] = prev_loss
        return orig_loss

    def load_state_dict(self, state_dict):
        """Load a ``state_dict()``; the history arrays are flat, one entry per element of
        all parameters together, so they are checked against that length.

        >>> import gpugrad as gg
        >>> w = gg.nn.Parameter(gg.ones(2))
        >>> opt = gg.optim.LBFGS([w], lr=0.1)
        >>> twin = gg.optim.LBFGS([gg.nn.Parameter(gg.ones(2))])
        >>> twin.load_state_dict(opt.state_dict())
        >>> twin.param_groups[0]["lr"]
        0.1
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError("optimizer state dict must be a dict with 'state' and "
                             "'param_groups' keys")
        params = self.param_groups[0]["params"]
        numel = sum(p.numel() for p in params)
        entries = list(state_dict["state"].values())
        if len(entries) > 1:
            raise ValueError(f"LBFGS keeps one state entry, the loaded one has {len(entries)}")
        loaded = {}
        if entries:
            if not isinstance(entries[0], dict):
                raise ValueError("LBFGS's state entry must be a dict")
            loaded = {0: {name: _load_flat(value, params[0], numel, name)
                          for name, value in entries[0].items()}}
        super().load_state_dict({"state": {}, "param_groups": state_dict["param_groups"]})
        self.state = loaded

    # -- flat views of the parameters --------------------------------------------------------

    def _evaluate(self, closure):
        with enable_grad():
            return closure()

    def _gather_flat_grad(self):
        params = self.param_groups[0]["params"]
        xp = get_array_module(params[0]._data)
        views = []
        for p in params:
            if p.grad is None:
                views.append(xp.zeros(p.numel(), dtype=p._data.dtype))
            else:
                views.append(self._dense_grad(p).reshape(-1))
        return xp.concatenate(views)

    def _add_grad(self, step_size, update):
        offset = 0
        for p in self.param_groups[0]["params"]:
            numel = p.numel()
            p._data += step_size * update[offset:offset + numel].reshape(p._data.shape)
            p._bump_version()
            offset += numel

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(self._evaluate(closure))
        flat_grad = self._gather_flat_grad()
        for p, saved in zip(self.param_groups[0]["params"], x):
            p._data[...] = saved
            p._bump_version()
        return loss, flat_grad


def _array(value):
    """The raw array of a state Tensor (None stays None)."""
    return None if value is None else value._data


def _load_flat(value, param, numel, name):
    """One loaded LBFGS state value as ``_load_value`` makes it (arrays, alone or in lists,
    become Tensors on ``param``'s device), each array checked to be of length ``numel``."""
    if isinstance(value, (list, tuple)):
        return [_load_flat(item, param, numel, name) for item in value]
    loaded = _load_value(value, param)
    if isinstance(loaded, gg.Tensor) and loaded.shape != (numel,):
        raise ValueError(f"LBFGS state {name!r} has shape {loaded.shape}, expected ({numel},)")
    return loaded
