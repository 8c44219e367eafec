"""``gg.func.vjp``, ``grad``, ``grad_and_value`` and ``jvp``: API behaviour and errors."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.ops import elementwise as E
from func_testing import host


def _t(values, device, **kwargs):
    return gg.tensor(np.asarray(values, dtype=np.float64), device=device, **kwargs)


def test_grad_course_example(device):
    """f = (a + b) * (b + 1) at a = 2, b = 1: df/da = 2, df/db = 5."""
    f = lambda a, b: (a + b) * (b + 1)  # noqa: E731
    a, b = _t(2.0, device), _t(1.0, device)
    da, db = gg.func.grad(f, argnums=(0, 1))(a, b)
    assert (da.item(), db.item()) == (2.0, 5.0)
    assert gg.func.grad(f, argnums=-1)(a, b).item() == 5.0
    g, value = gg.func.grad_and_value(f)(a, b)
    assert (g.item(), value.item()) == (2.0, 6.0)


def test_grad_leaves_plain_inputs_alone(device):
    x = _t([1.0, 2.0], device)
    g = gg.func.grad(lambda x: (x * x).sum())(x)
    assert host(g).tolist() == [2.0, 4.0]
    assert not x.requires_grad and x.grad is None
    assert not g.requires_grad and g.grad_fn is None  # nothing outside could use its graph


def test_grad_works_under_no_grad(device):
    """A transform differentiates its function whatever the caller's grad mode."""
    with gg.no_grad():
        g = gg.func.grad(lambda x: (x ** 3).sum())(_t([2.0], device))
    assert host(g).tolist() == [12.0]


def test_grad_has_aux_and_unused_argument(device):
    def f(x, y):
        return (x * 2).sum(), {"note": x.shape}
    g, aux = gg.func.grad(f, has_aux=True)(_t([1.0, 1.0], device), _t(0.0, device))
    assert host(g).tolist() == [2.0, 2.0] and aux == {"note": (2,)}
    unused = gg.func.grad(lambda x, y: (x * 2).sum(), argnums=1)(_t(1.0, device),
                                                                _t([1.0, 1.0], device))
    assert host(unused).tolist() == [0.0, 0.0]  # zeros, as torch.func gives


def test_grad_result_connects_to_outer_graph(device):
    """A closed-over tensor that requires grad: the gradient keeps its graph, so an outer
    backward differentiates through it (d/dw of sum(2 w x) = 2 sum x)."""
    w = _t(3.0, device, requires_grad=True)
    x = _t([1.0, 2.0], device)
    g = gg.func.grad(lambda x: (w * x * x).sum())(x)
    assert g.requires_grad
    g.sum().backward()
    assert w.grad.item() == pytest.approx(6.0)


def test_grad_errors(device):
    with pytest.raises(ValueError, match="one element"):
        gg.func.grad(lambda x: x * 2)(_t([1.0, 2.0], device))
    with pytest.raises(ValueError, match="argnums"):
        gg.func.grad(lambda x: x.sum(), argnums=1)(_t([1.0], device))
    with pytest.raises(TypeError, match="floating point"):
        gg.func.grad(lambda x: x.sum())(gg.tensor([1, 2], device=device))
    with pytest.raises(TypeError, match="Tensor"):
        gg.func.grad(lambda x: x)(2.0)


def test_vjp_tuple_outputs_and_repeated_calls(device):
    x, y = _t([1.0, 2.0], device), _t([3.0, 4.0], device)
    (p, s), vjp_fn = gg.func.vjp(lambda x, y: (x * y, x + y), x, y)
    assert host(p).tolist() == [3.0, 8.0] and host(s).tolist() == [4.0, 6.0]
    for _ in range(2):  # the graph is kept for more calls
        gx, gy = vjp_fn((_t([1.0, 1.0], device), _t([1.0, 0.0], device)))
        assert host(gx).tolist() == [4.0, 4.0] and host(gy).tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="cotangents"):
        vjp_fn(_t([1.0, 1.0], device))


