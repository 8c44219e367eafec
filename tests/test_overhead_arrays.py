"""The engine's array fast path (issue #14): with ``create_graph=False`` and nothing watching
the backward pass, ops with a ``backward_arrays`` formula run it on raw NumPy arrays.

What must hold: the same bits as the Tensor formulas (``engine.ARRAYS = False``) for every
graph shape (chains, broadcasting, fan-out, 0-d, reductions, mixed dtypes, sparse
gradients); PyTorch's gradients; and every feature that needs Tensors (hooks, retain_grad,
``gg.grad`` of non-leaves, double backward, anomaly mode, in-place checks, freed graphs)
working as before.
"""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.autograd.engine as engine
from gpugrad.autograd import Function

torch = pytest.importorskip("torch")


from test_overhead_gc import chain, host  # noqa: E402  (the benchmark's ops)


# Each graph takes its leaves (made from the same values) and returns a scalar loss.
def g_chain(lib, x, w, b):
    return chain(x, w, 150, lib.tanh).sum() + b.sum()


def g_broadcast(lib, x, w, b):
    # x (3, 1) against w (4,): both are summed back; b (1, 4) too.
    h = lib.tanh(x * w + b)
    return (h / (w * w + 1) - x).sum()


def g_fan_out(lib, x, w, b):
    y = lib.exp(x * 0.5)
    z = y * y + lib.sigmoid(y) - y / (w + 2) + lib.log(y + 1)
    return (z * b).sum() + (-y).mean()


def g_reductions(lib, x, w, b):
    s = (x * w).sum(1, keepdim=True)  # (3, 1)
    t = (x + b).sum(0)  # (4,)
    return (s * t).sum() + (x * x).sum((0, 1))


def g_scalars(lib, x, w, b):
    s = x.sum() * 0.25 + w.sum() * b.sum()  # 0-d tensors all the way down
    return lib.tanh(s * s + s) / (s + 3) - lib.exp(-s)


def g_powers(lib, x, w, b):
    h = x ** 2 + lib.sqrt(x) * w ** 3 - (x * b) ** 1.5 + x ** 0
    return h.mean(0).mean() + (h * h).mean((0, 1)) + h.mean(1, keepdim=True).sum()


def g_strided(lib, x, w, b):
    xt = x.transpose(0, 1)  # (4, 3) and not contiguous: so are the gradients through it
    h = lib.exp(xt * 0.3) * w.reshape(4, 1) - lib.tanh(xt) / (b.reshape(4, 1) + 1)
    return (h * h).sum(1).mean()


GRAPHS = [g_chain, g_broadcast, g_fan_out, g_reductions, g_scalars, g_powers, g_strided]
SHAPES = {g_chain: [(5,), (5,), (5,)]}


def leaves(rng, graph, dtype, device, requires=(True, True, True)):
    shapes = SHAPES.get(graph, [(3, 1) if graph is g_broadcast else (3, 4), (4,), (1, 4)])
    if dtype == "bfloat16":
        dtype = pytest.importorskip("ml_dtypes").bfloat16
    values = [rng.uniform(0.3, 0.9, s).astype(dtype) for s in shapes]
    return values, [gg.tensor(v, device=device, requires_grad=r)
                    for v, r in zip(values, requires)]


def backward_grads(graph, values, device, arrays, monkeypatch, requires=(True, True, True)):
    monkeypatch.setattr(engine, "ARRAYS", arrays)
    ts = [gg.tensor(v, device=device, requires_grad=r) for v, r in zip(values, requires)]
    graph(gg, *ts).backward()
    return [None if t.grad is None else host(t.grad) for t in ts]


def same_bits(a, b):
    assert (a is None) == (b is None)
    if a is not None:
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, "bfloat16"])
def test_fast_path_gives_the_bits_of_the_tensor_path(graph, dtype, device, rng, monkeypatch):
    if dtype == "bfloat16" and device != "cpu":
        pytest.skip("the GPU backend has no bfloat16")
    values, _ = leaves(rng, graph, dtype, device)
    fast = backward_grads(graph, values, device, True, monkeypatch)
    slow = backward_grads(graph, values, device, False, monkeypatch)
    for a, b in zip(fast, slow):
        same_bits(a, b)


