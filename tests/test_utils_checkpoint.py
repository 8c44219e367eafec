"""``gg.utils.checkpoint``: gradients equal an unchecking run's exactly (dropout included),
PyTorch's ``torch.utils.checkpoint`` on identical float64 weights, and the intermediate
activations are really dropped after the forward."""
import gc
import weakref

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
from gpugrad.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def host(t):
    return t.detach().cpu().numpy()


def _block(device):
    gg.manual_seed(3)
    return nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Dropout(0.3), nn.Linear(8, 4),
                         nn.LayerNorm(4)).to(device=device, dtype=gg.float64)


def _grads(module, *tensors):
    return [host(p.grad) for p in module.parameters()] + [host(t.grad) for t in tensors]


def test_gradients_equal_the_plain_run_with_dropout(device):
    net = _block(device)
    x = gg.randn(5, 4, dtype=gg.float64, device=device, requires_grad=True)
    gg.manual_seed(11)
    plain = net(x)
    (plain * plain).sum().backward()
    want = _grads(net, x)
    net.zero_grad()
    x.grad = None
    gg.manual_seed(11)
    out = checkpoint(net, x, use_reentrant=False)
    after_forward = gg.rand(3).tolist()  # the recomputation must not move the generator
    (out * out).sum().backward()
    np.testing.assert_array_equal(host(out), host(plain))
    for got, exp in zip(_grads(net, x), want):
        np.testing.assert_array_equal(got, exp)
    gg.manual_seed(11)
    net(x)
    assert gg.rand(3).tolist() == after_forward


def test_parameters_get_gradients_when_no_input_requires_grad(device):
    net = _block(device)
    x = gg.randn(5, 4, dtype=gg.float64, device=device)
    gg.manual_seed(2)
    loss = checkpoint(net, x, use_reentrant=False).sum()
    params = list(net.parameters())
    got = gg.grad(loss, params)  # gg.grad: the parameters' .grad stays untouched
    assert all(p.grad is None for p in params)
    gg.manual_seed(2)
    want = gg.grad(net(x).sum(), params)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(host(g), host(w))


def test_intermediate_activations_are_not_kept(device):
    lin = nn.Linear(6, 6, dtype=gg.float64, device=device)
    seen = []

    def f(t):
        h = lin(t).tanh()
        seen.append(weakref.ref(h))
        return (h * h).sum(dim=1)
    x = gg.randn(3, 6, dtype=gg.float64, device=device, requires_grad=True)
    out = checkpoint(f, x, use_reentrant=False)
    gc.collect()
    assert seen[0]() is None  # the forward's intermediate is gone
    node = out.grad_fn
    assert type(node).__name__ == "_Checkpoint" and node._saved == ()
    assert len(node.next) == 3  # x, lin.weight, lin.bias: nothing else is held
    out.sum().backward()
    assert len(seen) == 2 and lin.weight.grad is not None


def test_multiple_outputs_kwargs_and_non_tensor_values(device):
    w = gg.randn(3, dtype=gg.float64, device=device, requires_grad=True)

    def f(a, scale, b=None, name="x"):
        return (a * w * scale, name, (a + b).to(gg.float32), a.argmax(), b * 2)
    a = gg.randn(2, 3, dtype=gg.float64, device=device, requires_grad=True)
    b = gg.randn(2, 3, dtype=gg.float64, device=device)
    out = checkpoint(f, a, 3.0, b=b, name="y", use_reentrant=False)
    assert out[1] == "y" and out[2].dtype == gg.float32 and out[3].dtype == gg.int64
    assert not out[4].requires_grad
    ((out[0] ** 2).sum() + out[2].sum()).backward()
    got = [host(a.grad), host(w.grad)]
    a.grad = w.grad = None
    plain = f(a, 3.0, b=b, name="y")
    ((plain[0] ** 2).sum() + plain[2].sum()).backward()
    for g, want in zip(got, [host(a.grad), host(w.grad)]):
        np.testing.assert_array_equal(g, want)
    np.testing.assert_array_equal(host(out[0]), host(plain[0]))


def test_checkpoint_gradcheck_and_double_backward(device):
    w = gg.randn(3, 3, dtype=gg.float64, device=device, requires_grad=True)

    def f(x):
        return checkpoint(lambda t: (t @ w).sin() * t, x, use_reentrant=False)
    x = gg.randn(2, 3, dtype=gg.float64, device=device, requires_grad=True)
    assert gg.gradcheck(f, (x,))
    # double backward: the gradient (built as a graph through the recomputation) is itself
    # differentiable
    assert gg.gradcheck(lambda t: gg.grad(f(t).sum(), [t], create_graph=True)[0], (x,))


def test_checkpoint_sequential_equals_plain(device):
    gg.manual_seed(5)
    net = nn.Sequential(*[nn.Linear(4, 4) if i % 2 == 0 else nn.Tanh() for i in range(7)])
    net = net.to(device=device, dtype=gg.float64)
    x = gg.randn(3, 4, dtype=gg.float64, device=device, requires_grad=True)
    net(x).pow(2).sum().backward()
    want = _grads(net, x)
    net.zero_grad()
    x.grad = None
    out = checkpoint_sequential(net, 3, x, use_reentrant=False)
    out.pow(2).sum().backward()
    for got, exp in zip(_grads(net, x), want):
        np.testing.assert_allclose(got, exp, rtol=1e-13, atol=1e-15)


