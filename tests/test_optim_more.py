"""RAdam, Rprop, ASGD and LBFGS, and the MultiplicativeLR and ConstantLR schedulers: values
checked by hand, checkpoints resumed through gg.save / gg.load, and torch's trajectories."""
import math

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.optim  # noqa: F401  (gpugrad/__init__ may not import it yet)
from gpugrad.optim import lr_scheduler as S

STEPS = 20
SHAPES = [(3, 2), (4,), (2,)]


@pytest.fixture
def torch64():
    """torch with float64 as the default dtype: ASGD keeps eta and mu in it."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(previous)


def _initial_values(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in SHAPES]


def _loss(lib, w, b, s, c):
    """The same smooth loss in both libraries; ``c`` a constant of w's shape."""
    return (lib.tanh(w) * c).sum() + (lib.cos(b) * b).sum() + (s * s).sum() * 0.5


def _constant(lib, **where):
    return lib.tensor(np.linspace(-1.0, 1.5, 6).reshape(3, 2), **where)


def _gg_train(name, hyper, steps=STEPS, values=None, device="cpu"):
    params = [gg.nn.Parameter(gg.tensor(v, device=device)) for v in values or _initial_values()]
    opt = getattr(gg.optim, name)(params, **hyper)
    _gg_steps(opt, params, steps)
    return params, opt


def _gg_steps(opt, params, steps):
    for _ in range(steps):
        opt.zero_grad()
        _loss(gg, *params, _constant(gg, device=params[0].device)).backward()
        opt.step()


def _torch_train(torch, name, hyper, steps=STEPS):
    params = [torch.tensor(v, requires_grad=True) for v in _initial_values()]
    opt = getattr(torch.optim, name)(params, **hyper)
    for _ in range(steps):
        opt.zero_grad()
        _loss(torch, *params, _constant(torch)).backward()
        opt.step()
    return [p.detach().numpy() for p in params], opt


VS_TORCH = [
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.1, betas=(0.8, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.1, weight_decay=0.2, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.05, betas=(0.9, 0.99), maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),
    ("Rprop", dict(lr=0.05, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=1e-2, alpha=0.5, t0=5, weight_decay=0.1)),
    ("ASGD", dict(lr=0.02, t0=3, maximize=True)),
]


@pytest.mark.parametrize("name,hyper", VS_TORCH)
def test_matches_torch(torch64, name, hyper, device):
    got, opt = _gg_train(name, hyper, device=device)
    want, t_opt = _torch_train(torch64, name, hyper)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.cpu().numpy(), b, rtol=1e-10, atol=1e-10)
    # Same state keys and values, parameter by parameter.
    for pos, t_state in enumerate(t_opt.state_dict()["state"].values()):
        assert sorted(opt.state[pos]) == sorted(t_state)
        for key, value in t_state.items():
            mine = opt.state[pos][key]
            mine = mine.cpu().numpy() if isinstance(mine, gg.Tensor) else mine
            np.testing.assert_allclose(mine, value.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["RAdam", "Rprop", "ASGD"])
def test_defaults_match_torch(torch64, name):
    w = gg.nn.Parameter(gg.zeros(1))
    mine = getattr(gg.optim, name)([w]).defaults
    theirs = getattr(torch64.optim, name)([torch64.zeros(1, requires_grad=True)]).defaults
    for key, value in mine.items():
        assert value == (tuple(theirs[key]) if isinstance(theirs[key], list) else theirs[key])


RESUME = [("RAdam", dict(lr=0.1, weight_decay=0.1)),
          ("Rprop", dict(lr=0.1)),
          ("ASGD", dict(lr=0.05, t0=3, lambd=1e-2))]


@pytest.mark.parametrize("name,hyper", RESUME)
def test_state_dict_round_trip_resumes_exactly(tmp_path, name, hyper):
    straight, _ = _gg_train(name, hyper, steps=12)
    first, opt = _gg_train(name, hyper, steps=5)
    gg.save({"optim": opt.state_dict(), "params": first}, tmp_path / "ckpt.safetensors")
    ckpt = gg.load(tmp_path / "ckpt.safetensors")
    resumed = [gg.nn.Parameter(t) for t in ckpt["params"]]
    opt2 = getattr(gg.optim, name)(resumed, lr=123.0)  # hyperparameters come back
    opt2.load_state_dict(ckpt["optim"])
    _gg_steps(opt2, resumed, 7)
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# ---- hand-checked values -------------------------------------------------------------------

