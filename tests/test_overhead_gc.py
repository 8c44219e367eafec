"""The lean eager path (issue #14): how the graph is recorded and how the cyclic GC is
scheduled while it is built.

What must hold: gradients as PyTorch's, in-place changes of saved tensors still caught (also
for tensors that never had a version counter), cycles through user objects still collected
(with no explicit ``gc.collect``), the user's GC settings back after backward or after a
graph is dropped, and nothing accumulating over many steps.
"""
import gc
import threading
import weakref

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.autograd.function as function
from gpugrad.autograd import Function

torch = pytest.importorskip("torch")


def host(t):
    return t.cpu().numpy() if isinstance(t, gg.Tensor) else np.asarray(t)


def chain(x, c, n, tanh):
    """The ops of benchmarks/overhead.py: mul, add, tanh in turn."""
    y = x
    for i in range(n):
        k = i % 3
        if k == 0:
            y = y * c
        elif k == 1:
            y = y + c
        else:
            y = tanh(y)
    return y


@pytest.fixture
def default_threshold():
    """Run the test at CPython's default thresholds, and put the caller's back after."""
    old = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*old)


def test_chain_gradients_match_torch(device, rng):
    x0, c0 = rng.standard_normal(5), rng.uniform(0.5, 1.0, 5)
    x = gg.tensor(x0, device=device, requires_grad=True)
    c = gg.tensor(c0, device=device, requires_grad=True)
    chain(x, c, 900, gg.tanh).sum().backward()
    xt = torch.tensor(x0, requires_grad=True)
    ct = torch.tensor(c0, requires_grad=True)
    chain(xt, ct, 900, torch.tanh).sum().backward()
    np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(c.grad), ct.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_broadcast_diamond_and_unused_inputs_match_torch(device, rng):
    a0, b0, w0 = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(())
    a = gg.tensor(a0, device=device, requires_grad=True)
    b = gg.tensor(b0, device=device, requires_grad=True)
    w = gg.tensor(w0, device=device, requires_grad=True)
    h = a * b  # b is broadcast: its gradient is summed back to (4,)
    out = (h.tanh() * h + w * b).sum()  # h feeds two ops, w is 0-d
    out.backward()
    at, bt, wt = (torch.tensor(v, requires_grad=True) for v in (a0, b0, w0))
    ht = at * bt
    (ht.tanh() * ht + wt * bt).sum().backward()
    for mine, theirs in ((a, at), (b, bt), (w, wt)):
        np.testing.assert_allclose(host(mine.grad), theirs.grad.numpy(), rtol=1e-10)
    assert b.grad.shape == (4,) and w.grad.shape == ()


def test_gradcheck_through_recorded_ops(device):
    x = gg.tensor([0.3, -0.7, 1.1], dtype=gg.float64, device=device, requires_grad=True)
    c = gg.tensor([0.9, 1.2, -0.4], dtype=gg.float64, device=device, requires_grad=True)
    assert gg.gradcheck(lambda x, c: chain(x, c, 12, gg.tanh), (x, c))


def test_double_backward_through_saved_output(device):
    x = gg.tensor([0.5, -1.0], dtype=gg.float64, device=device, requires_grad=True)
    y = gg.tanh(x)  # saves its output
    (g,) = gg.grad(y.sum(), [x], create_graph=True)
    (gg_,) = gg.grad(g.sum(), [x])
    xt = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.tanh(xt).sum(), [xt], create_graph=True)
    (ggt,) = torch.autograd.grad(gt.sum(), [xt])
    np.testing.assert_allclose(host(gg_), ggt.numpy(), rtol=1e-10)


def test_in_place_change_of_a_tensor_saved_without_a_counter_raises(device):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 1.0
    assert y._version is None  # no counter yet: saving it must not need one
    z = y * y
    with gg.no_grad():
        y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()


