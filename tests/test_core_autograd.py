"""Autograd semantics: backward, accumulation, retain_graph, hooks, grad(), grad modes,
in-place checks, anomaly detection, deep graphs."""
import numpy as np
import pytest

import gpugrad as gg


def test_course_examples(device):
    a = gg.tensor(2.0, device=device, requires_grad=True)
    b = gg.tensor(1.0, device=device, requires_grad=True)
    f = (a + b) * (b + 1)
    f.backward()
    assert (f.item(), a.grad.item(), b.grad.item()) == (6.0, 2.0, 5.0)
    x = gg.tensor(1.0, device=device)
    p = gg.tensor(3.0, device=device, requires_grad=True)
    (x * p - 2).abs().backward()
    assert p.grad.item() == 1.0


def test_grad_accumulates_until_zeroed(device):
    w = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    for _ in range(3):
        (w * w).sum().backward()
    assert w.grad.tolist() == [6.0, 12.0]
    w.grad = None
    (w * 3).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]


def test_leaf_grads_are_independent_copies():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = gg.tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()
    x.grad.data *= 10  # what clip_grad_norm_ does; must not reach y.grad
    assert y.grad.tolist() == [1.0, 1.0]
    z = gg.tensor([1.0, 2.0], requires_grad=True)
    z.sum().backward()  # the gradient of sum is a broadcast view: .grad must be writable
    z.grad.data += 1
    assert z.grad.tolist() == [2.0, 2.0]


def test_backward_twice_needs_retain_graph():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_nonscalar_backward_needs_gradient():
    x = gg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    (x * 2).backward(gg.tensor([1.0, 0.0, 2.0]))
    assert x.grad.tolist() == [2.0, 0.0, 4.0]


def test_grad_returns_without_touching_dot_grad():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = gg.tensor([3.0], requires_grad=True)
    gx, gy = gg.grad((x * y).sum(), [x, y])
    assert gx.tolist() == [3.0, 3.0] and gy.tolist() == [3.0]
    assert x.grad is None and y.grad is None
    z = gg.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        gg.grad((x * 2).sum(), [z])
    assert gg.grad((x * 2).sum(), [z], allow_unused=True) == (None,)


def test_grad_wrt_non_leaf():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    (gh,) = gg.grad((h * h).sum(), [h])
    assert gh.tolist() == [6.0, 12.0]


def test_create_graph_gives_higher_derivatives():
    x = gg.tensor(2.0, dtype=gg.float64, requires_grad=True)
    (g,) = gg.grad(x ** 3, [x], create_graph=True)
    (h,) = gg.grad(g, [x], create_graph=True)
    (t,) = gg.grad(h, [x])
    assert (g.item(), h.item(), t.item()) == (12.0, 12.0, 6.0)


def test_no_grad_and_enable_grad():
    x = gg.ones(2, requires_grad=True)
    with gg.no_grad():
        y = x * 2
        with gg.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None

    @gg.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    assert gg.is_grad_enabled()


def test_hooks_see_and_replace_gradients():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.tolist()))
    h = x * 2
    h.register_hook(lambda g: g * 10)  # non-leaf hook replaces the gradient flowing on
    h.sum().backward()
    assert seen == [[20.0, 20.0]] and x.grad.tolist() == [20.0, 20.0]
    handle.remove()
    (x * 1).sum().backward()
    assert len(seen) == 1


def test_leaf_hook_fires_once_with_summed_gradient():
    x = gg.tensor(1.0, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.item()))
    (x * 2 + x * 3).backward()
    assert seen == [5.0]


def test_retain_grad_on_non_leaf():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h.retain_grad()
    h.sum().backward()
    assert h.grad.tolist() == [1.0, 1.0]


