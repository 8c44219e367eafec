"""The forward-mode machinery: every op has a rule, levels nest without mixing up their
tangents, non-Function paths (views, in-place ops, assignment) carry tangents or refuse."""
import importlib
import pkgutil
import threading

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.autograd.function import Function
from gpugrad.func import forward_ad as fwAD
from func_testing import host


def _t(values, device, **kwargs):
    return gg.tensor(np.asarray(values, dtype=np.float64), device=device, **kwargs)


def _all_functions():
    """Every Function subclass defined in gpugrad (ops, nn, nn.functional, ...)."""
    for pkg in ("gpugrad.ops", "gpugrad.nn"):
        module = importlib.import_module(pkg)
        for info in pkgutil.walk_packages(module.__path__, pkg + "."):
            importlib.import_module(info.name)
    found, stack = [], [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                stack.append(sub)
    return [c for c in found if c.__module__.startswith("gpugrad.")]


def test_every_function_has_a_jvp():
    functions = _all_functions()
    assert len(functions) > 30
    missing = [f"{c.__module__}.{c.__name__}" for c in functions if c.jvp is Function.jvp]
    assert missing == [], f"Functions without a forward-mode rule: {missing}"


def test_an_op_without_a_rule_says_so(device):
    class Opaque(Function):
        @staticmethod
        def forward(ctx, xp, a):
            return a * 1

    x = _t([1.0], device)
    with pytest.raises(NotImplementedError, match="Opaque has no forward-mode derivative"):
        gg.func.jvp(lambda a: Opaque.apply(a), (x,), (x,))
    assert gg.func.forward_ad.active_levels() == ()  # the level was left on the way out


def test_dual_level_api(device):
    x = _t([1.0, 2.0], device)
    with fwAD.dual_level() as level:
        y = fwAD.make_dual(x, _t([1.0, 0.0], device)).exp()
        primal, tangent = fwAD.unpack_dual(y)
        assert tangent is y._tangent[level] and primal._tangent is None
    np.testing.assert_allclose(host(tangent), [np.e, 0.0])
    with pytest.raises(RuntimeError, match="no active level"):
        fwAD.make_dual(x, x)


def _derivative(f):
    return lambda x: gg.func.jvp(f, (x,), (gg.ones_like(x),))[1]


def test_nested_jvp_gives_higher_derivatives(device):
    x = _t([0.3, -1.1], device)
    d3 = _derivative(_derivative(_derivative(gg.sin)))
    np.testing.assert_allclose(host(d3(x)), -np.cos([0.3, -1.1]), atol=1e-12)
    d2 = _derivative(_derivative(lambda a: a.exp() * a))  # (x + 2) e^x
    np.testing.assert_allclose(host(d2(x)), (np.array([0.3, -1.1]) + 2) * np.exp([0.3, -1.1]))


def test_levels_do_not_confuse_perturbations(device):
    """d/dx [x * d/dy (x + y)] = 1: the inner derivative must not see x's tangent
    (the classic perturbation-confusion bug of untagged dual numbers gives 2)."""
    one = _t(1.0, device)

    def outer(x):
        inner = gg.func.jvp(lambda y: x + y, (one,), (one,))[1]
        return x * inner
    assert gg.func.jvp(outer, (one,), (one,))[1].item() == 1.0


def test_forward_over_reverse_and_reverse_over_forward_agree(device):
    def f(x):
        return (x.tanh() * x.sigmoid()).sum() + (x.sqrt() * x.log()).sum()
    x = _t([0.5, 1.5, 2.5], device)
    v = _t([1.0, -2.0, 0.5], device)
    fwd_rev = gg.func.jvp(gg.func.grad(f), (x,), (v,))[1]
    rev_fwd = gg.func.grad(lambda a: gg.func.jvp(f, (a,), (v,))[1])(x)
    np.testing.assert_allclose(host(fwd_rev), host(rev_fwd), atol=1e-12)
    hess = gg.func.jacrev(gg.func.jacrev(f))(x)
    np.testing.assert_allclose(host(fwd_rev), host(hess @ v), atol=1e-12)


def test_grad_of_grad(device):
    x = _t([0.7, 1.3], device)
    d2 = gg.func.grad(lambda a: gg.func.grad(lambda b: (b ** 4).sum())(a).sum())(x)
    np.testing.assert_allclose(host(d2), 12 * np.array([0.7, 1.3]) ** 2)


def test_in_place_ops_carry_tangents(device):
    def f(x):
        y = x * 2
        y.add_(x)      # 3x
        y.mul_(x)      # 3x^2
        y.sub_(1)
        y.div_(3)      # x^2 - 1/3
        z = gg.zeros_like(x)
        z.copy_(y)     # a tangent-less tensor takes over y's tangent
        w = x.clone()
        w.fill_(5.0)   # a constant now
        return z + w
    x = _t([1.0, 2.0], device)
    out, t = gg.func.jvp(f, (x,), (_t([1.0, 1.0], device),))
    np.testing.assert_allclose(host(out), [1 - 1 / 3 + 5, 4 - 1 / 3 + 5])
    np.testing.assert_allclose(host(t), [2.0, 4.0])


def test_in_place_on_a_tensor_that_requires_grad(device):
    """In-place on a non-leaf in the graph: both the tangent and the gradient are right."""
    w = _t([1.0, 2.0], device, requires_grad=True)

    def f(x):
        y = x * w
        y.mul_(x)      # x^2 w
        return y
    _, t = gg.func.jvp(f, (_t([3.0, 4.0], device),), (_t([1.0, 1.0], device),))
    np.testing.assert_allclose(host(t), [6.0, 16.0])  # 2 x w
    t.sum().backward()
    np.testing.assert_allclose(host(w.grad), [6.0, 8.0])  # d(2 x w)/dw


@pytest.mark.parametrize("view", ["slice", "reshape", "transpose"])
def test_in_place_on_views_refuses(view, device):
    make = {"slice": lambda y: y[0:1], "reshape": lambda y: y.reshape(2, 1),
            "transpose": lambda y: y.unsqueeze(0).T}[view]

    def on_view(x):
        y = x * 2
        make(y).mul_(2)
        return y

    def on_base(x):
        y = x * 2
        v = make(y)
        y.add_(1)
        return v
    x, t = _t([1.0, 2.0], device), _t([1.0, 1.0], device)
    for f in (on_view, on_base):
        with pytest.raises(RuntimeError, match="view"):
            gg.func.jvp(f, (x,), (t,))


def test_setitem_refuses_under_forward_ad(device):
    def f(x):
        y = gg.zeros(2, device=x.device).double()
        y[0] = x[1]
        return y
    with pytest.raises(RuntimeError, match="setitem.*forward-mode"):
        gg.func.jvp(f, (_t([1.0, 2.0], device),), (_t([1.0, 1.0], device),))
    # without tangents involved, assignment still works inside jvp
    def g(x):
        c = gg.zeros(2, device=x.device).double()
        c[0] = 3.0
        return x * c
    assert host(gg.func.jvp(g, (_t([1.0, 2.0], device),),
                            (_t([1.0, 1.0], device),))[1]).tolist() == [3.0, 0.0]


def test_levels_are_per_thread(device):
    """A level entered in one thread does not make another thread's ops compute tangents."""
    seen = {}
    entered, checked = threading.Event(), threading.Event()

    def other():
        entered.wait()
        seen["levels"] = fwAD.active_levels()
        seen["tangent"] = (_t([1.0], device) * 2)._tangent
        checked.set()
    thread = threading.Thread(target=other)
    thread.start()
    with fwAD.dual_level():
        entered.set()
        checked.wait()
    thread.join()
    assert seen == {"levels": (), "tangent": None}