def _constant_grad_steps(opt, w, grad, steps):
    values = []
    for _ in range(steps):
        w.grad = gg.tensor(np.asarray(grad, dtype=np.float64))
        opt.step()
        values.append(w.numpy().copy())
    return values


def test_radam_by_hand():
    w = gg.nn.Parameter(gg.tensor([1.0], dtype="float64"))
    beta1, beta2, lr, g = 0.8, 0.9, 0.1, 2.0
    got = _constant_grad_steps(gg.optim.RAdam([w], lr=lr, betas=(beta1, beta2)), w, [g], 12)
    # A constant gradient: m_t / bc1 = g and v_t / bc2 = g**2, so each step is lr, times
    # rect_t * g / (|g| + eps / sqrt(bc2)) once rho_t > 5.
    rho_inf, p, expected = 2 / (1 - beta2) - 1, 1.0, []
    for t in range(1, 13):
        rho = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
        step = lr * g
        if rho > 5:
            rect = math.sqrt((rho - 4) * (rho - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho))
            step = lr * rect * g / (g + 1e-8 / math.sqrt(1 - beta2 ** t))
        p -= step
        expected.append(p)
    assert got[0][0] == pytest.approx(0.8, abs=1e-15)  # rho_1 = 1: plain momentum
    np.testing.assert_allclose(np.concatenate(got), expected, rtol=1e-12, atol=1e-15)


def test_rprop_by_hand():
    w = gg.nn.Parameter(gg.tensor([1.0, 1.0], dtype="float64"))
    opt = gg.optim.Rprop([w], lr=0.01)
    got = _constant_grad_steps(opt, w, [3.0, -1.0], 3)
    # Steps 0.01, 0.012, 0.0144 against the gradient's sign.
    np.testing.assert_allclose(got[-1], [1 - 0.0364, 1 + 0.0364], rtol=1e-12)
    w.grad = gg.tensor([-3.0, -1.0])  # the first entry flips: shrink, and do not move
    opt.step()
    np.testing.assert_allclose(w.numpy(), [1 - 0.0364, 1 + 0.0364 + 0.01728], rtol=1e-12)
    np.testing.assert_allclose(opt.state[0]["step_size"].numpy(), [0.0072, 0.01728])
    np.testing.assert_array_equal(opt.state[0]["prev"].numpy(), [0.0, -1.0])


def test_asgd_by_hand():
    w = gg.nn.Parameter(gg.tensor([1.0], dtype="float64"))
    lr, lambd, alpha = 0.1, 0.5, 0.75
    opt = gg.optim.ASGD([w], lr=lr, lambd=lambd, alpha=alpha, t0=1)
    got = _constant_grad_steps(opt, w, [2.0], 3)
    p1 = 1.0 * (1 - lambd * lr) - lr * 2.0
    eta2 = lr / (1 + lambd * lr) ** alpha
    p2 = p1 * (1 - lambd * eta2) - eta2 * 2.0
    eta3 = lr / (1 + 2 * lambd * lr) ** alpha
    p3 = p2 * (1 - lambd * eta3) - eta3 * 2.0
    np.testing.assert_allclose(np.concatenate(got), [p1, p2, p3], rtol=1e-14)
    # mu = 1 / max(1, t - t0): 1 after steps 1 and 2 (ax copies p), then 1 / 2.
    np.testing.assert_allclose(opt.state[0]["ax"].numpy(), [p3])
    assert opt.state[0]["mu"] == 0.5 and opt.state[0]["step"] == 3


def test_asgd_maximize_is_descent_on_the_negated_loss():
    up, _ = _gg_train("ASGD", dict(lr=0.05, maximize=True), steps=5)
    params = [gg.nn.Parameter(gg.tensor(v)) for v in _initial_values()]
    opt = gg.optim.ASGD(params, lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        (-_loss(gg, *params, _constant(gg))).backward()
        opt.step()
    for a, b in zip(up, params):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-14, atol=1e-15)


def test_lbfgs_by_hand():
    w = gg.nn.Parameter(gg.tensor([3.0], dtype="float64"))
    opt = gg.optim.LBFGS([w], max_iter=1)

    def closure():
        opt.zero_grad()
        loss = ((w - 1.0) ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 4.0
    assert w.item() == 2.0  # g = 4: the first step is min(1, 1 / |g|_1) * lr = 0.25 long
    opt = gg.optim.LBFGS([w])
    opt.step(closure)  # on a 1-D quadratic the secant step lands on the minimum
    assert w.item() == pytest.approx(1.0, abs=1e-12)


def test_lbfgs_needs_one_group_and_a_known_line_search():
    a, b = gg.nn.Parameter(gg.zeros(1)), gg.nn.Parameter(gg.zeros(1))
    with pytest.raises(ValueError, match="parameter groups"):
        gg.optim.LBFGS([{"params": [a]}, {"params": [b]}])
    opt = gg.optim.LBFGS([a], line_search_fn="armijo")

    def closure():
        loss = ((a - 1.0) ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="strong_wolfe"):
        opt.step(closure)


# ---- LBFGS vs torch ------------------------------------------------------------------------

def _quadratic(lib, x, y):
    scale = lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=x.dtype, device=x.device)
    return ((x - 1.0) ** 2 * scale).sum() \
        + ((y + 2.0) ** 2 * 0.5).sum() + 0.3 * x.sum() * y.sum()


