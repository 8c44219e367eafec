"""Training loops ported from PyTorch: optimizers with param groups on a small model, resumed
mid-run from a checkpoint, and schedulers chained with them over epochs, all against torch."""
import copy
import os
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.optim  # noqa: F401

torch = pytest.importorskip("torch")

STEPS, RESUME_AT = 30, 15


@pytest.fixture(autouse=True)
def _torch_float64():
    # torch keeps scalar state (NAdam's mu_product, steps) in the default dtype.
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _model(nn):
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))


def _groups(model, first, second):
    return [dict(params=list(model[0].parameters()), **first),
            dict(params=list(model[2].parameters()), **second)]


# Per-group hyperparameters differ from the defaults. (Not Adagrad's
# initial_accumulator_value: torch fills every group's sums with the constructor's value,
# gpugrad with the group's.)
OPTIMIZERS = [
    ("SGD", dict(lr=0.1), dict(momentum=0.9, weight_decay=0.01),
     dict(lr=0.05, momentum=0.5, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3), dict(maximize=False), dict(lr=0.2)),
    ("Adam", dict(lr=0.01), dict(amsgrad=True), dict(lr=0.02, betas=(0.8, 0.9),
                                                      weight_decay=0.1)),
    ("AdamW", dict(lr=0.01), dict(weight_decay=0.3), dict(lr=0.02, amsgrad=True)),
    ("RMSprop", dict(lr=0.01), dict(momentum=0.9, centered=True), dict(alpha=0.9)),
    ("Adagrad", dict(lr=0.1), dict(lr_decay=0.01), dict(weight_decay=0.1, eps=1e-6)),
    ("Adadelta", dict(lr=1.0), dict(rho=0.8), dict(weight_decay=0.1)),
    ("Adamax", dict(lr=0.01), dict(), dict(betas=(0.5, 0.9))),
    ("NAdam", dict(lr=0.01), dict(momentum_decay=0.01),
     dict(decoupled_weight_decay=True, weight_decay=0.1)),
]


@pytest.mark.parametrize("name,defaults,first,second", OPTIMIZERS)
def test_training_with_param_groups_and_resume_matches_torch(tmp_path, name, defaults, first,
                                                             second):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 5)), rng.integers(0, 3, 16)
    t_model = _model(torch.nn).double()
    g_model = _model(gg.nn).double()
    g_model.load_state_dict({k: v.detach().numpy() for k, v in t_model.state_dict().items()})
    t_opt = getattr(torch.optim, name)(_groups(t_model, first, second), **defaults)
    g_opt = getattr(gg.optim, name)(_groups(g_model, first, second), **defaults)
    path = os.path.join(tmp_path, "optim.safetensors")
    for step in range(STEPS):
        if step == RESUME_AT:  # a fresh optimizer resumes from the checkpoint
            saved = copy.deepcopy(t_opt.state_dict())
            t_opt = getattr(torch.optim, name)(_groups(t_model, first, second), **defaults)
            t_opt.load_state_dict(saved)
            gg.save(g_opt.state_dict(), path)
            g_opt = getattr(gg.optim, name)(_groups(g_model, first, second), **defaults)
            g_opt.load_state_dict(gg.load(path))
        set_to_none = step % 2 == 0
        t_opt.zero_grad(set_to_none=set_to_none)
        g_opt.zero_grad(set_to_none=set_to_none)
        torch.nn.functional.cross_entropy(t_model(torch.tensor(x)), torch.tensor(y)).backward()
        gg.nn.functional.cross_entropy(g_model(gg.tensor(x)), gg.tensor(y)).backward()
        t_opt.step()
        g_opt.step()
    for pt, pg in zip(t_model.parameters(), g_model.parameters()):
        np.testing.assert_allclose(pg.numpy(), pt.detach().numpy(), rtol=1e-9, atol=1e-12)
    t_state, g_state = t_opt.state_dict(), g_opt.state_dict()
    assert sorted(g_state["state"]) == sorted(t_state["state"])
    for pos, t_entry in t_state["state"].items():
        assert sorted(g_state["state"][pos]) == sorted(t_entry)
        for key, value in t_entry.items():
            np.testing.assert_allclose(np.asarray(g_state["state"][pos][key].numpy()
                                                  if isinstance(g_state["state"][pos][key],
                                                                gg.Tensor)
                                                  else g_state["state"][pos][key]),
                                       np.asarray(value), rtol=1e-9, atol=1e-12)
    assert [g["params"] for g in g_state["param_groups"]] == [
        g["params"] for g in t_state["param_groups"]]


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("loss", [lambda w: w.sum(), lambda w: w.sum() * w.sum()])
def test_zero_grad_keeping_tensors_detaches_graph_gradients(loss):
    # backward(create_graph=True) leaves a gradient that carries a graph or is a read-only
    # broadcast view; zero_grad(set_to_none=False) must still give zeros, detached.
    for lib in (torch, gg):
        w = lib.nn.Parameter(lib.ones(3))
        loss(w).backward(create_graph=True)
        lib.optim.SGD([w], lr=0.1).zero_grad(set_to_none=False)
        assert w.grad is not None and w.grad.grad_fn is None
        assert w.grad.detach().numpy().tolist() == [0.0, 0.0, 0.0]


def test_optimizer_repr_matches_torch():
    def build(lib):
        a = lib.nn.Parameter(lib.zeros(2))
        b = lib.nn.Parameter(lib.zeros(2))
        # Floats given explicitly: torch's defaults are the ints 0, gpugrad's 0.0.
        return lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1,
                             momentum=0.9, dampening=0.0, weight_decay=0.0)

    skipped = ("differentiable", "foreach", "fused")  # torch's flags, not gpugrad's
    t_repr = "\n".join(line for line in repr(build(torch)).split("\n")
                       if line.strip().split(":")[0] not in skipped)
    assert repr(build(gg)) == t_repr


