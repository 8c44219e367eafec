"""Stream order on the simulated GPUs: a read on one stream of memory another stream writes,
with nothing ordering the two, is a race on real hardware and a ``StreamOrderError`` here;
and the data-parallel hot path runs without host synchronisations.
"""
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.backends import cupy_backend

pytestmark = pytest.mark.cuda


@pytest.fixture
def cupy():
    if not gg.cuda.is_simulated() or gg.cuda.device_count() < 2:
        pytest.skip("needs two simulated GPUs (GPUGRAD_SIMULATE_CUDA=2)")
    import cupy
    return cupy


def _order_error(cupy):
    return pytest.raises(RuntimeError, match="stream race")


def test_unordered_read_on_another_stream_is_a_race(cupy):
    a = cupy.ones(4)  # written on the default stream of device 0
    with cupy.cuda.Stream(non_blocking=True):
        with _order_error(cupy):
            a + 1


def test_event_wait_or_host_synchronisation_orders_the_read(cupy):
    side = cupy.cuda.Stream(non_blocking=True)
    with side:
        a = cupy.ones(4) * 2
        done = side.record()
    cupy.cuda.get_current_stream().wait_event(done)
    assert float((a + 1).sum()) == 12.0
    with side:
        b = cupy.ones(4)
    side.synchronize()
    assert float(b.sum()) == 4.0


def test_default_stream_and_blocking_streams_wait_for_each_other(cupy):
    a = cupy.ones(4)
    with cupy.cuda.Stream(non_blocking=False):
        assert float((a * 3).sum()) == 12.0


def test_copy_to_another_gpu_waits_for_the_source(cupy, monkeypatch):
    x = gg.ones(3, device="cuda:0") * 2
    assert x.to("cuda:1").tolist() == [2.0, 2.0, 2.0]

    def unordered(self, array, device):
        with self.xp.cuda.Device(device.index):
            return array.copy()
    monkeypatch.setattr(cupy_backend.CupyBackend, "to_device", unordered)
    y = gg.ones(3, device="cuda:0") * 2
    with _order_error(cupy):
        y.to("cuda:1")


def test_host_read_of_memory_another_stream_writes_is_a_race(cupy):
    with cupy.cuda.Stream(non_blocking=True):
        a = cupy.ones(4)
    with _order_error(cupy):
        cupy.asnumpy(a)


def _data_parallel_steps(steps=3):
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to("cuda:0")
    opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    dp = gg.parallel.DataParallel(model, devices=["cuda:0", "cuda:1"])
    x = gg.randn(6, 4, device="cuda:0")
    y = gg.tensor([0, 1, 2, 0, 1, 2], device="cuda:0")
    losses = []
    for _ in range(steps):
        losses.append(dp.forward_backward(lambda m, a, b: F.cross_entropy(m(a), b), x, y))
        opt.step()
        opt.zero_grad()
    return losses


def test_data_parallel_orders_its_streams_with_events(cupy, monkeypatch):
    losses = _data_parallel_steps()
    assert losses[-1].device == gg.device("cuda:0") and losses[-1].item() < losses[0].item()
    # Without the replicas' waits for the caller's queued work (the optimizer's update),
    # the next step's parameter copies would race it.
    from gpugrad.parallel import _cuda
    monkeypatch.setattr(_cuda, "streams_wait_for_callers", lambda devices, streams: None)
    with _order_error(cupy):
        _data_parallel_steps()


def test_data_parallel_step_does_not_synchronise_the_host(cupy, monkeypatch):
    from gpugrad.cuda_sim import _order
    waits = []
    for name in ("host_read", "host_waited", "host_waited_for_device"):
        real = getattr(_order, name)
        monkeypatch.setattr(_order, name, lambda *a, real=real, name=name: (
            waits.append(name), real(*a))[1])
    losses = _data_parallel_steps(steps=2)
    assert waits == []
    losses[-1].item()
    assert waits  # the check above can see a synchronisation


def test_loss_and_embedding_steps_do_not_synchronise_the_host(cupy, monkeypatch):
    from gpugrad.cuda_sim import _order
    waits = []
    monkeypatch.setattr(_order, "host_waited", lambda seen: waits.append(seen))
    monkeypatch.setattr(_order, "host_waited_for_device", lambda d: waits.append(d))
    emb = nn.Embedding(10, 4, max_norm=1.0).to("cuda:1")
    head = nn.Linear(4, 3).to("cuda:1")
    idx = gg.tensor([[1, 2], [3, 9]], device="cuda:1")
    logits = head(emb(idx)).reshape(4, 3)
    target = gg.tensor([0, 1, 2, 1], device="cuda:1")
    loss = F.cross_entropy(logits, target) + F.nll_loss(F.log_softmax(logits, 1), target)
    loss = loss + gg.gather(logits, 1, target[:, None]).sum()
    loss.backward()
    assert waits == [] and head.weight.grad is not None
