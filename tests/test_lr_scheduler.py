"""Learning-rate schedulers: hand-computed values, and torch's sequences where torch imports."""
import math

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.optim  # noqa: F401  (gpugrad/__init__ may not import it yet)
from gpugrad.optim import lr_scheduler as S

STEPS = 30


def _optimizer(name="SGD", lrs=(0.1,), **kwargs):
    groups = [{"params": [gg.nn.Parameter(gg.zeros(2))], "lr": lr} for lr in lrs]
    return getattr(gg.optim, name)(groups, lr=lrs[0], **kwargs)


def _lrs(sched, steps=STEPS, metrics=None):
    """The lr of every group after construction and after each of ``steps`` steps."""
    out = [list(sched.get_last_lr())]
    for t in range(steps):
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[t])
        out.append(list(sched.get_last_lr()))
    return out


def _first_group(lrs):
    return [row[0] for row in lrs]


def test_step_lr_by_hand():
    got = _first_group(_lrs(S.StepLR(_optimizer(lrs=(1.0,)), step_size=3, gamma=0.5), 8))
    assert got == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]


def test_multistep_lr_by_hand_with_repeated_milestone():
    sched = S.MultiStepLR(_optimizer(lrs=(1.0,)), milestones=[2, 4, 4], gamma=0.5)
    assert _first_group(_lrs(sched, 5)) == [1.0, 1.0, 0.5, 0.5, 0.125, 0.125]


def test_exponential_lr_by_hand():
    got = _first_group(_lrs(S.ExponentialLR(_optimizer(lrs=(1.0,)), gamma=0.9), 10))
    np.testing.assert_allclose(got, [0.9 ** t for t in range(11)], rtol=1e-12)


def test_cosine_annealing_by_hand_including_past_t_max():
    sched = S.CosineAnnealingLR(_optimizer(lrs=(1.0,)), T_max=10, eta_min=0.1)
    expected = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(STEPS + 1)]
    np.testing.assert_allclose(_first_group(_lrs(sched)), expected, rtol=1e-10, atol=1e-12)


def test_linear_lr_by_hand():
    sched = S.LinearLR(_optimizer(lrs=(1.0,)), start_factor=0.25, end_factor=1.0,
                       total_iters=3)
    np.testing.assert_allclose(_first_group(_lrs(sched, 5)), [0.25, 0.5, 0.75, 1, 1, 1])


def test_lambda_lr_by_hand_per_group():
    opt = _optimizer(lrs=(1.0, 2.0))
    sched = S.LambdaLR(opt, [lambda e: 1 / (e + 1), lambda e: 0.5 ** e])
    assert _lrs(sched, 2) == [[1.0, 2.0], [0.5, 1.0], [1 / 3, 0.5]]
    assert opt.param_groups[1]["lr"] == 0.5


def test_one_cycle_by_hand_linear():
    opt = _optimizer(momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=11, pct_start=0.2, div_factor=10,
                         final_div_factor=5, anneal_strategy="linear")
    got = _first_group(_lrs(sched, 10))
    # Warm up from 0.1 to 1.0 over steps 0..1.2, then down to 0.02 at step 10.
    up = [0.1 + 0.9 * t / 1.2 for t in range(2)]
    down = [1.0 + (0.02 - 1.0) * (t - 1.2) / (10 - 1.2) for t in range(2, 11)]
    np.testing.assert_allclose(got, up + down, rtol=1e-12)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.95)
    sched.step()  # step 11 of 11 is still allowed (PyTorch's off-by-one)
    with pytest.raises(ValueError, match="Tried to step 12 times"):
        sched.step()


def test_one_cycle_cycles_adam_beta1():
    opt = _optimizer("Adam")
    S.OneCycleLR(opt, max_lr=0.5, total_steps=10)
    assert opt.param_groups[0]["betas"] == (0.95, 0.999)


def test_reduce_on_plateau_by_hand():
    opt = _optimizer(lrs=(1.0,))
    sched = S.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    losses = [5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3]
    got = _first_group(_lrs(sched, len(losses), metrics=losses))
    assert got == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    sched.step(gg.tensor(4.0))  # a one-element tensor works as the metric
    for _ in range(6):
        sched.step(10.0)
    assert opt.param_groups[0]["lr"] == 0.2  # floored at min_lr


def test_scheduler_requires_an_optimizer():
    with pytest.raises(TypeError):
        S.StepLR(object(), step_size=1)


def test_resuming_requires_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(_optimizer(), step_size=2, last_epoch=4)