def _drive(make, epochs=25, metric=None, momentum_key=None, name="SGD", **opt_kwargs):
    """Step two-group optimizers and their schedulers; return the lr (and momentum) history."""
    history = {}
    for lib in (torch, gg):
        params = [lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(2))]
        opt = getattr(lib.optim, name)([{"params": [params[0]]},
                                        {"params": [params[1]], "lr": 0.5}],
                                       lr=1.0, **opt_kwargs)
        schedulers = make(lib.optim.lr_scheduler, opt)
        schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
        rows = [[g["lr"] for g in opt.param_groups]]
        for epoch in range(epochs):
            opt.step()
            for scheduler in schedulers:
                scheduler.step() if metric is None else scheduler.step(metric[epoch])
            rows.append([g["lr"] for g in opt.param_groups])
            if momentum_key == "betas":
                rows.append([g["betas"][0] for g in opt.param_groups])
            elif momentum_key:
                rows.append([g[momentum_key] for g in opt.param_groups])
        history[lib.__name__] = np.array(rows, dtype=np.float64)
    np.testing.assert_allclose(history["gpugrad"], history["torch"], rtol=1e-12, atol=1e-15)


CHAINS = {
    "step": lambda m, o: m.StepLR(o, 3, 0.5),
    "multistep": lambda m, o: m.MultiStepLR(o, [2, 5, 5, 9], 0.5),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, 7, eta_min=0.01),
    "linear": lambda m, o: m.LinearLR(o, 0.2, 0.9, 6),
    "lambda": lambda m, o: m.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: 1 / (e + 1)]),
    "step+exponential": lambda m, o: [m.StepLR(o, 3, 0.5), m.ExponentialLR(o, 0.9)],
    "linear+cosine": lambda m, o: [m.LinearLR(o, 0.1, total_iters=4),
                                   m.CosineAnnealingLR(o, 10)],
    "multistep+linear": lambda m, o: [m.MultiStepLR(o, [3, 6], 0.3),
                                      m.LinearLR(o, 0.5, total_iters=5)],
}


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_chained_schedulers_match_torch(chain):
    _drive(CHAINS[chain], epochs=30)


LOSSES = [1.0, 0.9, 0.9, 0.95, 0.9, 0.89999, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79, 0.79,
          0.79, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
@pytest.mark.parametrize("cooldown", [0, 2])
def test_reduce_on_plateau_matches_torch(mode, threshold_mode, cooldown):
    metric = LOSSES if mode == "min" else [-v for v in LOSSES]
    _drive(lambda m, o: m.ReduceLROnPlateau(o, mode=mode, factor=0.5, patience=1,
                                            threshold=0.05, threshold_mode=threshold_mode,
                                            cooldown=cooldown, min_lr=[0.01, 0.1]),
           metric=metric)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_matches_torch(strategy, three_phase):
    _drive(lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=20, pct_start=0.25,
                                     anneal_strategy=strategy, three_phase=three_phase),
           epochs=20, momentum_key="momentum", momentum=0.9)
    _drive(lambda m, o: m.OneCycleLR(o, max_lr=1.0, epochs=4, steps_per_epoch=5,
                                     anneal_strategy=strategy, three_phase=three_phase),
           epochs=20, momentum_key="betas", name="Adam")


RESUMABLE = {
    "cosine": lambda m, o, **k: m.CosineAnnealingLR(o, 6, 0.1, **k),
    "one_cycle": lambda m, o, **k: m.OneCycleLR(o, 2.0, total_steps=30, **k),
    "linear": lambda m, o, **k: m.LinearLR(o, 0.3, total_iters=5, **k),
    "multistep": lambda m, o, **k: m.MultiStepLR(o, [3, 7], **k),
    "exponential": lambda m, o, **k: m.ExponentialLR(o, 0.8, **k),
    "plateau": lambda m, o, **k: m.ReduceLROnPlateau(o, patience=0, cooldown=1, **k),
}


@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_scheduler_checkpoint_resume_matches_torch(tmp_path, name):
    make = RESUMABLE[name]
    path = os.path.join(tmp_path, "ckpt.safetensors")

    def advance(opt, scheduler, lrs):
        for _ in range(8):
            opt.step()
            scheduler.step(1.0) if name == "plateau" else scheduler.step()
            lrs.append(opt.param_groups[0]["lr"])

    history = {}
    for lib in (torch, gg):
        def new_opt():
            return lib.optim.SGD([lib.nn.Parameter(lib.zeros(2))], lr=1.0, momentum=0.9)
        opt = new_opt()
        scheduler = make(lib.optim.lr_scheduler, opt)
        lrs = [opt.param_groups[0]["lr"]]
        advance(opt, scheduler, lrs)
        saved = {"optim": copy.deepcopy(opt.state_dict()), "sched": scheduler.state_dict()}
        if lib is gg:
            gg.save(saved, path)
            saved = gg.load(path)
        opt = new_opt()
        opt.load_state_dict(saved["optim"])
        scheduler = make(lib.optim.lr_scheduler, opt)
        scheduler.load_state_dict(saved["sched"])
        advance(opt, scheduler, lrs)
        if name != "plateau":  # resuming through last_epoch, then a closed-form jump
            opt = new_opt()
            opt.load_state_dict(saved["optim"])
            scheduler = make(lib.optim.lr_scheduler, opt, last_epoch=8)
            lrs.append(opt.param_groups[0]["lr"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # step(epoch) is deprecated in both
                scheduler.step(12)
            lrs.append(opt.param_groups[0]["lr"])
        history[lib.__name__] = lrs
    np.testing.assert_allclose(history["gpugrad"], history["torch"], rtol=1e-12)
