"""Each optimizer against an independent float64 NumPy implementation of its published rule.

The references below are written from the algorithm boxes of PyTorch's documentation (and
the papers), one plain function per rule; they share no code with gpugrad.optim.
"""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.optim  # noqa: F401  (gpugrad/__init__ may not import it yet)

SHAPES = [(3, 4), (5,)]
STEPS = 25


def _problem(seed=0):
    """Start values and a gradient function: a quadratic bowl plus per-step noise."""
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(shape) for shape in SHAPES]
    noise = [[rng.standard_normal(shape) for shape in SHAPES] for _ in range(STEPS)]

    def grad_at(params, t):
        return [2.0 * (i + 1) * (p - 0.5) + noise[t][i] for i, p in enumerate(params)]
    return start, grad_at


def run_reference(rule, hyper, seed=0):
    """Apply ``rule(p, g, state, t, **hyper) -> new p`` for STEPS steps to each parameter."""
    start, grad_at = _problem(seed)
    params = [p.copy() for p in start]
    states = [{} for _ in params]
    for t in range(STEPS):
        grads = grad_at(params, t)
        params = [rule(p, g, s, t + 1, **hyper) for p, g, s in zip(params, grads, states)]
    return params


def run_gpugrad(cls, hyper, device="cpu", seed=0):
    start, grad_at = _problem(seed)
    params = [gg.nn.Parameter(gg.tensor(p, device=device)) for p in start]
    opt = cls(params, **hyper)
    for t in range(STEPS):
        grads = grad_at([p.cpu().numpy() for p in params], t)
        for p, g in zip(params, grads):
            p.grad = gg.tensor(g, device=device)
        opt.step()
    return [p.cpu().numpy() for p in params]


def _assert_close(actual, expected):
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)


# ---- reference rules --------------------------------------------------------------------


def _decayed(p, g, weight_decay, maximize):
    g = -g if maximize else g
    return g + weight_decay * p


def ref_sgd(p, g, s, t, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
            maximize=False):
    g = _decayed(p, g, weight_decay, maximize)
    if momentum:
        if t == 1:
            s["b"] = g.copy()
        else:
            s["b"] = momentum * s["b"] + (1 - dampening) * g
        g = g + momentum * s["b"] if nesterov else s["b"]
    return p - lr * g


def ref_adam(p, g, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             maximize=False, decoupled=False):
    b1, b2 = betas
    if decoupled:
        p = p - lr * weight_decay * p
        g = _decayed(p, g, 0.0, maximize)
    else:
        g = _decayed(p, g, weight_decay, maximize)
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    m_hat = s["m"] / (1 - b1 ** t)
    if amsgrad:
        s["v_max"] = np.maximum(s.get("v_max", 0.0), s["v"])
        v_hat = s["v_max"] / (1 - b2 ** t)
    else:
        v_hat = s["v"] / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def ref_adamw(p, g, s, t, weight_decay=1e-2, **hyper):
    return ref_adam(p, g, s, t, weight_decay=weight_decay, decoupled=True, **hyper)


def ref_rmsprop(p, g, s, t, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False, maximize=False):
    g = _decayed(p, g, weight_decay, maximize)
    s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
    v = s["v"]
    if centered:
        s["g_avg"] = alpha * s.get("g_avg", 0.0) + (1 - alpha) * g
        v = v - s["g_avg"] ** 2
    if momentum > 0:
        s["b"] = momentum * s.get("b", 0.0) + g / (np.sqrt(v) + eps)
        return p - lr * s["b"]
    return p - lr * g / (np.sqrt(v) + eps)


def ref_adagrad(p, g, s, t, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                eps=1e-10, maximize=False):
    g = _decayed(p, g, weight_decay, maximize)
    clr = lr / (1 + (t - 1) * lr_decay)
    s["sum"] = s.get("sum", initial_accumulator_value) + g * g
    return p - clr * g / (np.sqrt(s["sum"]) + eps)


