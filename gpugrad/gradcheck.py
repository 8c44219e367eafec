"""``gg.gradcheck``: analytic gradients against central differences, in float64.

Small problems compare full Jacobians entry by entry. Large ones (more than
``max_entries`` Jacobian entries) compare random projections ``v . J . u`` instead, which
catches any wrong entry with probability one, for a cost of a few forward/backward passes.
"""
import numpy as np

from .autograd.api import grad as _grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` with the worst mismatching entries.

    >>> class BadSquare(gg.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, xp, a):
    ...         return a * a
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         return g  # wrong: should be 2 * a * g
    >>> x = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> try:
    ...     gg.gradcheck(BadSquare.apply, (x,))
    ... except gg.GradcheckError as err:
    ...     print('caught', type(err).__name__, isinstance(err, RuntimeError))
    caught GradcheckError True
    """


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _prepare(inputs):
    """float64 copies of the differentiable inputs; others pass through unchanged."""
    out = []
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad:
            t = t.detach().to(dtype=np.float64).requires_grad_(True)
        out.append(t)
    return out


def _outputs(fn, inputs):
    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _shift(t, step):
    """``t + step`` (a host array) as a new leaf on ``t``'s device, made inside its device
    context: CuPy would otherwise allocate on the current device."""
    with t._backend.device_context(t._device):
        moved = t._data + t._backend.xp.asarray(step)
    return t._like(moved).requires_grad_(True)


def _numeric_jvp(fn, inputs, directions, eps):
    """(f(x + eps u) - f(x - eps u)) / 2 eps for one direction per input, flattened."""
    def shifted(sign):
        # Shifted inputs keep requires_grad: fn may itself differentiate (double backward).
        moved = [t if u is None else _shift(t, sign * eps * u)
                 for t, u in zip(inputs, directions)]
        return [o._host().astype(np.float64).ravel() for o in _outputs(fn, moved)]
    plus, minus = shifted(1.0), shifted(-1.0)
    return np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)])


def _analytic_vjp(fn, inputs, diff, cotangents):
    """J^T v for the stacked outputs, as one flat array per differentiable input."""
    outs = _outputs(fn, inputs)
    pieces, start = [], 0
    for o in outs:
        n = o._data.size
        piece = cotangents[start:start + n].reshape(o.shape).astype(o.dtype)
        with o._backend.device_context(o._device):
            pieces.append(o._like(o._backend.xp.asarray(piece)))
        start += n
    used = [(o, g) for o, g in zip(outs, pieces) if o.requires_grad]
    if not used:
        return [np.zeros(inputs[i]._data.size) for i in diff]
    grads = _grad([o for o, _ in used], [inputs[i] for i in diff], [g for _, g in used],
                  allow_unused=True)
    return [np.zeros(inputs[i]._data.size) if g is None else g._host().ravel()
            for i, g in zip(diff, grads)]


def _compare(analytic, numeric, atol, rtol, where):
    err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if np.all(err <= 0) and np.all(np.isfinite(analytic) == np.isfinite(numeric)):
        return
    worst = np.argsort(-np.nan_to_num(err, nan=np.inf))[:5]
    rows = "\n".join(f"  {where(i)}: analytic {analytic[i]:.8g}, numeric {numeric[i]:.8g}"
                     for i in worst)
    raise GradcheckError(f"gradcheck: analytic and numeric gradients differ; worst entries:\n"
                         f"{rows}")


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, max_entries=4096, directions=4,
              seed=0):
    """Check ``fn``'s gradients w.r.t. every input that requires grad; returns True or
    raises ``GradcheckError`` listing the worst mismatching entries.

    >>> import gpugrad as gg
    >>> x = gg.randn(3, dtype=gg.float64, requires_grad=True)
    >>> gg.gradcheck(lambda t: (t * t).sin(), [x])
    True
    """
    inputs = _prepare(_as_tuple(inputs))
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    n_out = sum(o._data.size for o in _outputs(fn, inputs))
    n_in = sum(inputs[i]._data.size for i in diff)
    if n_out * n_in <= max_entries:
        _check_full(fn, inputs, diff, n_out, eps, atol, rtol)
    else:
        _check_projected(fn, inputs, diff, n_out, eps, atol, rtol, directions, seed)
    return True


def _check_full(fn, inputs, diff, n_out, eps, atol, rtol):
    """Column j of the Jacobian numerically, row i analytically; compare every entry."""
    rows = [_analytic_vjp(fn, inputs, diff, np.eye(n_out)[i]) for i in range(n_out)]
    for k, i in enumerate(diff):
        size = inputs[i]._data.size
        analytic = np.array([r[k] for r in rows]).reshape(n_out, size)
        numeric = np.empty((n_out, size))
        for j in range(size):
            u = np.zeros(size)
            u[j] = 1.0
            dirs = [None] * len(inputs)
            dirs[i] = u.reshape(inputs[i].shape)
            numeric[:, j] = _numeric_jvp(fn, inputs, dirs, eps)
        _compare(analytic.ravel(), numeric.ravel(), atol, rtol,
                 lambda e: f"input {i}, output entry {e // size}, input entry {e % size}")


def _check_projected(fn, inputs, diff, n_out, eps, atol, rtol, directions, seed):
    """Compare v . (J u) numerically against (J^T v) . u analytically for random u, v."""
    rng = np.random.default_rng(seed)
    analytic, numeric = [], []
    for _ in range(directions):
        v = rng.standard_normal(n_out)
        dirs = [None] * len(inputs)
        for i in diff:
            dirs[i] = rng.standard_normal(inputs[i].shape)
        jt_v = _analytic_vjp(fn, inputs, diff, v)
        analytic.append(sum(g @ dirs[i].ravel() for g, i in zip(jt_v, diff)))
        numeric.append(v @ _numeric_jvp(fn, inputs, dirs, eps))
    _compare(np.array(analytic), np.array(numeric), atol, rtol,
             lambda d: f"random direction {d}")