@pytest.mark.parametrize("graph", GRAPHS)
def test_the_fast_path_runs_no_tensor_formula(graph, rng, monkeypatch):
    # Guards the test above: on the CPU every op of these graphs takes its array formula.
    from gpugrad.ops import arithmetic, reduction, unary

    def refuse(ctx, g):
        raise AssertionError(f"{type(ctx).__name__}.backward ran")
    for module, names in [(arithmetic, "Add Sub Mul Div Neg PowScalar"),
                          (unary, "Exp Log Sqrt Tanh Sigmoid"), (reduction, "Sum Mean")]:
        for name in names.split():
            monkeypatch.setattr(getattr(module, name), "backward", staticmethod(refuse))
    values, _ = leaves(rng, graph, np.float32, "cpu")
    backward_grads(graph, values, "cpu", True, monkeypatch)
    with pytest.raises(AssertionError, match="backward ran"):
        backward_grads(graph, values, "cpu", False, monkeypatch)


@pytest.mark.parametrize("requires", [(True, False, False), (False, True, True)])
def test_fast_path_with_inputs_that_need_no_gradient(requires, device, rng, monkeypatch):
    values, _ = leaves(rng, g_fan_out, np.float64, device)
    fast = backward_grads(g_fan_out, values, device, True, monkeypatch, requires)
    slow = backward_grads(g_fan_out, values, device, False, monkeypatch, requires)
    for a, b, r in zip(fast, slow, requires):
        assert (a is None) == (not r)
        same_bits(a, b)


