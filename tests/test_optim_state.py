"""Optimizer plumbing: param groups, zero_grad, state dicts, skipped and sparse gradients."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.optim  # noqa: F401  (gpugrad/__init__ may not import it yet)
from gpugrad.sparse import RowSparseGrad

ALL = [
    (gg.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (gg.optim.Adam, dict(lr=0.1, amsgrad=True)),
    (gg.optim.AdamW, dict(lr=0.1)),
    (gg.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    (gg.optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
    (gg.optim.Adadelta, dict()),
    (gg.optim.Adamax, dict(lr=0.1)),
    (gg.optim.NAdam, dict(lr=0.1)),
]
IDS = [cls.__name__ for cls, _ in ALL]


def _params(device="cpu", seed=0):
    rng = np.random.default_rng(seed)
    return [gg.nn.Parameter(gg.tensor(rng.standard_normal(s), device=device))
            for s in [(3, 2), (4,)]]


def _set_grads(params, t):
    rng = np.random.default_rng(100 + t)
    for p in params:
        p.grad = gg.tensor(rng.standard_normal(p.shape), device=p.device)


def _run(opt, params, steps, start=0):
    for t in range(start, start + steps):
        _set_grads(params, t)
        opt.step()


def _values(params):
    return [p.cpu().numpy().copy() for p in params]


@pytest.mark.parametrize("cls,hyper", ALL, ids=IDS)
def test_state_dict_round_trip_resumes_exactly(cls, hyper, device, tmp_path):
    straight = _params(device)
    opt = cls(straight, **hyper)
    _run(opt, straight, 12)

    first = _params(device)
    opt1 = cls(first, **hyper)
    _run(opt1, first, 5)
    gg.save({"optim": opt1.state_dict(), "params": first}, tmp_path / "ckpt.safetensors")
    ckpt = gg.load(tmp_path / "ckpt.safetensors", device=device)
    resumed = [gg.nn.Parameter(t) for t in ckpt["params"]]
    opt2 = cls(resumed, lr=123.0)  # hyperparameters come back from the state dict
    opt2.load_state_dict(ckpt["optim"])
    _run(opt2, resumed, 7, start=5)
    for a, b in zip(_values(resumed), _values(straight)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls,hyper", ALL, ids=IDS)
def test_load_state_dict_copies_state(cls, hyper):
    params = _params()
    opt = cls(params, **hyper)
    _run(opt, params, 2)
    before = {pos: {k: v.numpy().copy() for k, v in s.items() if isinstance(v, gg.Tensor)}
              for pos, s in opt.state.items()}
    twin = _params()
    opt2 = cls(twin, **hyper)
    opt2.load_state_dict(opt.state_dict())
    _run(opt2, twin, 3)
    for pos, entry in before.items():
        for name, value in entry.items():
            np.testing.assert_array_equal(opt.state[pos][name].numpy(), value)


def test_state_dict_layout_is_positional():
    a, b, c = _params() + [gg.nn.Parameter(gg.zeros(2))]
    opt = gg.optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1)
    a.grad = gg.ones_like(a)
    c.grad = gg.ones_like(c)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sorted(sd["state"]) == [0, 2]
    assert sd["state"][2]["step"] == 1
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["lr"] == 0.1
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999)


def _trained_adam():
    params = _params()
    opt = gg.optim.Adam(params, lr=0.1)
    _run(opt, params, 2)
    return opt


def test_load_rejects_wrong_group_count_without_changing_anything():
    sd = _trained_adam().state_dict()
    params = _params()
    opt = gg.optim.Adam([{"params": params[:1]}, {"params": params[1:]}], lr=0.5)
    with pytest.raises(ValueError, match="2 parameter groups|1 parameter groups"):
        opt.load_state_dict(sd)
    assert opt.state == {} and opt.param_groups[0]["lr"] == 0.5


def test_load_rejects_wrong_group_size():
    sd = _trained_adam().state_dict()
    opt = gg.optim.Adam(_params()[:1], lr=0.5)
    with pytest.raises(ValueError, match="parameter group 0"):
        opt.load_state_dict(sd)


def test_load_rejects_wrong_state_shape_before_assigning():
    sd = _trained_adam().state_dict()
    a = gg.nn.Parameter(gg.zeros((3, 2), dtype="float64"))
    b = gg.nn.Parameter(gg.zeros(5, dtype="float64"))
    opt = gg.optim.Adam([a, b], lr=0.5)
    with pytest.raises(ValueError, match=r"state\[1\]\['exp_avg'\] has shape \(4,\)"):
        opt.load_state_dict(sd)
    assert opt.state == {} and opt.param_groups[0]["lr"] == 0.5


def test_load_rejects_state_for_unknown_position():
    sd = _trained_adam().state_dict()
    sd["state"][7] = sd["state"][0]
    with pytest.raises(ValueError, match="names no parameter"):
        gg.optim.Adam(_params()).load_state_dict(sd)


def test_load_rejects_non_state_dict():
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        gg.optim.SGD(_params()).load_state_dict({"param_groups": []})


def test_load_casts_floating_state_to_param_dtype():
    sd = _trained_adam().state_dict()  # float64 state
    params = [gg.nn.Parameter(gg.zeros((3, 2))), gg.nn.Parameter(gg.zeros(4))]
    opt = gg.optim.Adam(params)
    opt.load_state_dict(sd)
    assert opt.state[0]["exp_avg"].dtype == np.float32
    assert opt.state[0]["step"] == 2


def test_param_groups_use_their_own_hyperparameters():
    a, b = _params()
    opt = gg.optim.SGD([{"params": [a], "lr": 1.0}, {"params": [b]}], lr=0.1)
    a0, b0 = a.numpy().copy(), b.numpy().copy()
    a.grad = gg.ones_like(a)
    b.grad = gg.ones_like(b)
    opt.step()
    np.testing.assert_allclose(a.numpy(), a0 - 1.0)
    np.testing.assert_allclose(b.numpy(), b0 - 0.1)
    assert opt.param_groups[1]["momentum"] == 0.0  # filled from the defaults


def test_add_param_group_appends_positions():
    a, b = _params()
    opt = gg.optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.state_dict()["param_groups"][1]["params"] == [1]


def test_duplicate_parameters_are_rejected():
    a, b = _params()
    with pytest.raises(ValueError, match="more than one"):
        gg.optim.SGD([{"params": [a]}, {"params": [a, b]}])
    with pytest.raises(ValueError, match="more than one"):
        gg.optim.SGD([a, a])


def test_bad_params_are_rejected():
    with pytest.raises(ValueError, match="empty"):
        gg.optim.SGD([])
    with pytest.raises(TypeError, match="set"):
        gg.optim.SGD([{"params": set(_params())}])
    with pytest.raises(TypeError):
        gg.optim.SGD(_params()[0])


@pytest.mark.parametrize("cls,kwargs", [(gg.optim.SGD, dict(lr=-1.0)),
                                        (gg.optim.SGD, dict(nesterov=True)),
                                        (gg.optim.Adam, dict(betas=(1.0, 0.9))),
                                        (gg.optim.Adam, dict(eps=-1.0)),
                                        (gg.optim.Adadelta, dict(rho=1.5)),
                                        (gg.optim.SparseAdam, dict(lr=0.0))])
def test_invalid_hyperparameters_raise(cls, kwargs):
    with pytest.raises(ValueError):
        cls(_params(), **kwargs)


def test_zero_grad():
    a, b = _params()
    opt = gg.optim.SGD([a, b])
    a.grad = gg.ones_like(a)
    b.grad = gg.ones_like(b)
    grad_array = a.grad.array
    opt.zero_grad(set_to_none=False)
    assert a.grad.array is grad_array and not grad_array.any() and not b.grad.array.any()
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_zero_grad_of_sparse_grad_keeps_no_rows():
    p = gg.nn.Parameter(gg.zeros((4, 2)))
    p.grad = RowSparseGrad(np.array([1]), np.ones((1, 2), np.float32), (4, 2))
    gg.optim.SGD([p]).zero_grad(set_to_none=False)
    assert isinstance(p.grad, RowSparseGrad) and len(p.grad.indices) == 0


@pytest.mark.parametrize("cls,hyper", ALL, ids=IDS)
def test_params_without_grad_are_skipped(cls, hyper):
    a, b = _params()
    opt = cls([a, b], **hyper)
    b0 = b.numpy().copy()
    a.grad = gg.ones_like(a)
    opt.step()
    np.testing.assert_array_equal(b.numpy(), b0)
    assert 1 not in opt.state


def test_step_runs_closure_with_grad_enabled():
    p = gg.nn.Parameter(gg.tensor([3.0]))
    opt = gg.optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert loss.item() == 9.0
    assert p.item() == pytest.approx(1.5)


def test_step_bumps_parameter_version():
    # A graph that saved the parameter must see the in-place update.
    p = gg.nn.Parameter(gg.tensor([2.0]))
    y = (p * p).sum()
    p.grad = gg.tensor([1.0])
    gg.optim.SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError):
        y.backward()


# ---- sparse gradients -------------------------------------------------------------------


def _embedding(rows=6, cols=3):
    start = np.arange(rows * cols, dtype=np.float64).reshape(rows, cols) / 10
    return start, gg.nn.Parameter(gg.tensor(start))


@pytest.mark.parametrize("cls,hyper", [(gg.optim.SGD, dict(lr=0.1)),
                                       (gg.optim.Adagrad, dict(lr=0.1)),
                                       (gg.optim.SparseAdam, dict(lr=0.1))])
def test_sparse_update_touches_only_given_rows(cls, hyper):
    start, p = _embedding()
    opt = cls([p], **hyper)
    p.grad = RowSparseGrad(np.array([4, 1, 4]), np.ones((3, 3)), (6, 3))
    opt.step()
    changed = np.flatnonzero(np.any(p.numpy() != start, axis=1))
    assert changed.tolist() == [1, 4]
    for value in opt.state.get(0, {}).values():
        if isinstance(value, gg.Tensor) and cls is not gg.optim.Adagrad:
            # Moments of untouched rows stay zero.
            assert not value.numpy()[[0, 2, 3, 5]].any()


def test_sparse_sgd_adds_repeated_rows():
    start, p = _embedding()
    opt = gg.optim.SGD([p], lr=0.5)
    p.grad = RowSparseGrad(np.array([2, 2, 0]), np.array([[1.0] * 3, [2.0] * 3, [4.0] * 3]),
                           (6, 3))
    opt.step()
    expected = start.copy()
    expected[2] -= 0.5 * 3.0
    expected[0] -= 0.5 * 4.0
    np.testing.assert_allclose(p.numpy(), expected)


def test_sparse_adagrad_matches_reference_rows():
    start, p = _embedding()
    opt = gg.optim.Adagrad([p], lr=0.2, lr_decay=0.1, eps=1e-6)
    sums = np.zeros_like(start)
    expected = start.copy()
    rng = np.random.default_rng(3)
    for t in range(1, 21):
        idx = rng.integers(0, 6, size=3)
        values = rng.standard_normal((3, 3))
        p.grad = RowSparseGrad(idx, values, (6, 3))
        opt.step()
        dense = np.zeros_like(start)
        np.add.at(dense, idx, values)
        rows = np.unique(idx)
        clr = 0.2 / (1 + (t - 1) * 0.1)
        sums[rows] += dense[rows] ** 2
        expected[rows] -= clr * dense[rows] / (np.sqrt(sums[rows]) + 1e-6)
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_sparse_adam_matches_reference_rows():
    start, p = _embedding()
    opt = gg.optim.SparseAdam([p], lr=0.05, betas=(0.8, 0.95))
    m, v, expected = np.zeros_like(start), np.zeros_like(start), start.copy()
    rng = np.random.default_rng(4)
    for t in range(1, 21):
        idx = rng.integers(0, 6, size=3)
        values = rng.standard_normal((3, 3))
        p.grad = RowSparseGrad(idx, values, (6, 3))
        opt.step()
        dense = np.zeros_like(start)
        np.add.at(dense, idx, values)
        r = np.unique(idx)
        m[r] = 0.8 * m[r] + 0.2 * dense[r]
        v[r] = 0.95 * v[r] + 0.05 * dense[r] ** 2
        step_size = 0.05 * np.sqrt(1 - 0.95 ** t) / (1 - 0.8 ** t)
        expected[r] -= step_size * m[r] / (np.sqrt(v[r]) + 1e-8)
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_sparse_and_dense_grads_mix_in_one_group():
    start, emb = _embedding()
    w = gg.nn.Parameter(gg.tensor([1.0, 2.0], dtype="float64"))
    opt = gg.optim.Adagrad([emb, w], lr=0.1)
    emb.grad = RowSparseGrad(np.array([0]), np.ones((1, 3)), (6, 3))
    w.grad = gg.tensor([1.0, 1.0], dtype="float64")
    opt.step()
    np.testing.assert_allclose(w.numpy(), [0.9, 1.9])
    assert np.any(emb.numpy()[0] != start[0]) and np.all(emb.numpy()[1:] == start[1:])


def test_sparse_gradient_errors():
    _, p = _embedding()
    grad = RowSparseGrad(np.array([0]), np.ones((1, 3)), (6, 3))
    for opt in [gg.optim.SGD([p], momentum=0.9), gg.optim.SGD([p], weight_decay=0.1),
                gg.optim.Adagrad([p], weight_decay=0.1), gg.optim.Adam([p])]:
        p.grad = grad
        with pytest.raises(RuntimeError):
            opt.step()
    p.grad = gg.zeros_like(p)
    with pytest.raises(RuntimeError, match="dense gradients"):
        gg.optim.SparseAdam([p]).step()


def test_sparse_adam_counts_steps_of_empty_gradients():
    _, p = _embedding()
    opt = gg.optim.SparseAdam([p])
    p.grad = RowSparseGrad(np.zeros(0, np.int64), np.zeros((0, 3)), (6, 3))
    opt.step()
    assert opt.state[0]["step"] == 1


def test_rejected_step_changes_no_state():
    a, b = _params()
    _, emb = _embedding()
    opt = gg.optim.Adam([a, emb, b])
    a.grad, b.grad = gg.ones_like(a), gg.ones_like(b)
    emb.grad = RowSparseGrad(np.array([0]), np.ones((1, 3)), (6, 3))
    a0 = a.numpy().copy()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()
    assert opt.state == {}
    np.testing.assert_array_equal(a.numpy(), a0)
