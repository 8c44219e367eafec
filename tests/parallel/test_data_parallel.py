"""DataParallel: 2 devices x B/2 must equal 1 device x B, step after step."""
import threading

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.parallel import DataParallel
from tiny_mlp import TinyMLP, make_batches, mlp_loss

# Even, odd, smaller than the device count, then more: every split path, several steps.
BATCH_SIZES = [16, 15, 1, 8, 9, 2]

OPTIMIZERS = {
    "sgd_momentum": lambda params: gg.optim.SGD(params, lr=0.1, momentum=0.9),
    "sgd_nesterov_wd": lambda params: gg.optim.SGD(params, lr=0.05, momentum=0.9,
                                                   nesterov=True, weight_decay=1e-3),
    "adam": lambda params: gg.optim.Adam(params, lr=0.01),
}


def _train_single(model, opt, batches):
    losses = []
    for x, y in batches:
        opt.zero_grad()
        loss = mlp_loss(model, x, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _train_parallel(dp, opt, batches):
    losses = []
    for x, y in batches:
        opt.zero_grad()
        loss = dp.forward_backward(mlp_loss, x, y)
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("dtype, tol", [(gg.float32, 1e-5), (gg.float64, 1e-12)],
                         ids=["float32", "float64"])
@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("n_devices", [2, 3])
def test_replicas_match_one_device(dtype, tol, opt_name, n_devices):
    batches = make_batches(BATCH_SIZES, dtype=dtype)
    single, primary = TinyMLP(dtype=dtype), TinyMLP(dtype=dtype)
    opt_single = OPTIMIZERS[opt_name](single.parameters())
    opt_parallel = OPTIMIZERS[opt_name](primary.parameters())
    dp = DataParallel(primary, devices=["cpu"] * n_devices)

    expected = _train_single(single, opt_single, batches)
    got = _train_parallel(dp, opt_parallel, batches)

    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    for (name, a), (_, b) in zip(single.named_parameters(), primary.named_parameters()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=tol, atol=tol, err_msg=name)
        assert b.dtype == dtype
    # The parameters really moved, so the comparison above is not vacuous.
    assert not np.allclose(single.w1.numpy(), TinyMLP(dtype=dtype).w1.numpy(), atol=1e-3)
    dp.close()


def test_gradient_is_the_whole_batch_mean_gradient():
    x, y = make_batches([63], dtype=gg.float64)[0]
    single, primary = TinyMLP(dtype=gg.float64), TinyMLP(dtype=gg.float64)
    mlp_loss(single, x, y).backward()
    loss = DataParallel(primary, ["cpu", "cpu"]).forward_backward(mlp_loss, x, y)
    assert loss.shape == () and loss.device == "cpu" and not loss.requires_grad
    assert loss.item() == pytest.approx(mlp_loss(single, x, y).item(), rel=1e-12)
    for a, b in zip(single.parameters(), primary.parameters()):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_gradients_accumulate_across_calls():
    (x1, y1), (x2, y2) = make_batches([6, 5], dtype=gg.float64)
    single, primary = TinyMLP(dtype=gg.float64), TinyMLP(dtype=gg.float64)
    mlp_loss(single, x1, y1).backward()
    mlp_loss(single, x2, y2).backward()
    dp = DataParallel(primary, ["cpu", "cpu"])
    dp.forward_backward(mlp_loss, x1, y1)
    dp.forward_backward(mlp_loss, x2, y2)
    for a, b in zip(single.parameters(), primary.parameters()):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_replicas_run_concurrently_in_their_own_threads():
    model = TinyMLP()
    dp = DataParallel(model, ["cpu", "cpu"])
    meet = threading.Barrier(2, timeout=10)  # breaks unless both shards run at once
    threads = set()

    def loss_fn(m, x, y):
        threads.add(threading.get_ident())
        meet.wait()
        return mlp_loss(m, x, y)

    x, y = make_batches([4])[0]
    for _ in range(2):
        dp.forward_backward(loss_fn, x, y)
    assert len(threads) == 2 and threading.get_ident() not in threads
    dp.close()


def test_shards_are_split_evenly_first_ones_larger():
    seen = []
    dp = DataParallel(TinyMLP(), ["cpu", "cpu"])

    def loss_fn(m, x, y):
        seen.append(len(x))
        return mlp_loss(m, x, y)

    for n in (63, 1):
        x, y = make_batches([n])[0]
        dp.forward_backward(loss_fn, x, y)
    assert sorted(seen[:2]) == [31, 32] and seen[2:] == [1]


def test_parameter_unused_everywhere_keeps_grad_none_and_partial_use_counts_zero():
    class WithExtras(TinyMLP):
        def __init__(self):
            super().__init__(dtype=gg.float64)
            self.extra = gg.nn.Parameter(gg.ones(3, dtype=gg.float64))
            self.sometimes = gg.nn.Parameter(gg.ones(1, dtype=gg.float64))

        def named_parameters(self):
            return super().named_parameters() + [("extra", self.extra),
                                                 ("sometimes", self.sometimes)]

    model = WithExtras()

    def loss_fn(m, x, y):
        loss = mlp_loss(m, x, y)
        if len(x) == 3:  # only the first shard of 5 uses it
            loss = loss + m.sometimes.sum() * 2.0
        return loss

    x, y = make_batches([5], dtype=gg.float64)[0]
    DataParallel(model, ["cpu", "cpu"]).forward_backward(loss_fn, x, y)
    assert model.extra.grad is None
    # d/ds of (3/5) * (mean loss + 2 s) on the 3-example shard, nothing from the other one.
    assert model.sometimes.grad.item() == pytest.approx(2.0 * 3 / 5)


def test_only_changed_tensors_are_copied_to_replicas():
    model = TinyMLP()
    dp = DataParallel(model, ["cpu", "cpu"])
    sync = dp._sync
    assert sync.changes(0) == []
    model.b2.requires_grad_(False)  # frozen: the optimizer leaves it alone
    opt = gg.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    x, y = make_batches([4])[0]
    dp.forward_backward(mlp_loss, x, y)
    opt.step()
    assert sync.changes(0) == ["w1", "b1", "w2"]  # updated in place: versions moved
    dp.forward_backward(mlp_loss, x, y)
    assert sync.changes(0) == []
    model.w2.data = model.w2.data * 2  # replaced, not bumped: the array object moved
    assert sync.changes(0) == ["w2"]
    dp.forward_backward(mlp_loss, x, y)
    np.testing.assert_array_equal(dp.replicas[1].w2.numpy(), model.w2.numpy())
    assert dp.replicas[1].b2.requires_grad is False


def test_replica_side_changes_are_undone():
    model = TinyMLP()
    dp = DataParallel(model, ["cpu", "cpu"])
    with gg.no_grad():
        dp.replicas[1].b1.add_(1.0)
    assert dp._sync.changes(0) == ["b1"]
    x, y = make_batches([4])[0]
    dp.forward_backward(mlp_loss, x, y)
    np.testing.assert_array_equal(dp.replicas[1].b1.numpy(), model.b1.numpy())


def test_invalidate_copies_everything():
    model = TinyMLP()
    dp = DataParallel(model, ["cpu", "cpu"])
    model.w1.numpy()[0, 0] = 42.0  # behind gpugrad's back: no version bump
    assert dp._sync.changes(0) == []
    dp.invalidate()
    assert dp._sync.changes(0) == ["w1", "b1", "w2", "b2"]


def test_replicas_are_independent_copies():
    model = TinyMLP()
    dp = DataParallel(model, ["cpu", "cpu"])
    for a, b in zip(model.parameters(), dp.replicas[1].parameters()):
        assert a is not b and a.array is not b.array and isinstance(b, gg.nn.Parameter)
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_error_in_one_replica_propagates_and_pool_survives():
    dp = DataParallel(TinyMLP(), ["cpu", "cpu"])
    x, y = make_batches([4])[0]

    def bad(m, xb, yb):
        if m is not dp.module:
            raise KeyError("replica 1 failed")
        return mlp_loss(m, xb, yb)

    with pytest.raises(KeyError, match="replica 1 failed"):
        dp.forward_backward(bad, x, y)
    assert dp.forward_backward(mlp_loss, x, y).item() > 0


def test_bad_arguments():
    model = TinyMLP()
    dp = DataParallel(model, ["cpu", "cpu"])
    x, y = make_batches([4])[0]
    with pytest.raises(ValueError, match="one common first dimension"):
        dp.forward_backward(mlp_loss, x, y[:3])
    with pytest.raises(ValueError, match="one-element tensor"):
        dp.forward_backward(lambda m, xb, yb: m(xb), x, y)
    with pytest.raises(ValueError, match="empty"):
        dp.forward_backward(mlp_loss, x[:0], y[:0])


@pytest.mark.cuda
@pytest.mark.parametrize("opt_name", ["sgd_momentum", "adam"])
def test_gpu_replicas_match_one_device(opt_name):
    """Two GPUs (NCCL path; two replicas on one GPU where only one exists) over even and
    odd batches (16, 15, 1, 8, 9, 2) for six steps equal one device with each whole batch."""
    devices = ["cuda:0", "cuda:1"] if gg.cuda.device_count() > 1 else ["cuda:0", "cuda:0"]
    batches = [(x.to("cuda:0"), y.to("cuda:0")) for x, y in make_batches(BATCH_SIZES)]
    single = TinyMLP(device="cuda:0")
    primary = TinyMLP(device="cuda:0")
    opt_single = OPTIMIZERS[opt_name](single.parameters())
    opt_parallel = OPTIMIZERS[opt_name](primary.parameters())
    dp = DataParallel(primary, devices)
    expected = _train_single(single, opt_single, batches)
    got = _train_parallel(dp, opt_parallel, batches)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    for a, b in zip(single.parameters(), primary.parameters()):
        np.testing.assert_allclose(b.cpu().numpy(), a.cpu().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_anomaly_mode_reaches_the_workers():
    dp = DataParallel(TinyMLP(), ["cpu", "cpu"])
    x, y = make_batches([4])[0]

    def nan_loss(m, xb, yb):
        return (mlp_loss(m, xb, yb) * 0.0).log() * 0.0  # log(0) = -inf: forward anomaly

    with pytest.raises(FloatingPointError):
        with gg.detect_anomaly():
            dp.forward_backward(nan_loss, x, y)