@pytest.mark.parametrize("graph", GRAPHS)
def test_fast_path_matches_torch(graph, device, rng):
    values, ts = leaves(rng, graph, np.float64, device)
    graph(gg, *ts).backward()
    tt = [torch.tensor(v, requires_grad=True) for v in values]
    graph(torch, *tt).backward()
    for t, r in zip(ts, tt):
        np.testing.assert_allclose(host(t.grad), r.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_a_seed_of_another_dtype_takes_the_tensor_path(device, monkeypatch):
    # Mul's Tensor formula promotes a float64 gradient with float32 inputs by PyTorch's
    # rules; the array formula declines (NotImplemented) rather than use NumPy's.
    def grads(arrays):
        monkeypatch.setattr(engine, "ARRAYS", arrays)
        x = gg.tensor([0.5, 1.5], device=device, requires_grad=True)
        y = (x * x).exp() / (x + 1)
        y.backward(gg.tensor(np.array([1.0, 3.0]), device=device))
        return host(x.grad)
    same_bits(grads(True), grads(False))


def test_leaf_gradients_are_tensors_with_their_own_arrays(device):
    a = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    b = gg.tensor([3.0, 4.0], device=device, requires_grad=True)
    (a + b).sum().backward()  # Add hands one array to both inputs
    assert type(a.grad) is gg.Tensor and not a.grad.requires_grad and a.grad.grad_fn is None
    assert a.grad.device == a.device
    a.grad.mul_(10)
    assert host(b.grad).tolist() == [1.0, 1.0]
    (a * b).sum().backward()  # accumulates
    assert host(a.grad).tolist() == [13.0, 14.0] and host(b.grad).tolist() == [2.0, 3.0]


def test_hooks_and_retain_grad_see_tensors(device, rng):
    x0 = rng.standard_normal(4)
    seen = []

    def double(g):
        seen.append(type(g))
        return g * 2

    results = []
    for lib in (gg, torch):
        x = lib.tensor(x0, requires_grad=True) if lib is torch else gg.tensor(
            x0, device=device, requires_grad=True)
        y = lib.tanh(x * 3)
        y.register_hook(double)
        z = y * y + 1
        z.retain_grad()
        x.register_hook(double)
        (z.exp() * 0.5).sum().backward()
        results.append((x.grad, z.grad))
    assert seen[:2] == [gg.Tensor, gg.Tensor]
    for a, b in zip(*results):
        np.testing.assert_allclose(host(a), b.numpy(), rtol=1e-10)


def test_grad_of_intermediate_and_leaf_inputs(device, rng):
    x0 = rng.uniform(0.5, 1.0, 3)
    x = gg.tensor(x0, device=device, requires_grad=True)
    h = gg.exp(x) * x
    gh, gx = gg.grad((h * h).sum(), [h, x])
    assert type(gh) is gg.Tensor and type(gx) is gg.Tensor
    xt = torch.tensor(x0, requires_grad=True)
    ht = torch.exp(xt) * xt
    ght, gxt = torch.autograd.grad((ht * ht).sum(), [ht, xt])
    np.testing.assert_allclose(host(gh), ght.numpy(), rtol=1e-10)
    np.testing.assert_allclose(host(gx), gxt.numpy(), rtol=1e-10)
    assert x.grad is None


def test_retain_graph_and_freed_graph(device):
    x = gg.tensor([0.5, -1.0], device=device, requires_grad=True)
    y = (gg.tanh(x) * x).sum()
    y.backward(retain_graph=True)
    first = host(x.grad).copy()
    y.backward()
    np.testing.assert_allclose(host(x.grad), 2 * first, rtol=1e-12)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    xt = torch.tensor([0.5, -1.0], requires_grad=True)
    yt = (torch.tanh(xt) * xt).sum()
    yt.backward()
    with pytest.raises(RuntimeError):
        yt.backward()


def test_in_place_change_of_a_saved_tensor_is_caught(device):
    x = gg.tensor([0.5, 2.0], device=device, requires_grad=True)
    w = gg.tensor([1.0, 3.0], device=device)
    y = x * w
    w.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()
    e = gg.exp(x)
    z = e * 2
    e.mul_(2)  # the output exp saved
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()


def test_changed_before_saving_is_no_error(device):
    x = gg.tensor([0.5, 2.0], device=device, requires_grad=True)
    w = gg.tensor([1.0, 3.0], device=device)
    w.add_(1)  # its counter is 1 when Mul saves it
    (x * w).sum().backward()
    assert host(x.grad).tolist() == [2.0, 4.0]
    h = x * 1.0
    h.mul_(2)  # saved by one-input ops (log, ** p) with its counter at 1
    y = gg.log(h) + h ** 3
    y.sum().backward()
    np.testing.assert_allclose(host(x.grad), [2.0, 4.0] + 2 / host(h) + 3 * host(h) ** 2 * 2)
    y = gg.log(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_double_backward_through_the_fast_ops(device, rng):
    x0 = rng.uniform(0.2, 0.8, 4)
    x = gg.tensor(x0, device=device, requires_grad=True)
    y = (gg.tanh(x) * gg.exp(x) / (x + 1) - gg.sigmoid(x)).sum()
    (g,) = gg.grad(y, [x], create_graph=True)
    (g * g).sum().backward()
    xt = torch.tensor(x0, requires_grad=True)
    yt = (torch.tanh(xt) * torch.exp(xt) / (xt + 1) - torch.sigmoid(xt)).sum()
    (gt,) = torch.autograd.grad(yt, [xt], create_graph=True)
    (gt * gt).sum().backward()
    np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-10)


def test_gradcheck_of_the_fast_ops(device):
    x = gg.tensor([[0.3, 0.7], [1.1, 0.4]], dtype=gg.float64, device=device,
                  requires_grad=True)
    w = gg.tensor([0.9, 1.3], dtype=gg.float64, device=device, requires_grad=True)

    def f(x, w):
        return (gg.log(x + 2) * w - x / w + gg.sigmoid(-x)).sum(0) * gg.exp(w).mean()
    assert gg.gradcheck(f, (x, w))


def test_anomaly_mode_still_blames_the_backward(device):
    x = gg.tensor([1e-320, 1.0], dtype=gg.float64, device=device, requires_grad=True)
    with gg.autograd.detect_anomaly():
        y = gg.log(x * 1.0)  # finite, but 1 / 1e-320 overflows
        with pytest.raises(FloatingPointError, match="backward of Log"), \
                np.errstate(over="ignore"):
            y.sum().backward()


def test_custom_functions_with_and_without_array_formulas(device, monkeypatch):
    calls = []

    class Square(Function):
        saves_inputs = (0,)

        @staticmethod
        def forward(ctx, xp, a):
            return a * a

        @staticmethod
        def backward(ctx, g):
            calls.append("tensor")
            (a,) = ctx.saved_tensors
            return g * 2 * a

        @staticmethod
        def backward_arrays(ctx, xp, g):
            calls.append("arrays")
            if g.dtype != np.float32:
                return NotImplemented
            (a,) = ctx.saved_arrays()
            return g * 2 * a

    class Plain(Function):
        @staticmethod
        def forward(ctx, xp, a):
            return a + 1

        @staticmethod
        def backward(ctx, g):
            calls.append("plain")
            return g

    for dtype in (gg.float32, gg.float64):
        calls.clear()
        x = gg.tensor([1.5, -2.0], dtype=dtype, device=device, requires_grad=True)
        (Plain.apply(Square.apply(Plain.apply(x))) * 3).sum().backward()
        np.testing.assert_allclose(host(x.grad), [3 * 2 * 2.5, 3 * 2 * -1.0])
        if device == "cpu":
            expected = ["arrays"] if dtype == gg.float32 else ["arrays", "tensor"]
            assert calls == ["plain"] + expected + ["plain"]
        else:  # arrays of other backends take the Tensor formulas
            assert calls == ["plain", "tensor", "plain"]


def test_sparse_and_dense_gradients_of_one_weight(rng, monkeypatch):
    def grads(arrays):
        monkeypatch.setattr(engine, "ARRAYS", arrays)
        gg.manual_seed(0)
        emb = gg.nn.Embedding(6, 3, sparse=True)
        i, j = gg.tensor([0, 2, 2]), gg.tensor([5, 0])
        loss = (gg.tanh(emb(i)).sum() + (emb(j) * 2).sum() + (emb.weight * 0.5).sum())
        loss.backward()
        g = emb.weight.grad
        return host(g.to_dense() if hasattr(g, "to_dense") else g)
    same_bits(grads(True), grads(False))


def test_overhead_chain_matches_torch_in_float32(device):
    x = gg.tensor(np.full(4, 0.5, np.float32), device=device, requires_grad=True)
    c = gg.tensor(np.full(4, 0.9, np.float32), device=device)
    chain(x, c, 2000, gg.tanh).sum().backward()
    xt = torch.full((4,), 0.5, requires_grad=True)
    chain(xt, torch.full((4,), 0.9), 2000, torch.tanh).sum().backward()
    np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-5)