def test_leaf_hooks_run_once_and_context_fn(device):
    lin = nn.Linear(2, 2, dtype=gg.float64, device=device)
    calls = []
    lin.weight.register_hook(lambda g: calls.append("hook"))
    entered = []

    class Mark:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            entered.append(self.name)

        def __exit__(self, *exc):
            return False
    x = gg.randn(3, 2, dtype=gg.float64, device=device, requires_grad=True)
    out = checkpoint(lin, x, use_reentrant=False,
                     context_fn=lambda: (Mark("forward"), Mark("recompute")))
    out.sum().backward()
    assert calls == ["hook"] and entered == ["forward", "recompute"]


def test_checkpoint_errors_and_modes():
    x = gg.randn(2, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant"):
        checkpoint(lambda t: t * 2, x)
    with pytest.raises(ValueError, match="Unexpected keyword arguments"):
        checkpoint(lambda t, k: t * k, x, k=2, use_reentrant=True)
    with pytest.raises(ValueError, match="context_fn"):
        checkpoint(lambda t: t, x, use_reentrant=True, context_fn=lambda: (None, None))
    with pytest.raises(ValueError, match="determinism_check"):
        checkpoint(lambda t: t, x, use_reentrant=False, determinism_check="strict")
    with gg.no_grad():
        assert checkpoint(lambda t: t * 2, x, use_reentrant=False).grad_fn is None
    # use_reentrant=True runs the same way
    checkpoint(lambda t: (t * t).sum(), x, use_reentrant=True).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy())
    calls = []

    def grows(t):
        calls.append(1)
        return t.repeat(len(calls))
    out = checkpoint(grows, x, use_reentrant=False)
    with pytest.raises(CheckpointError, match="recomputed outputs"):
        out.sum().backward()
    calls.clear()
    checkpoint(grows, x, use_reentrant=False, determinism_check="none")


def _torch_block():
    return torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                            dtype=torch.float64)


@needs_torch
def test_transformer_block_matches_torch_checkpoint(device, rng):
    import torch.utils.checkpoint as tc
    ours = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                      dtype=gg.float64, device=device)
    ref = _torch_block()
    ref.load_state_dict({k: torch.tensor(host(v)) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((2, 5, 8))
    xg = gg.tensor(x, device=device, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out = checkpoint(ours, xg, use_reentrant=False)
    want = tc.checkpoint(ref, xt, use_reentrant=False)
    (out.tanh().sum()).backward()
    (want.tanh().sum()).backward()
    np.testing.assert_allclose(host(out), want.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(xg.grad), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (name, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters()):
        np.testing.assert_allclose(host(p.grad), q.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)


def test_random_numbers_replay_on_every_device(device):
    # gg.rand on a GPU draws from that device's generator: the recomputation must see the
    # same numbers as the forward, so the gradient of x * r is r, the forward's r.
    x = gg.randn(4, 3, dtype=gg.float64, device=device, requires_grad=True)

    def f(t):
        return t * gg.rand(t.shape, dtype=gg.float64, device=t.device)
    out = checkpoint(f, x, use_reentrant=False)
    out.sum().backward()
    np.testing.assert_allclose(host(x.grad), host(out) / host(x), rtol=1e-12)


def test_identity_duplicate_outputs_nesting_and_closures():
    x = gg.randn(3, dtype=gg.float64, requires_grad=True)
    checkpoint(lambda t: t, x, use_reentrant=False).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))
    x.grad = None
    a, b = checkpoint(lambda t: (t * 2, t * 2), x, use_reentrant=False)
    (a.sum() + 3 * b.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 8.0))
    x.grad = None

    def inner(t):
        return checkpoint(lambda u: u.sin(), t, use_reentrant=False) * 2
    checkpoint(inner, x, use_reentrant=False).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(x.detach().numpy()), rtol=1e-14)
    # a non-leaf tensor closed over, used only inside: gradients reach its leaves
    w = gg.randn(3, dtype=gg.float64, requires_grad=True)
    h = w * 3
    x.grad = None
    checkpoint(lambda t: t * h, x, use_reentrant=False).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 3 * x.detach().numpy(), rtol=1e-14)
    # ... also used outside, its graph may be freed first (that depends on the order the
    # engine visits the two uses): then the error says what to do
    h = w * 3
    out = checkpoint(lambda t: t * h, x, use_reentrant=False)
    try:
        (out.sum() + h.sum()).backward()
    except RuntimeError as err:
        assert "pass that tensor as an argument" in str(err)


def test_forward_mode_runs_the_function_itself():
    lin = gg.nn.Linear(3, 2).double()
    x = gg.tensor([[0.5, -1.0, 2.0]], dtype=gg.float64)
    t = gg.tensor([[1.0, 0.0, -2.0]], dtype=gg.float64)

    def f(a):
        return lin(a).tanh()
    want = gg.func.jvp(f, (x,), (t,))
    got = gg.func.jvp(lambda a: checkpoint(f, a, use_reentrant=False), (x,), (t,))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-14)
