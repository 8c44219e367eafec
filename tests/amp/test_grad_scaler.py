"""gg.amp.GradScaler against torch.amp.GradScaler("cpu"): scale trajectories, skipped steps,
the once-per-step rules, state dicts; with every optimizer, sparse gradients,
DataParallel and DistributedDataParallel; a small MLP trained with autocast + scaler."""
import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")
F = gg.nn.functional


def _trajectory(lib, steps, inf_at, device="cpu", **kwargs):
    """Scales, parameter values and growth trackers of ``steps`` scaled SGD steps in ``lib``
    (gpugrad or torch), with an infinite loss at the steps in ``inf_at``."""
    w = lib.nn.Parameter(lib.tensor([1.0, -2.0], device=device))
    opt = lib.optim.SGD([w], lr=0.01)
    scaler = lib.amp.GradScaler("cpu" if device == "cpu" else "cuda", **kwargs)
    scales, values, trackers = [], [], []
    for step in range(steps):
        opt.zero_grad()
        factor = float("inf") if step in inf_at else 1.0
        scaler.scale((w * w * factor).sum()).backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        values.append(w.detach().cpu().numpy().copy())
        trackers.append(scaler.state_dict()["_growth_tracker"])
    return scales, values, trackers


@pytest.mark.parametrize("kwargs", [
    dict(init_scale=2.0 ** 16, growth_interval=3),
    dict(init_scale=1000.3, growth_factor=1.7, backoff_factor=0.3, growth_interval=2),
    dict(init_scale=3.0e38, growth_interval=1),  # growth would overflow float32: kept
    dict(),
], ids=["interval3", "odd_factors", "overflowing_growth", "defaults"])
def test_scale_trajectory_and_skips_match_torch(device, kwargs):
    inf_at = {2, 3, 9, 15, 16, 17}
    expected = _trajectory(torch, 21, inf_at, **kwargs)
    got = _trajectory(gg, 21, inf_at, device=device, **kwargs)
    assert got[0] == expected[0]  # the scales, bit for bit (float32 arithmetic)
    assert got[2] == expected[2]  # the growth trackers
    np.testing.assert_allclose(np.array(got[1]), np.array(expected[1]), rtol=1e-6)
    # skipped steps leave the parameter unchanged
    for step in inf_at:
        np.testing.assert_array_equal(got[1][step], got[1][step - 1])


def test_nan_gradient_skips_too():
    w = gg.nn.Parameter(gg.tensor([1.0, 2.0]))
    opt = gg.optim.SGD([w], lr=0.1)
    scaler = gg.amp.GradScaler("cpu", init_scale=8.0)
    scaler.scale((w * float("nan")).sum()).backward()
    assert scaler.step(opt) is None
    scaler.update()
    assert w.tolist() == [1.0, 2.0] and scaler.get_scale() == 4.0


def test_unscale_then_clip_then_step():
    w = gg.nn.Parameter(gg.tensor([3.0, 4.0]))
    opt = gg.optim.SGD([w], lr=1.0)
    scaler = gg.amp.GradScaler("cpu", init_scale=1024.0)
    scaler.scale((w * w).sum() / 2).backward()
    assert w.grad.tolist() == [3072.0, 4096.0]
    scaler.unscale_(opt)
    assert w.grad.tolist() == [3.0, 4.0]
    gg.nn.utils.clip_grad_norm_([w], 1.0)
    scaler.step(opt)  # does not unscale again
    scaler.update()
    np.testing.assert_allclose(w.tolist(), [2.4, 3.2], rtol=1e-6)