def test_in_place_change_of_a_saved_output_raises(device):
    x = gg.tensor([0.1, 0.2], device=device, requires_grad=True)
    y = gg.tanh(x)
    with gg.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_change_before_saving_is_no_error(device):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 1.0
    with gg.no_grad():
        y.add_(1.0)  # version 1, then saved at version 1
    (y * y).sum().backward()
    np.testing.assert_allclose(host(x.grad), [4.0, 6.0])


class _PickSecond(Function):
    """Saves only its second input: not a prefix of the inputs."""

    saves_inputs = (1,)

    @staticmethod
    def forward(ctx, xp, a, b):
        return a * b

    @staticmethod
    def backward(ctx, g):
        (b,) = ctx.saved_tensors
        return g * b, None


class _Many(Function):
    """Ten inputs, all saved: past the arities the recording unrolls."""

    saves_inputs = tuple(range(10))

    @staticmethod
    def forward(ctx, xp, *arrays):
        out = arrays[0]
        for a in arrays[1:]:
            out = out * a
        return out

    @staticmethod
    def backward(ctx, g):
        saved = ctx.saved_tensors
        assert ctx.needs_input_grad == (True,) * 5 + (False,) * 5
        grads = []
        for i in range(10):
            rest = g
            for j, t in enumerate(saved):
                if j != i:
                    rest = rest * t
            grads.append(rest if i < 5 else None)
        return tuple(grads)


def test_saves_that_are_not_a_prefix_and_many_inputs(device, rng):
    a = gg.tensor([2.0, 3.0], device=device, requires_grad=True)
    b = gg.tensor([5.0, 7.0], device=device)
    _PickSecond.apply(a, b).sum().backward()
    np.testing.assert_allclose(host(a.grad), [5.0, 7.0])
    values = rng.uniform(0.5, 1.5, (10, 3))
    ts = [gg.tensor(v, device=device, requires_grad=i < 5) for i, v in enumerate(values)]
    _Many.apply(*ts).sum().backward()
    for i in range(5):
        expected = np.prod(np.delete(values, i, axis=0), axis=0)
        np.testing.assert_allclose(host(ts[i].grad), expected, rtol=1e-12)
    assert all(t.grad is None for t in ts[5:])