def _schedulers():
    """(name, factory(optimizer) -> scheduler, optimizer name, optimizer kwargs)."""
    return [
        ("StepLR", lambda m, o: m.StepLR(o, step_size=4, gamma=0.7), "SGD", {}),
        ("MultiStepLR", lambda m, o: m.MultiStepLR(o, [3, 7, 7, 20], gamma=0.5), "SGD", {}),
        ("ExponentialLR", lambda m, o: m.ExponentialLR(o, gamma=0.93), "SGD", {}),
        ("CosineAnnealingLR", lambda m, o: m.CosineAnnealingLR(o, T_max=8, eta_min=0.01),
         "SGD", {}),
        ("LinearLR", lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.9,
                                             total_iters=12), "SGD", {}),
        ("LambdaLR", lambda m, o: m.LambdaLR(o, lambda e: 1.0 / (1 + 0.3 * e)), "SGD", {}),
        ("OneCycleLR-cos", lambda m, o: m.OneCycleLR(o, max_lr=[0.5, 1.0], total_steps=31),
         "SGD", {"momentum": 0.9}),
        ("OneCycleLR-3phase", lambda m, o: m.OneCycleLR(
            o, max_lr=0.5, epochs=4, steps_per_epoch=8, three_phase=True,
            anneal_strategy="linear"), "Adam", {}),
    ]


@pytest.mark.filterwarnings("ignore:Detected call of")
@pytest.mark.parametrize("name,factory,opt_name,opt_kwargs", _schedulers(),
                         ids=[s[0] for s in _schedulers()])
def test_matches_torch(name, factory, opt_name, opt_kwargs):
    torch = pytest.importorskip("torch")
    ours_opt = _optimizer(opt_name, lrs=(0.1, 0.05), **opt_kwargs)
    ours = _lrs(factory(S, ours_opt))
    params = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in (0.1, 0.05)]
    torch_opt = getattr(torch.optim, opt_name)(params, lr=0.1, **opt_kwargs)
    theirs = _lrs(factory(torch.optim.lr_scheduler, torch_opt))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)
    momentum_key = "betas" if opt_name == "Adam" else "momentum"
    for ours_group, torch_group in zip(ours_opt.param_groups, torch_opt.param_groups):
        np.testing.assert_allclose(ours_group[momentum_key], torch_group[momentum_key])


def test_reduce_on_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    losses = [1.0, 0.9, 0.95, 0.95, 0.9, 0.9, 0.9, 0.91, 0.5, 0.6, 0.6, 0.6, 0.7] * 3
    kwargs = dict(mode="min", factor=0.5, patience=1, threshold=0.05, threshold_mode="abs",
                  cooldown=2, min_lr=[0.001, 0.02])
    ours = _lrs(S.ReduceLROnPlateau(_optimizer(lrs=(0.1, 0.05)), **kwargs), len(losses), losses)
    params = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in (0.1, 0.05)]
    torch_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(torch.optim.SGD(params), **kwargs)
    theirs = _lrs(torch_sched, len(losses), losses)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("name,factory,opt_name,opt_kwargs", _schedulers(),
                         ids=[s[0] for s in _schedulers()])
def test_state_dict_resumes_the_sequence(name, factory, opt_name, opt_kwargs, tmp_path):
    def make_optimizer():
        return _optimizer(opt_name, lrs=(0.1, 0.05), **opt_kwargs)
    straight = _first_group(_lrs(factory(S, make_optimizer()), 20))

    opt = make_optimizer()
    sched = factory(S, opt)
    first = _first_group(_lrs(sched, 8))
    gg.save({"optim": opt.state_dict(), "sched": sched.state_dict()},
            tmp_path / "s.safetensors")
    ckpt = gg.load(tmp_path / "s.safetensors")
    opt2 = make_optimizer()
    sched2 = factory(S, opt2)
    opt2.load_state_dict(ckpt["optim"])
    sched2.load_state_dict(ckpt["sched"])
    rest = _first_group(_lrs(sched2, 12))[1:]
    np.testing.assert_allclose(first + rest, straight, rtol=1e-12)


def test_lambda_lr_state_dict_leaves_out_functions():
    class Halve:
        def __init__(self):
            self.calls = 0

        def __call__(self, epoch):
            self.calls += 1
            return 0.5 ** epoch

    sched = S.LambdaLR(_optimizer(lrs=(1.0, 1.0)), [lambda e: 1.0, Halve()])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [None, {"calls": 1}]
    other = S.LambdaLR(_optimizer(lrs=(1.0, 1.0)), [lambda e: 2.0, Halve()])
    other.load_state_dict(sd)
    assert other.lr_lambdas[1].calls == 1 and other.lr_lambdas[0](0) == 2.0


def test_step_with_epoch_uses_closed_form():
    sched = S.StepLR(_optimizer(lrs=(1.0,)), step_size=2, gamma=0.5)
    with pytest.warns(UserWarning, match="deprecated"):
        sched.step(5)
    assert sched.get_last_lr() == [0.25] and sched.last_epoch == 5