def _rosenbrock(lib, x, y):
    z = x.reshape(-1)
    return ((1.0 - z[:-1]) ** 2).sum() + 100.0 * ((z[1:] - z[:-1] ** 2) ** 2).sum() \
        + ((y - 0.5) ** 2).sum()


LBFGS_CASES = [
    (_quadratic, dict()),
    (_quadratic, dict(line_search_fn="strong_wolfe")),
    (_quadratic, dict(lr=0.5, max_iter=4, history_size=2)),
    (_rosenbrock, dict(lr=0.1)),
    (_rosenbrock, dict(line_search_fn="strong_wolfe")),
    (_rosenbrock, dict(line_search_fn="strong_wolfe", history_size=3, max_iter=7)),
]


def _lbfgs_start():
    return [np.array([[-1.2, 1.0], [0.5, -0.3]]), np.array([0.1, -0.4, 2.0])]


def _lbfgs_run(lib, opt_cls, objective, hyper, steps, make):
    params = [make(v) for v in _lbfgs_start()]
    opt = opt_cls(params, **hyper)

    def closure():
        opt.zero_grad()
        loss = objective(lib, *params)
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(steps)]
    return params, losses, opt


@pytest.mark.parametrize("objective,hyper", LBFGS_CASES)
def test_lbfgs_matches_torch(torch64, objective, hyper, device):
    torch = torch64
    mine, my_losses, opt = _lbfgs_run(gg, gg.optim.LBFGS, objective, hyper, 5,
                                      lambda v: gg.nn.Parameter(gg.tensor(v, device=device)))
    theirs, their_losses, t_opt = _lbfgs_run(torch, torch.optim.LBFGS, objective, hyper, 5,
                                             lambda v: torch.tensor(v, requires_grad=True))
    np.testing.assert_allclose(my_losses, their_losses, rtol=1e-8, atol=1e-10)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a.cpu().numpy(), b.detach().numpy(), rtol=1e-8, atol=1e-8)
    state, t_state = opt.state[0], t_opt.state_dict()["state"][0]
    assert sorted(state) == sorted(t_state)
    assert (state["n_iter"], state["func_evals"]) == (t_state["n_iter"], t_state["func_evals"])
    assert len(state["old_dirs"]) == len(t_state["old_dirs"])


def test_lbfgs_converges_on_rosenbrock():
    params, losses, _ = _lbfgs_run(gg, gg.optim.LBFGS, _rosenbrock,
                                   dict(line_search_fn="strong_wolfe", tolerance_grad=1e-10,
                                        tolerance_change=1e-14), 10,
                                   lambda v: gg.nn.Parameter(gg.tensor(v)))
    # From (-1.2, 1, 0.5, -0.3) the 4-D Rosenbrock function leads to its local minimum
    # near (-0.776, 0.613, 0.382, 0.146): a stationary point.
    np.testing.assert_allclose(params[0].numpy(), [[-0.776, 0.613], [0.382, 0.146]],
                               atol=1e-3)
    np.testing.assert_allclose(params[1].numpy(), np.full(3, 0.5), atol=1e-8)
    for p in params:
        p.grad = None
    _rosenbrock(gg, *params).backward()
    assert max(np.abs(p.grad.numpy()).max() for p in params) < 1e-5
    assert losses == sorted(losses, reverse=True)


@pytest.mark.parametrize("hyper", [dict(history_size=3, max_iter=4),
                                   dict(line_search_fn="strong_wolfe", max_iter=3)])