def test_once_per_step_rules_as_torch():
    w = gg.nn.Parameter(gg.tensor([1.0]))
    opt = gg.optim.SGD([w], lr=0.1)
    scaler = gg.amp.GradScaler("cpu")
    with pytest.raises(AssertionError, match="_scale is None"):
        scaler.unscale_(opt)
    scaler.scale(w.sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="after step"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    scaler.update()
    with pytest.raises(RuntimeError, match="Closure"):
        scaler.step(opt, closure=lambda: 0.0)
    # the same messages as torch's
    tw = torch.nn.Parameter(torch.ones(1))
    topt = torch.optim.SGD([tw], lr=0.1)
    tscaler = torch.amp.GradScaler("cpu")
    tscaler.scale(tw.sum()).backward()
    tscaler.unscale_(topt)
    with pytest.raises(RuntimeError, match="already been called"):
        tscaler.unscale_(topt)


def test_float16_gradients_are_refused():
    w = gg.nn.Parameter(gg.tensor([1.0]).half())
    opt = gg.optim.SGD([w], lr=0.1)
    scaler = gg.amp.GradScaler("cpu")
    scaler.scale(w.sum()).backward()
    with pytest.raises(ValueError, match="FP16 gradients"):
        scaler.unscale_(opt)


def test_step_without_gradients_and_update_without_step():
    w = gg.nn.Parameter(gg.tensor([1.0]))
    opt = gg.optim.SGD([w], lr=0.1)
    scaler = gg.amp.GradScaler("cpu")
    scaler.scale(w.sum())
    with pytest.raises(AssertionError, match="No inf checks"):
        scaler.step(opt)
    scaler = gg.amp.GradScaler("cpu")
    scaler.scale(w.sum())
    with pytest.raises(AssertionError, match="No inf checks"):
        scaler.update()


def test_scale_nested_outputs():
    scaler = gg.amp.GradScaler("cpu", init_scale=4.0)
    a, b, c = gg.tensor(1.0), gg.tensor([2.0]), gg.tensor(3.0)
    out = scaler.scale([a, (b, [c])])
    assert isinstance(out, list) and isinstance(out[1], tuple)
    assert out[0].item() == 4.0 and out[1][0].tolist() == [8.0] and out[1][1][0].item() == 12.0
    assert [t.item() for t in scaler.scale(iter([a, c]))] == [4.0, 12.0]
    with pytest.raises(ValueError, match="Tensor or an iterable"):
        scaler.scale(3.0)
    half = scaler.scale(gg.tensor([1.5]).half())
    assert half.dtype == gg.float16 and half.item() == 6.0


def test_update_with_new_scale():
    scaler = gg.amp.GradScaler("cpu")
    scaler.scale(gg.tensor(1.0))
    scaler.update(new_scale=128.0)
    assert scaler.get_scale() == 128.0
    scaler.update(new_scale=gg.tensor([64.0]))
    assert scaler.get_scale() == 64.0
    with pytest.raises(AssertionError):
        scaler.update(new_scale=gg.tensor([1.0, 2.0]))


def test_state_dict_round_trip_and_torch_interchange(tmp_path):
    scaler = gg.amp.GradScaler("cpu", init_scale=512.0, growth_interval=4)
    w = gg.nn.Parameter(gg.tensor([1.0]))
    opt = gg.optim.SGD([w], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        scaler.scale(w.sum()).backward()
        scaler.step(opt)
        scaler.update()
    state = scaler.state_dict()
    assert state == {"scale": 512.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                     "growth_interval": 4, "_growth_tracker": 3}
    gg.save(state, tmp_path / "scaler.gg")
    other = gg.amp.GradScaler("cpu")
    other.load_state_dict(gg.load(tmp_path / "scaler.gg"))
    assert other.state_dict() == state
    # one more clean step grows both the same way
    for s in (scaler, other):
        opt.zero_grad()
        s.scale(w.sum()).backward()
        s.step(opt)
        s.update()
    assert scaler.get_scale() == other.get_scale() == 1024.0
    # PyTorch's state dict has the same keys and loads both ways
    tscaler = torch.amp.GradScaler("cpu")
    tscaler.load_state_dict(state)
    assert tscaler.state_dict() == state
    other.load_state_dict(tscaler.state_dict())
    assert other.state_dict() == state
    with pytest.raises(RuntimeError, match="empty"):
        other.load_state_dict({})


def test_disabled_scaler_passes_through():
    w = gg.nn.Parameter(gg.tensor([1.0]))
    opt = gg.optim.SGD([w], lr=0.5)
    scaler = gg.amp.GradScaler("cpu", enabled=False)
    loss = w.sum()
    assert scaler.scale(loss) is loss
    loss.backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    assert w.item() == 0.5
    assert scaler.get_scale() == 1.0 and scaler.state_dict() == {} and not scaler.is_enabled()


def test_cuda_scaler_without_a_gpu_disables_itself():
    if gg.cuda.is_available():
        pytest.skip("a GPU (or the simulator) is present")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        scaler = gg.cuda.amp.GradScaler()
    assert not scaler.is_enabled()


def test_bad_factors():
    with pytest.raises(AssertionError, match="growth factor"):
        gg.amp.GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(AssertionError, match="backoff factor"):
        gg.amp.GradScaler("cpu", backoff_factor=1.0)


# ---- every optimizer ---------------------------------------------------------------------
OPTIMIZERS = ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Rprop",
              "Adagrad", "Adadelta", "ASGD"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_steps_as_without_scaling(device, name):
    """Power-of-two scaling is exact: the scaled-and-unscaled step equals the plain one."""
    rng = np.random.default_rng(1)
    x = gg.tensor(rng.standard_normal((6, 4)), dtype=gg.float32, device=device)
    init = rng.standard_normal((4, 3)).astype(np.float32)
    runs = []
    for scaled in (False, True):
        w = gg.nn.Parameter(gg.tensor(init, device=device))
        opt = getattr(gg.optim, name)([w], lr=0.01)
        scaler = gg.amp.GradScaler("cpu" if device == "cpu" else "cuda", enabled=scaled)
        for step in range(4):
            opt.zero_grad()
            factor = float("inf") if scaled and step == 2 else 1.0
            loss = ((x @ w) ** 2).mean() * factor
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            if scaled and step == 2:
                continue
        runs.append(w.detach().cpu().numpy())
    # the scaled run skipped step 2, so compare with a plain run of 3 steps
    w = gg.nn.Parameter(gg.tensor(init, device=device))
    opt = getattr(gg.optim, name)([w], lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        ((x @ w) ** 2).mean().backward()
        opt.step()
    np.testing.assert_allclose(runs[1], w.detach().cpu().numpy(), rtol=1e-6, atol=1e-7)
    assert not np.allclose(runs[0], runs[1])  # the 4-step plain run did differ


def test_sparse_gradients_with_sparse_adam():
    emb = gg.nn.Embedding(10, 3, sparse=True)
    ref = gg.nn.Embedding(10, 3, sparse=True)
    ref.weight.data = emb.weight.detach().clone()
    opt, ref_opt = gg.optim.SparseAdam(emb.parameters(), lr=0.1), gg.optim.SparseAdam(
        ref.parameters(), lr=0.1)
    scaler = gg.amp.GradScaler("cpu", init_scale=256.0)
    idx = gg.tensor([1, 4, 4, 7])
    for step in range(3):
        opt.zero_grad()
        ref_opt.zero_grad()
        factor = float("inf") if step == 1 else 1.0
        scaler.scale((emb(idx) ** 2).sum() * factor).backward()
        assert isinstance(emb.weight.grad, gg.RowSparseGrad)
        scaler.step(opt)
        scaler.update()
        if step != 1:
            (ref(idx) ** 2).sum().backward()
            ref_opt.step()
    assert scaler.get_scale() == 128.0
    np.testing.assert_allclose(emb.weight.detach().numpy(), ref.weight.detach().numpy(),
                               rtol=1e-6)


# ---- training: autocast + scaler, DataParallel, DDP ---------------------------------------
def _mlp(device, seed=0):
    gg.manual_seed(seed)
    return gg.nn.Sequential(gg.nn.Linear(8, 32), gg.nn.ReLU(), gg.nn.Linear(32, 3)).to(device)


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5).astype(np.int64)
    return gg.tensor(x), gg.tensor(y)


def test_mlp_trains_with_autocast_and_scaler(device):
    dev = gg.device(device).type
    model = _mlp(device)
    opt = gg.optim.Adam(model.parameters(), lr=0.01)
    scaler = gg.amp.GradScaler(dev, init_scale=2.0 ** 24, growth_interval=5)
    x, y = (t.to(device) for t in _data())
    losses = []
    for _ in range(40):
        opt.zero_grad()
        with gg.autocast(dev, dtype=gg.float16):
            logits = model(x)
            loss = F.cross_entropy(logits, y)
        assert logits.dtype == gg.float16 and loss.dtype == gg.float32
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert all(p.dtype == gg.float32 for p in model.parameters())
    # an initial scale that overflows float16 backs off until the steps go through
    assert scaler.get_scale() < 2.0 ** 24


def _dp_step(dp_or_model, opt, scaler, dev, x, y):
    def loss_fn(model, xb, yb):
        with gg.autocast(dev, dtype=gg.float16):
            loss = F.cross_entropy(model(xb), yb)
        return scaler.scale(loss)
    opt.zero_grad()
    if isinstance(dp_or_model, gg.parallel.DataParallel):
        scaled = dp_or_model.forward_backward(loss_fn, x, y)
    else:
        scaled = loss_fn(dp_or_model, x, y)
        scaled.backward()
    scale = scaler.get_scale()
    scaler.step(opt)
    scaler.update()
    return scaled.item() / scale


@pytest.mark.cuda
def test_data_parallel_two_gpus_agree_with_one():
    """Two simulated GPUs with autocast + scaler follow the one-device run; an overflow in
    one replica's shard skips the step for the whole model."""
    x, y = _data(32)
    runs = {}
    for devices in (["cuda:0"], ["cuda:0", "cuda:1"]):
        model = _mlp("cuda:0")
        opt = gg.optim.SGD(model.parameters(), lr=0.1)
        scaler = gg.amp.GradScaler("cuda", init_scale=1024.0, growth_interval=3)
        runner = model if len(devices) == 1 else gg.parallel.DataParallel(model, devices)
        losses, scales = [], []
        for step in range(8):
            xb = x.clone()
            if step == 4:
                xb[-1, 0] = float("inf")  # the last example: the second replica's shard
            _dp_step(runner, opt, scaler, "cuda", xb.to("cuda:0"), y.to("cuda:0"))
            scales.append(scaler.get_scale())
            losses.append([p.detach().cpu().numpy().copy() for p in model.parameters()])
        runs[len(devices)] = (scales, losses)
    assert runs[1][0] == runs[2][0]
    assert runs[2][0][4] == runs[2][0][3] / 2  # the overflow backed off
    for a, b in zip(runs[1][1], runs[2][1]):
        for pa, pb in zip(a, b):
            np.testing.assert_allclose(pa, pb, rtol=2e-2, atol=2e-3)
    # the skipped step left the parameters as they were
    for pa, pb in zip(runs[2][1][3], runs[2][1][4]):
        np.testing.assert_array_equal(pa, pb)


def test_data_parallel_cpu_replicas_skip_together():
    x, y = _data(16)
    model = _mlp("cpu")
    dp = gg.parallel.DataParallel(model, ["cpu", "cpu"])
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    scaler = gg.amp.GradScaler("cpu", init_scale=64.0)
    xb = x.clone()
    xb[-1, 0] = float("nan")
    before = [p.detach().numpy().copy() for p in model.parameters()]
    _dp_step(dp, opt, scaler, "cpu", xb, y)
    assert scaler.get_scale() == 32.0
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.detach().numpy(), old)
    _dp_step(dp, opt, scaler, "cpu", x, y)
    assert scaler.get_scale() == 32.0
    assert not np.array_equal(next(iter(model.parameters())).detach().numpy(), before[0])
    dp.close()


def test_ddp_world_of_one_with_scaler():
    """DDP leaves the same averaged gradient on every rank, so each rank's scaler sees the
    same overflow and all skip together; in a world of one this is the plain path."""
    import gpugrad.distributed as dist
    dist.init()
    x, y = _data(16)
    model = _mlp("cpu")
    ddp = dist.DistributedDataParallel(model)
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    scaler = gg.amp.GradScaler("cpu", init_scale=64.0)

    def loss_fn(m, xb, yb):
        with gg.autocast("cpu", dtype=gg.float16):
            loss = F.cross_entropy(m(xb), yb)
        return scaler.scale(loss)
    xb = x.clone()
    xb[0, 0] = float("inf")
    before = [p.detach().numpy().copy() for p in model.parameters()]
    opt.zero_grad()
    ddp.forward_backward(loss_fn, xb, y)
    scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == 32.0
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.detach().numpy(), old)
    opt.zero_grad()
    ddp.forward_backward(loss_fn, x, y)
    scaler.step(opt)
    scaler.update()
    assert not np.array_equal(next(iter(model.parameters())).detach().numpy(), before[0])


@pytest.mark.mpi
def test_ddp_two_ranks_skip_the_same_steps(tmp_path):
    """Under mpiexec -n 2 an overflow on rank 1 alone makes both ranks skip the step and back
    off: the check runs on the all-reduced gradients, which every rank shares."""
    import os
    import subprocess
    import sys
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.path.exists(mpiexec):
        pytest.skip("no mpiexec in the venv")
    worker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "amp_ddp_worker.py")
    out = tmp_path / "run"
    proc = subprocess.run([mpiexec, "-n", "2", sys.executable, worker, "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [np.load(f"{out}.{r}.npz") for r in (0, 1)]
    np.testing.assert_array_equal(ranks[0]["scales"], ranks[1]["scales"])
    np.testing.assert_array_equal(ranks[0]["params"], ranks[1]["params"])
    # growth_interval=2: grows after steps 0-1, backs off at 2 and 3, grows after 4-5
    assert ranks[0]["scales"].tolist() == [256.0, 512.0, 256.0, 128.0, 128.0, 256.0]
    params = ranks[0]["params"]
    np.testing.assert_array_equal(params[2], params[1])  # skipped on both ranks
    np.testing.assert_array_equal(params[3], params[1])
    assert not np.array_equal(params[4], params[3])
