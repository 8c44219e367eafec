"""SequentialLR, ChainedScheduler, CosineAnnealingWarmRestarts, PolynomialLR and CyclicLR:
lr (and momentum) sequences against torch's, and state-dict round trips."""
import copy
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.optim  # noqa: F401

torch = pytest.importorskip("torch")

STEPS = 40


def _opt(lib, name="SGD", **kwargs):
    params = [lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(2))]
    return getattr(lib.optim, name)([{"params": [params[0]]},
                                     {"params": [params[1]], "lr": 0.5}], lr=1.0, **kwargs)


def _history(lib, make, steps, momentum_key, name, opt_kwargs):
    opt = _opt(lib, name, **opt_kwargs)
    sched = make(lib.optim.lr_scheduler, opt)
    rows = []
    for _ in range(steps + 1):
        row = [g["lr"] for g in opt.param_groups] + list(sched.get_last_lr())
        if momentum_key == "betas":
            row += [g["betas"][0] for g in opt.param_groups]
        elif momentum_key:
            row += [g[momentum_key] for g in opt.param_groups]
        rows.append(row)
        opt.step()
        sched.step()
    return rows


def _match_torch(make, steps=STEPS, momentum_key=None, name="SGD", **opt_kwargs):
    got, want = (_history(lib, make, steps, momentum_key, name, opt_kwargs)
                 for lib in (gg, torch))
    np.testing.assert_allclose(np.array(got, dtype=float), np.array(want, dtype=float),
                               rtol=1e-12, atol=1e-15)


SCHEDULES = {
    "poly": lambda m, o: m.PolynomialLR(o, total_iters=25, power=0.9),
    "poly_linear": lambda m, o: m.PolynomialLR(o, total_iters=7),
    "warm_restarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=5, eta_min=0.01),
    "warm_restarts_mult": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    "sequential": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, 0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=10),
            m.ExponentialLR(o, 0.9)], milestones=[5, 20]),
    "sequential_step": lambda m, o: m.SequentialLR(
        o, [m.StepLR(o, 2, 0.5), m.PolynomialLR(o, total_iters=30, power=2.0)],
        milestones=[7]),
    "chained": lambda m, o: m.ChainedScheduler(
        [m.LinearLR(o, 0.2, total_iters=6), m.ExponentialLR(o, 0.95),
         m.MultiStepLR(o, [10, 25], 0.5)]),
    "chained_poly_cosine": lambda m, o: m.ChainedScheduler(
        [m.PolynomialLR(o, total_iters=30), m.CosineAnnealingLR(o, T_max=8)], optimizer=o),
    "cyclic_tri": lambda m, o: m.CyclicLR(o, 0.1, [1.0, 2.0], step_size_up=4,
                                          step_size_down=6, cycle_momentum=False),
    "cyclic_tri2": lambda m, o: m.CyclicLR(o, [0.1, 0.2], 1.0, step_size_up=3,
                                           mode="triangular2", cycle_momentum=False),
    "cyclic_exp": lambda m, o: m.CyclicLR(o, 0.1, 1.0, step_size_up=5, mode="exp_range",
                                          gamma=0.97, cycle_momentum=False),
    "cyclic_custom": lambda m, o: m.CyclicLR(o, 0.1, 1.0, step_size_up=2,
                                             scale_fn=lambda x: 1 / (x + 1),
                                             scale_mode="iterations", cycle_momentum=False),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_matches_torch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "step before optimizer.step" notices
        _match_torch(SCHEDULES[name])


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_cycles_momentum_and_beta1_like_torch(mode):
    make = lambda m, o: m.CyclicLR(o, 0.1, 1.0, step_size_up=3, step_size_down=5, mode=mode,
                                   gamma=0.95, base_momentum=[0.8, 0.85], max_momentum=0.95)
    _match_torch(make, momentum_key="momentum", momentum=0.9)
    _match_torch(make, momentum_key="betas", name="Adam")


def test_cyclic_momentum_default_needs_momentum_like_torch():
    for lib in (torch, gg):
        opt = _opt(lib, "Adagrad")
        with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
            lib.optim.lr_scheduler.CyclicLR(opt, 0.1, 1.0)
        lib.optim.lr_scheduler.CyclicLR(opt, 0.1, 1.0, cycle_momentum=False)
    # SGD always has a momentum entry (0 by default), so cycling it is allowed there.
    _match_torch(lambda m, o: m.CyclicLR(o, 0.1, 1.0, step_size_up=4), steps=10,
                 momentum_key="momentum")


def test_warm_restarts_fractional_epochs_match_torch():
    for T_mult in (1, 2):
        rows = {}
        for lib in (torch, gg):
            opt = _opt(lib)
            sched = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=4,
                                                                       T_mult=T_mult)
            rows[lib.__name__] = []
            for epoch in np.arange(0, 30, 0.35):
                sched.step(float(epoch))
                rows[lib.__name__].append([g["lr"] for g in opt.param_groups])
        np.testing.assert_allclose(rows["gpugrad"], rows["torch"], rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="non-negative epoch"):
        sched.step(-1)
    with pytest.raises(ValueError, match="positive integer T_0"):
        gg.optim.lr_scheduler.CosineAnnealingWarmRestarts(_opt(gg), T_0=0)


RESUMABLE = {
    "poly": SCHEDULES["poly"],
    "warm_restarts_mult": SCHEDULES["warm_restarts_mult"],
    "sequential": SCHEDULES["sequential"],
    "chained": SCHEDULES["chained"],
    "cyclic": lambda m, o: m.CyclicLR(o, 0.1, 1.0, step_size_up=3, mode="triangular2"),
    "cyclic_custom": SCHEDULES["cyclic_custom"],
}


@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_state_dict_resume_continues_the_sequence(tmp_path, name):
    """Save after 13 steps (through gg.save), rebuild, load, and continue: the lrs equal an
    uninterrupted run, which equals torch's."""
    make = RESUMABLE[name]
    path = str(tmp_path / "sched.safetensors")
    opt = _opt(gg, momentum=0.9)
    sched = make(gg.optim.lr_scheduler, opt)
    for _ in range(13):
        opt.step()
        sched.step()
    gg.save({"optim": copy.deepcopy(opt.state_dict()), "sched": sched.state_dict()}, path)
    saved = gg.load(path)
    opt2 = _opt(gg, momentum=0.9)
    sched2 = make(gg.optim.lr_scheduler, opt2)
    opt2.load_state_dict(saved["optim"])
    sched2.load_state_dict(saved["sched"])
    assert "_schedulers" in saved["sched"] or not hasattr(sched, "_schedulers")
    for _ in range(STEPS - 13):
        opt.step(); sched.step()
        opt2.step(); sched2.step()
        assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_composites_reject_plateau_and_foreign_optimizers():
    S = gg.optim.lr_scheduler
    opt, other = _opt(gg), _opt(gg)
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.ChainedScheduler([S.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="same optimizer"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(other, 2)], milestones=[3])
    with pytest.raises(ValueError, match="number of milestones"):
        S.SequentialLR(opt, [S.StepLR(opt, 2)], milestones=[3])
    with pytest.raises(ValueError, match="at least one scheduler"):
        S.ChainedScheduler([], optimizer=opt)


def test_sequential_milestone_restart_does_not_warn():
    S = gg.optim.lr_scheduler
    opt = _opt(gg)
    sched = S.SequentialLR(opt, [S.StepLR(opt, 100), S.ExponentialLR(opt, 0.5)], [2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(4):
            sched.step()