def test_a_graph_across_devices(device, monkeypatch):
    # CPU parts take the array formulas, the other device's parts the Tensor ones.
    def grads(arrays, lib):
        monkeypatch.setattr(engine, "ARRAYS", arrays)
        if lib is torch:
            x = torch.tensor([0.3, -0.7, 1.2], dtype=torch.float64, requires_grad=True)
            away, back = (lambda t: t), (lambda t: t)
        else:
            x = gg.tensor([0.3, -0.7, 1.2], dtype=gg.float64, requires_grad=True)
            away, back = (lambda t: t.to(device)), (lambda t: t.to("cpu"))
        h = back(lib.tanh(away(lib.exp(x) * x)) * 2) / (x * x + 1)
        (h.sum() + (h * x).mean()).backward()
        return x.grad.numpy() if lib is torch else host(x.grad)
    fast, slow = grads(True, gg), grads(False, gg)
    same_bits(fast, slow)
    np.testing.assert_allclose(fast, grads(True, torch), rtol=1e-10)


def test_several_roots_one_reaching_the_other(device, monkeypatch):
    def grads(arrays, lib):
        monkeypatch.setattr(engine, "ARRAYS", arrays)
        if lib is torch:
            x = torch.tensor([0.3, -0.7], dtype=torch.float64, requires_grad=True)
        else:
            x = gg.tensor([0.3, -0.7], dtype=gg.float64, device=device, requires_grad=True)
        y1 = lib.tanh(x * 3)
        y2 = (y1 * x + 1).sum() * y1  # reaches y1's node as well
        seeds = [lib.ones_like(y1) * 0.5, lib.ones_like(y2)]
        grad = lib.autograd.grad if lib is torch else gg.grad
        (gx,) = grad([y1, y2], [x], seeds)
        return gx.numpy() if lib is torch else host(gx)
    fast = grads(True, gg)
    same_bits(fast, grads(False, gg))
    np.testing.assert_allclose(fast, grads(True, torch), rtol=1e-10)
