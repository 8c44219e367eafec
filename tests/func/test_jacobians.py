"""``jacrev``, ``jacfwd``, ``jacobian`` and ``hessian`` against analytic answers."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.func import jacobians
from func_testing import host

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 4))


def _t(values, device):
    return gg.tensor(np.asarray(values, dtype=np.float64), device=device)


@pytest.mark.parametrize("mode", ["jacrev", "jacfwd"])
def test_jacobian_of_linear_map_is_its_matrix(mode, device):
    a = _t(A, device)
    jac = getattr(gg.func, mode)(lambda x: a @ x)(_t(np.ones(4), device))
    np.testing.assert_allclose(host(jac), A, atol=1e-12)


@pytest.mark.parametrize("mode", ["jacrev", "jacfwd"])
def test_jacobian_shapes_and_argnums(mode, device):
    """Output shape (2, 3), inputs (3,) and (2,): Jacobians (2, 3, 3) and (2, 3, 2)."""
    def f(x, y):
        return y.unsqueeze(1) * x.sin()
    x, y = _t([0.1, 0.2, 0.3], device), _t([2.0, 3.0], device)
    jx, jy = getattr(gg.func, mode)(f, argnums=(0, 1))(x, y)
    assert jx.shape == (2, 3, 3) and jy.shape == (2, 3, 2)
    expect_x = np.einsum("i,jk->ijk", [2.0, 3.0], np.diag(np.cos([0.1, 0.2, 0.3])))
    expect_y = np.zeros((2, 3, 2))
    expect_y[0, :, 0] = np.sin([0.1, 0.2, 0.3])
    expect_y[1, :, 1] = np.sin([0.1, 0.2, 0.3])
    np.testing.assert_allclose(host(jx), expect_x, atol=1e-12)
    np.testing.assert_allclose(host(jy), expect_y, atol=1e-12)
    assert getattr(gg.func, mode)(f, argnums=1)(x, y).shape == (2, 3, 2)


def test_jacfwd_and_jacrev_agree(device):
    def f(x):
        return gg.cat([(x.reshape(2, 3) @ x[:3]).tanh(), x.logsumexp(0).reshape(1)])
    x = _t(RNG.standard_normal(6), device)
    np.testing.assert_allclose(host(gg.func.jacfwd(f)(x)), host(gg.func.jacrev(f)(x)),
                               atol=1e-12)


def test_hessian_of_quadratic_form(device):
    """The Hessian of x^T B x is B + B^T."""
    b = _t(B, device)
    hess = gg.func.hessian(lambda x: x @ b @ x, _t(RNG.standard_normal(4), device))
    np.testing.assert_allclose(host(hess), B + B.T, atol=1e-12)


def test_hessian_of_nonlinear_function(device):
    """f = sum(exp(x) sin(x)) + x0 x1^2, against its Hessian worked out by hand."""
    def f(x):
        return (x.exp() * x.sin()).sum() + x[0] * x[1] ** 2
    x0 = np.array([0.3, -0.4, 0.9])
    expect = np.diag(2 * np.exp(x0) * np.cos(x0))
    expect[0, 1] = expect[1, 0] = 2 * x0[1]
    expect[1, 1] += 2 * x0[0]
    hess = gg.func.hessian(f, _t(x0, device))
    np.testing.assert_allclose(host(hess), expect, atol=1e-12)


def test_hessian_of_matrix_input_has_doubled_shape(device):
    x = _t(RNG.standard_normal((2, 2)), device)
    hess = gg.func.hessian(lambda m: (m @ m).sum(), x)
    assert hess.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(host(hess), host(gg.func.jacrev(gg.func.jacrev(
        lambda m: (m @ m).sum()))(x)), atol=1e-12)


def test_jacobian_picks_the_cheaper_mode(device, monkeypatch):
    used = []
    real_jvp, real_rows = jacobians.jvp, jacobians._rows
    monkeypatch.setattr(jacobians, "jvp", lambda *a, **k: used.append("fwd") or real_jvp(*a, **k))
    monkeypatch.setattr(jacobians, "_rows", lambda *a: used.append("rev") or real_rows(*a))
    wide = gg.func.jacobian(lambda x: (x * _t(np.arange(5.0), device)), _t([2.0], device))
    assert used == ["fwd"] and host(wide).ravel().tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    used.clear()
    tall = gg.func.jacobian(lambda x: (x * x).sum(), _t([1.0, 2.0, 3.0], device))
    assert used == ["rev"] and host(tall).tolist() == [2.0, 4.0, 6.0]
    used.clear()
    ja, jb = gg.func.jacobian(lambda a, b: a * b, (_t([1.0, 2.0], device), _t(3.0, device)))
    assert host(ja).tolist() == [[3.0, 0.0], [0.0, 3.0]] and host(jb).tolist() == [1.0, 2.0]


def test_empty_inputs_give_empty_jacobians(device):
    x = _t(np.zeros(0), device)
    assert gg.func.jacfwd(lambda x: x * 2)(x).shape == (0, 0)
    assert gg.func.jacrev(lambda x: x.sum())(x).shape == (0,)


def test_pass_counts_match_the_mode(device):
    """jacfwd makes one forward pass, batched over the input's basis (vmap); jacrev one
    pass to size the output and one forward and backward pass batched over the output's
    basis: f: R -> R^50 costs jacfwd one call of f, and g: R^50 -> R costs jacrev two."""
    calls = []
    w = _t(np.linspace(-1.0, 1.0, 50), device)

    def f(x):
        calls.append(x.shape)
        return (x * w).sin()
    x = _t([0.5], device)
    gg.func.jacfwd(f)(x)
    assert len(calls) == 1
    calls.clear()
    gg.func.jacrev(lambda y: f(y[:1]).sum())(_t(np.ones(50), device))
    assert len(calls) == 2