def ref_adadelta(p, g, s, t, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    g = _decayed(p, g, weight_decay, maximize)
    s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g * g
    dx = np.sqrt(s.get("u", 0.0) + eps) / np.sqrt(s["v"] + eps) * g
    s["u"] = rho * s.get("u", 0.0) + (1 - rho) * dx * dx
    return p - lr * dx


def ref_adamax(p, g, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
               maximize=False):
    b1, b2 = betas
    g = _decayed(p, g, weight_decay, maximize)
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["u"] = np.maximum(b2 * s.get("u", 0.0), np.abs(g) + eps)
    return p - lr / (1 - b1 ** t) * s["m"] / s["u"]


def ref_nadam(p, g, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    if decoupled_weight_decay:
        p = p * (1 - lr * weight_decay)
        g = _decayed(p, g, 0.0, maximize)
    else:
        g = _decayed(p, g, weight_decay, maximize)

    def mu(i):
        return b1 * (1 - 0.5 * 0.96 ** (i * momentum_decay))
    s["prod"] = s.get("prod", 1.0) * mu(t)
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    m_hat = (mu(t + 1) * s["m"] / (1 - s["prod"] * mu(t + 1))
             + (1 - mu(t)) * g / (1 - s["prod"]))
    v_hat = s["v"] / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


CASES = [
    (gg.optim.SGD, ref_sgd, dict(lr=0.05)),
    (gg.optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.9)),
    (gg.optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    (gg.optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    (gg.optim.SGD, ref_sgd, dict(lr=0.01, momentum=0.5, maximize=True)),
    (gg.optim.Adam, ref_adam, dict(lr=0.1)),
    (gg.optim.Adam, ref_adam, dict(lr=0.1, betas=(0.8, 0.99), weight_decay=0.1)),
    (gg.optim.Adam, ref_adam, dict(lr=0.1, amsgrad=True, eps=1e-6)),
    (gg.optim.Adam, ref_adam, dict(lr=0.1, amsgrad=True, weight_decay=0.05, maximize=True)),
    (gg.optim.AdamW, ref_adamw, dict(lr=0.1)),
    (gg.optim.AdamW, ref_adamw, dict(lr=0.1, weight_decay=0.2, amsgrad=True)),
    (gg.optim.RMSprop, ref_rmsprop, dict(lr=0.01)),
    (gg.optim.RMSprop, ref_rmsprop, dict(lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.9)),
    (gg.optim.RMSprop, ref_rmsprop, dict(lr=0.01, centered=True)),
    (gg.optim.RMSprop, ref_rmsprop, dict(lr=0.01, centered=True, momentum=0.5, eps=1e-4)),
    (gg.optim.Adagrad, ref_adagrad, dict(lr=0.1)),
    (gg.optim.Adagrad, ref_adagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                         initial_accumulator_value=0.3, eps=1e-6)),
    (gg.optim.Adadelta, ref_adadelta, dict()),
    (gg.optim.Adadelta, ref_adadelta, dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    (gg.optim.Adamax, ref_adamax, dict(lr=0.1)),
    (gg.optim.Adamax, ref_adamax, dict(lr=0.1, betas=(0.8, 0.9), weight_decay=0.1)),
    (gg.optim.NAdam, ref_nadam, dict(lr=0.1)),
    (gg.optim.NAdam, ref_nadam, dict(lr=0.1, weight_decay=0.1, momentum_decay=0.01)),
    (gg.optim.NAdam, ref_nadam, dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
]


def _case_id(case):
    cls, _, hyper = case
    return cls.__name__ + "-" + "-".join(f"{k}={v}" for k, v in hyper.items())


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_matches_reference(case, device):
    cls, rule, hyper = case
    _assert_close(run_gpugrad(cls, hyper, device), run_reference(rule, hyper))


def test_reference_problem_actually_moves():
    # Guards the comparisons above against a problem where nothing happens.
    start, _ = _problem()
    moved = run_reference(ref_adam, dict(lr=0.1))
    assert all(np.abs(m - s).max() > 0.1 for m, s in zip(moved, start))


@pytest.mark.parametrize("cls", [gg.optim.SGD, gg.optim.Adam, gg.optim.RMSprop,
                                 gg.optim.Adagrad, gg.optim.Adadelta, gg.optim.Adamax,
                                 gg.optim.NAdam])
def test_float32_parameters_keep_dtype(cls):
    p = gg.nn.Parameter(gg.ones(4))
    opt = cls([p], lr=0.01)
    for _ in range(3):
        p.grad = gg.full((4,), 0.5)
        opt.step()
    assert p.dtype == np.float32
    for value in opt.state.get(0, {}).values():
        if isinstance(value, gg.Tensor):
            assert value.dtype == np.float32
    assert np.all(p.numpy() < 1.0)