def test_needs_input_grad_is_a_tuple_as_in_torch():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, xp, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            seen["mine"] = ctx.needs_input_grad
            return g, None

    class TorchProbe(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            seen["torch"] = ctx.needs_input_grad
            return g, None

    Probe.apply(gg.ones(2, requires_grad=True), gg.ones(2)).sum().backward()
    TorchProbe.apply(torch.ones(2, requires_grad=True), torch.ones(2)).sum().backward()
    assert seen["mine"] == seen["torch"] == (True, False)
    assert type(seen["mine"]) is type(seen["torch"]) is tuple


def test_threshold_goes_up_for_a_big_graph_and_back_after_backward(default_threshold, device):
    x = gg.tensor([0.5, 0.25], device=device, requires_grad=True)
    c = gg.tensor([0.9, 0.8], device=device)
    small = chain(x, c, 10, gg.tanh)
    assert gc.get_threshold() == (700, 10, 10)  # a few ops change nothing
    small.sum().backward()
    y = chain(x, c, function.GRAPH_GC_AFTER + 10, gg.tanh)
    assert gc.get_threshold() == (function.GRAPH_GC_THRESHOLD, 10, 10)
    y.sum().backward()
    assert gc.get_threshold() == (700, 10, 10)


def test_threshold_comes_back_when_a_graph_is_dropped_without_backward(default_threshold):
    x = gg.tensor([0.5], requires_grad=True)
    y = chain(x, x, function.GRAPH_GC_AFTER + 10, gg.tanh)
    assert gc.get_threshold()[0] == function.GRAPH_GC_THRESHOLD
    del y
    assert gc.get_threshold() == (700, 10, 10)


def test_retain_graph_keeps_the_threshold_until_the_graph_dies(default_threshold):
    x = gg.tensor([0.5], requires_grad=True)
    y = chain(x, x, function.GRAPH_GC_AFTER + 10, gg.tanh).sum()
    y.backward(retain_graph=True)
    assert gc.get_threshold()[0] == function.GRAPH_GC_THRESHOLD  # the graph is still there
    y.backward()
    assert gc.get_threshold() == (700, 10, 10)


def test_the_users_own_settings_win(default_threshold):
    x = gg.tensor([0.5], requires_grad=True)
    y = chain(x, x, function.GRAPH_GC_AFTER + 10, gg.tanh)
    gc.set_threshold(1234, 5, 5)  # changed while the graph is alive: left alone
    y.sum().backward()
    assert gc.get_threshold() == (1234, 5, 5)
    gc.set_threshold(0)  # automatic collection off: never switched back on
    chain(x, x, function.GRAPH_GC_AFTER + 10, gg.tanh).sum().backward()
    assert gc.get_threshold()[0] == 0
    gc.set_threshold(10 ** 6, 10, 10)  # already rarer than ours: not lowered
    y = chain(x, x, function.GRAPH_GC_AFTER + 10, gg.tanh)
    assert gc.get_threshold()[0] == 10 ** 6
    y.sum().backward()
    assert gc.get_threshold()[0] == 10 ** 6


class _Holder:
    pass


def test_a_cycle_through_user_objects_is_still_collected_without_gc_collect(default_threshold):
    x = gg.tensor([0.5, 0.25], requires_grad=True)
    y = chain(x, x, function.GRAPH_GC_AFTER + 10, gg.tanh)
    assert gc.get_threshold()[0] == function.GRAPH_GC_THRESHOLD  # the raised schedule
    holder = _Holder()
    holder.me = holder  # a reference cycle through a user object ...
    holder.out = chain(y, x, 30, gg.tanh)  # ... that holds a part of the graph
    alive = weakref.ref(holder)
    del holder
    assert alive() is not None  # reference counting alone cannot free a cycle
    kept = []
    bound = 12 * (function.GRAPH_GC_THRESHOLD + 1)  # past a gen1 collection
    while alive() is not None and len(kept) < bound:
        kept.append([])  # GC-tracked allocations: what drives automatic collection
    assert alive() is None, "the cycle outlived more allocations than two generations take"
    del kept
    y.sum().backward()
    assert gc.get_threshold() == (700, 10, 10)


def test_a_dropped_cycle_is_collected_by_gc_collect(default_threshold):
    x = gg.tensor([0.5], requires_grad=True)
    holder = _Holder()
    holder.me = holder
    holder.out = chain(x, x, function.GRAPH_GC_AFTER + 10, gg.tanh)
    alive = weakref.ref(holder)
    del holder
    assert gc.collect() > 0 and alive() is None
    assert gc.get_threshold() == (700, 10, 10)  # its graph died with it


def test_nothing_accumulates_over_many_steps(default_threshold, device):
    x = gg.tensor([0.5, 0.25], device=device, requires_grad=True)
    c = gg.tensor([0.9, 0.8], device=device)

    def step():
        x.grad = None
        chain(x, c, function.GRAPH_GC_AFTER + 50, gg.tanh).sum().backward()

    gc.collect()
    for _ in range(50):  # warm-up: caches of the (simulated) GPU runtime fill once
        step()
    before = len(gc.get_objects())
    for _ in range(200):
        step()
        assert gc.get_threshold() == (700, 10, 10)
    after = len(gc.get_objects())
    assert gc.collect() == 0  # nothing that only the cyclic GC could free
    assert after - before < 50, (before, after)
    assert not gc.garbage


def test_threads_building_graphs_leave_the_threshold_as_it_was(default_threshold):
    errors = []

    def work():
        try:
            x = gg.tensor([0.5, 0.25], requires_grad=True)
            for _ in range(5):
                chain(x, x, function.GRAPH_GC_AFTER + 20, gg.tanh).sum().backward()
        except Exception as err:  # noqa: BLE001  (reported below)
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert gc.get_threshold() == (700, 10, 10)