def test_lbfgs_state_dict_round_trip_resumes_exactly(tmp_path, hyper):
    def make(v):
        return gg.nn.Parameter(gg.tensor(v))

    straight, straight_losses, _ = _lbfgs_run(gg, gg.optim.LBFGS, _rosenbrock, hyper, 6, make)
    first, losses, opt = _lbfgs_run(gg, gg.optim.LBFGS, _rosenbrock, hyper, 3, make)
    gg.save({"optim": opt.state_dict(), "params": first}, tmp_path / "ckpt.safetensors")
    ckpt = gg.load(tmp_path / "ckpt.safetensors")
    resumed = [gg.nn.Parameter(t) for t in ckpt["params"]]
    opt2 = gg.optim.LBFGS(resumed, lr=123.0)
    opt2.load_state_dict(ckpt["optim"])
    assert opt2.param_groups[0]["lr"] == 1

    def closure():
        opt2.zero_grad()
        loss = _rosenbrock(gg, *resumed)
        loss.backward()
        return loss

    losses += [opt2.step(closure).item() for _ in range(3)]
    assert losses == straight_losses
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_lbfgs_load_rejects_wrong_history_length():
    w = gg.nn.Parameter(gg.tensor([2.0, 1.0], dtype="float64"))
    opt = gg.optim.LBFGS([w], max_iter=2)

    def closure():
        opt.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    other = gg.optim.LBFGS([gg.nn.Parameter(gg.zeros(3, dtype="float64"))], lr=0.5)
    with pytest.raises(ValueError, match=r"expected \(3,\)"):
        other.load_state_dict(opt.state_dict())
    assert other.state == {} and other.param_groups[0]["lr"] == 0.5


# ---- schedulers ----------------------------------------------------------------------------

def _sched_lrs(sched, steps=12):
    out = [list(sched.get_last_lr())]
    for _ in range(steps):
        sched.optimizer.step()
        sched.step()
        out.append(list(sched.get_last_lr()))
    return out


def _optimizer(lib, lrs=(0.1, 0.02)):
    groups = [{"params": [lib.nn.Parameter(lib.zeros(2))], "lr": lr} for lr in lrs]
    return lib.optim.SGD(groups, lr=lrs[0])


def test_constant_lr_by_hand():
    sched = S.ConstantLR(_optimizer(gg, lrs=(1.0,)), factor=0.5, total_iters=3)
    assert [row[0] for row in _sched_lrs(sched, 5)] == [0.5, 0.5, 0.5, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="between 0 and 1"):
        S.ConstantLR(_optimizer(gg), factor=1.5)


def test_multiplicative_lr_by_hand_and_state_dict():
    class Halve:
        def __init__(self):
            self.factor = 0.5

        def __call__(self, epoch):
            return self.factor

    sched = S.MultiplicativeLR(_optimizer(gg, lrs=(1.0, 2.0)), [Halve(), lambda e: 1.0])
    assert _sched_lrs(sched, 3) == [[1.0, 2.0], [0.5, 2.0], [0.25, 2.0], [0.125, 2.0]]
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"factor": 0.5}, None]
    twin = S.MultiplicativeLR(_optimizer(gg), [Halve(), lambda e: 1.0])
    state["lr_lambdas"][0]["factor"] = 0.25
    twin.load_state_dict(state)
    assert twin.lr_lambdas[0].factor == 0.25 and twin.last_epoch == 3
    with pytest.raises(ValueError, match="lr_lambdas"):
        S.MultiplicativeLR(_optimizer(gg), [lambda e: 1.0])


SCHEDULERS = [
    ("MultiplicativeLR", lambda: dict(lr_lambda=lambda epoch: 0.9)),
    ("MultiplicativeLR", lambda: dict(lr_lambda=[lambda e: 0.5 + 0.05 * e, lambda e: 1.1])),
    ("ConstantLR", lambda: dict()),
    ("ConstantLR", lambda: dict(factor=0.25, total_iters=8)),
    ("ConstantLR", lambda: dict(factor=0.5, total_iters=0)),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULERS)
def test_scheduler_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    mine = _sched_lrs(getattr(S, name)(_optimizer(gg), **kwargs()))
    theirs = _sched_lrs(getattr(torch.optim.lr_scheduler, name)(_optimizer(torch),
                                                                **kwargs()))
    np.testing.assert_allclose(mine, theirs, rtol=1e-15)


def test_constant_lr_chains_with_exponential_like_torch():
    torch = pytest.importorskip("torch")

    def chained(lib, scheduler_module):
        opt = _optimizer(lib)
        return scheduler_module.ChainedScheduler([
            scheduler_module.ConstantLR(opt, factor=0.5, total_iters=4),
            scheduler_module.ExponentialLR(opt, gamma=0.9)])

    mine = _sched_lrs(chained(gg, S))
    theirs = _sched_lrs(chained(torch, torch.optim.lr_scheduler))
    np.testing.assert_allclose(mine, theirs, rtol=1e-14)