def test_vjp_has_aux(device):
    out, vjp_fn, aux = gg.func.vjp(lambda x: (x.exp(), 7), _t([0.0], device), has_aux=True)
    assert aux == 7 and host(vjp_fn(_t([2.0], device))[0]).tolist() == [2.0]


def test_vjp_cotangent_that_requires_grad_builds_a_graph(device):
    """vjp_fn is linear in its cotangent: differentiating through it gives J back."""
    x = _t([1.0, 2.0], device)
    _, vjp_fn = gg.func.vjp(lambda x: x * x, x)
    u = _t([1.0, 1.0], device, requires_grad=True)
    (g,) = vjp_fn(u)
    (du,) = gg.grad(g.sum(), [u])
    assert host(du).tolist() == [2.0, 4.0]


def test_jvp_tuples_and_aux(device):
    x, y = _t([1.0, 2.0], device), _t([3.0, 4.0], device)
    tx, ty = _t([1.0, 0.0], device), _t([0.0, 1.0], device)
    (p, s), (tp, ts) = gg.func.jvp(lambda x, y: (x * y, x + y), (x, y), (tx, ty))
    assert host(tp).tolist() == [3.0, 2.0] and host(ts).tolist() == [1.0, 1.0]
    out, t, aux = gg.func.jvp(lambda x: (x * 2, "aux"), x, tx, has_aux=True)
    assert aux == "aux" and host(t).tolist() == [2.0, 0.0]


def test_jvp_output_independent_of_primals_has_zero_tangent(device):
    c = _t([5.0, 6.0], device)
    out, t = gg.func.jvp(lambda x: c * 2, (_t([1.0], device),), (_t([1.0], device),))
    assert host(out).tolist() == [10.0, 12.0] and host(t).tolist() == [0.0, 0.0]


def test_jvp_leaves_no_tangent_behind(device):
    x = _t([1.0, 2.0], device)
    out, t = gg.func.jvp(lambda x: x.sin(), (x,), (_t([1.0, 1.0], device),))
    assert x._tangent is None and out._tangent is None and t._tangent is None
    assert gg.func.forward_ad.active_levels() == ()
    assert (out * 2)._tangent is None  # no op computes tangents outside jvp


def test_jvp_checks_its_arguments(device):
    x = _t([1.0, 2.0], device)
    with pytest.raises(ValueError, match="shape"):
        gg.func.jvp(gg.sin, (x,), (_t([1.0], device),))
    with pytest.raises(TypeError, match="type"):
        gg.func.jvp(gg.sin, (x,), (gg.ones(2, device=device),))  # float32 for float64
    with pytest.raises(ValueError, match="2 primals but 1 tangents"):
        gg.func.jvp(gg.add, (x, x), (x,))
    with pytest.raises(TypeError, match="floating point"):
        gg.func.jvp(lambda i: i, (gg.tensor([1], device=device),), (gg.tensor([1]),))


def test_jvp_makes_a_single_forward_pass(device, monkeypatch):
    """f runs once, and each op's forward once: tangents ride along with the values."""
    calls = {"f": 0, "sin": 0}
    sin_forward = E.Sin.forward

    def counting_forward(ctx, xp, a):
        calls["sin"] += 1
        return sin_forward(ctx, xp, a)
    monkeypatch.setattr(E.Sin, "forward", staticmethod(counting_forward))

    def f(x):
        calls["f"] += 1
        return (x.sin() * x).sum()
    x = _t(np.linspace(0, 1, 50), device)
    gg.func.jvp(f, (x,), (gg.ones_like(x),))
    assert calls == {"f": 1, "sin": 1}


def test_jvp_of_a_function_the_tangent_graph_is_differentiable(device):
    """Reverse over forward: the tangent output is a function of the primal."""
    x = _t([0.5, 1.5], device, requires_grad=True)
    _, t = gg.func.jvp(lambda a: a.exp(), (x,), (_t([1.0, 1.0], device),))
    t.sum().backward()
    np.testing.assert_allclose(host(x.grad), np.exp([0.5, 1.5]))
