"""Every core op's forward-mode rule: against central differences, and against its own
backward (u . J t == J^T u . t), on every device, in float64."""
import numpy as np
import pytest

import gpugrad as gg
from func_testing import CASE_IDS, case_inputs, host, numeric_jvp, random_like


@pytest.mark.parametrize("name", CASE_IDS)
def test_jvp_matches_finite_differences(name, device):
    fn, inputs = case_inputs(name, device)
    rng = np.random.default_rng(1)
    tangents = [random_like(rng, x) for x in inputs]
    out, tangent_out = gg.func.jvp(fn, inputs, tangents)
    np.testing.assert_allclose(host(out), host(fn(*inputs)), rtol=1e-12)
    assert tangent_out.shape == out.shape and tangent_out.dtype == out.dtype
    np.testing.assert_allclose(host(tangent_out), numeric_jvp(fn, inputs, tangents),
                               atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", CASE_IDS)
def test_jvp_agrees_with_vjp(name, device):
    fn, inputs = case_inputs(name, device)
    rng = np.random.default_rng(2)
    tangents = [random_like(rng, x) for x in inputs]
    out, jt = gg.func.jvp(fn, inputs, tangents)
    u = random_like(rng, out)
    _, vjp_fn = gg.func.vjp(fn, *inputs)
    jtu = vjp_fn(u)
    lhs = float((host(u) * host(jt)).sum())
    rhs = sum(float((host(g) * host(t)).sum()) for g, t in zip(jtu, tangents))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("name", ["mul_0d", "matmul_batch_bcast", "cat", "where"])
def test_jvp_with_some_tangents_zero(name, device):
    """A primal held fixed (tangent zero) gives the partial derivative in the others."""
    fn, inputs = case_inputs(name, device)
    rng = np.random.default_rng(3)
    t0 = random_like(rng, inputs[0])
    zero = gg.zeros_like(inputs[1])
    _, partial = gg.func.jvp(fn, inputs, [t0, zero])
    _, closed = gg.func.jvp(lambda a: fn(a, inputs[1]), (inputs[0],), (t0,))
    np.testing.assert_allclose(host(partial), host(closed), atol=1e-12)
    np.testing.assert_allclose(host(closed), numeric_jvp(fn, inputs, [t0, zero]),
                               atol=1e-6, rtol=1e-5)


def _t(values, device):
    return gg.tensor(np.asarray(values, dtype=np.float64), device=device)


def test_kinks_pick_the_backward_subgradients(device):
    """At non-differentiable points forward mode uses the subgradients backward uses."""
    x = _t([-1.0, 0.0, 2.0], device)
    t = _t([1.0, 1.0, 1.0], device)
    assert host(gg.func.jvp(gg.relu, (x,), (t,))[1]).tolist() == [0.0, 0.0, 1.0]
    assert host(gg.func.jvp(gg.abs, (x,), (t,))[1]).tolist() == [-1.0, 0.0, 1.0]
    clamp = lambda a: a.clamp(0.0, 2.0)  # noqa: E731  0 at the bounds, as in PyTorch 2.14
    assert host(gg.func.jvp(clamp, (x,), (t,))[1]).tolist() == [0.0, 0.0, 0.0]
    ties = _t([3.0, 1.0, 3.0], device)
    spread = _t([1.0, 5.0, 2.0], device)
    assert gg.func.jvp(gg.amax, (ties,), (spread,))[1].item() == 1.5  # ties share evenly
    first = lambda a: a.max(0).values  # noqa: E731  along a dim: the returned index wins
    assert gg.func.jvp(first, (ties,), (spread,))[1].item() == 1.0
    a, b = _t([1.0, 2.0], device), _t([1.0, 0.0], device)
    ta, tb = _t([4.0, 4.0], device), _t([2.0, 2.0], device)
    assert host(gg.func.jvp(gg.maximum, (a, b), (ta, tb))[1]).tolist() == [3.0, 4.0]


def test_cast_carries_the_tangent_to_the_new_type(device):
    x = _t([1.0, 2.0], device)
    out, t = gg.func.jvp(lambda a: a.float() * 2, (x,), (_t([1.0, -1.0], device),))
    assert out.dtype == np.float32 and t.dtype == np.float32
    assert host(t).tolist() == [2.0, -2.0]
    _, t_int = gg.func.jvp(lambda a: a.long(), (x,), (_t([1.0, 1.0], device),))
    assert t_int.dtype == np.int64 and host(t_int).tolist() == [0, 0]  # no tangent: zeros