def test_deep_chain_backward_without_recursion():
    x = gg.tensor(1.0, dtype=gg.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_backward_cost_is_linear_in_graph_size():
    import time

    def run(n):
        x = gg.tensor(1.0, requires_grad=True)
        y = x
        for _ in range(n):
            y = y + x  # fan-in to x at every step
        t = time.perf_counter()
        y.backward()
        return time.perf_counter() - t, x.grad.item()
    small, g_small = run(2000)
    large, g_large = run(16000)
    assert (g_small, g_large) == (2001.0, 16001.0)
    assert large < small * 8 * 4  # linear with generous slack; quadratic would be 64x


def test_modified_saved_tensor_is_detected():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * y  # saves y
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified"):
        z.sum().backward()
    e = x.exp()  # saves its output
    e.mul_(2)
    with pytest.raises(RuntimeError, match="modified"):
        e.sum().backward()


def test_modifying_a_view_bumps_the_base_version():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    z = (y * y).sum()
    y[:2].mul_(0)
    with pytest.raises(RuntimeError, match="modified"):
        z.backward()


def test_inplace_on_leaf_requiring_grad_raises():
    w = gg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w.add_(1)
    with gg.no_grad():
        w.add_(1)
    assert w.tolist() == [2.0, 2.0]


def test_inplace_on_non_leaf_keeps_gradient_correct():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.add_(1)
    y.mul_(2)
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    assert y.tolist() == [8.0, 14.0]


def test_detach_and_requires_grad_():
    x = gg.tensor([1.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    with pytest.raises(TypeError, match="floating"):
        gg.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="does not require grad"):
        gg.tensor([1.0]).sum().backward()


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # the NaN/Inf under test
def test_detect_anomaly_names_the_op():
    x = gg.tensor([0.0, 1.0], requires_grad=True)
    with gg.detect_anomaly():
        with pytest.raises(FloatingPointError, match="Log") as info:
            x.log()
        assert "test_core_autograd.py" in str(info.value)
        y = x.sqrt()  # sqrt(0) is fine forward, its gradient at 0 is inf
        with pytest.raises(FloatingPointError, match="backward of Sqrt"):
            y.sum().backward()
    assert x.log().tolist()[0] == -np.inf  # outside anomaly mode: no check


def test_mixed_devices_raise():
    a = gg.ones(2)
    assert a.device == "cpu" and str(a.device) == "cpu"
    with pytest.raises(ValueError, match="tpu"):
        gg.ones(2, device="tpu")


@pytest.mark.skipif(gg.cuda.is_available(), reason="checks the message when no GPU exists")
def test_cuda_without_gpu_explains_what_is_missing():
    with pytest.raises(RuntimeError, match="CuPy|GPU"):
        gg.ones(2, device="cuda")
    assert gg.cuda.device_count() == 0 and gg.cuda.is_available() is False
    gg.cuda.synchronize()


@pytest.mark.cuda
def test_mixing_cpu_and_cuda_raises_naming_both():
    with pytest.raises(RuntimeError, match="cpu.*cuda:0|cuda:0.*cpu"):
        gg.ones(2) + gg.ones(2, device="cuda")


@pytest.mark.cuda
def test_ops_run_on_the_tensors_gpu():
    if gg.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    x = gg.ones(3, device="cuda:1", requires_grad=True)
    y = (x * 2).exp().sum()
    y.backward()
    assert y.device == "cuda:1" and x.grad.device == "cuda:1"
    assert x.grad.array.device.id == 1


def test_leaf_gradient_ownership_check_accepts_cupy_style_flags():
    # CuPy's ndarray.flags has no ``writeable``; the check must not need it.
    from gpugrad.tensor import _owns

    class Flags:
        owndata = True
        c_contiguous = True

    class Array:
        flags = Flags()
    assert _owns(Array())


@pytest.mark.parametrize("order", ["dependent_first", "dependent_last"])
def test_grad_of_outputs_where_one_is_computed_from_the_other(order):
    """Roots that reach each other (an LSTM step's h from its c): each is expanded once."""
    x = gg.tensor([0.5, -1.0], dtype=gg.float64, requires_grad=True)
    a = x * 2
    b = a.tanh()
    outputs = [b, a] if order == "dependent_first" else [a, b]
    (gx,) = gg.grad(outputs, [x], [gg.ones_like(o) for o in outputs])
    expected = 2 * (1 - np.tanh(2 * x.numpy()) ** 2) + 2
    np.testing.assert_allclose(gx.numpy(), expected, rtol=1e-12)
    a = x * 2
    (a.tanh().sum() + a.sum()).backward()  # the same sum through one root, for contrast
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
