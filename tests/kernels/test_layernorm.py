"""LayerNorm kernels against the reference; the reference against torch."""
import numpy as np
import pytest

try:  # installed layout: kernels/ ships as gpugrad.kernels
    from gpugrad.kernels import layernorm, reference
except ImportError:  # source tree before installation
    from kernels import layernorm, reference

pytestmark = pytest.mark.kernels

TOL = {np.float32: 5e-5, np.float64: 1e-11}


def _problem(n_rows, n_cols, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n_rows, n_cols)) * 2 + 5).astype(dtype)
    gamma = rng.standard_normal(n_cols).astype(dtype)
    beta = rng.standard_normal(n_cols).astype(dtype)
    grad = rng.standard_normal((n_rows, n_cols)).astype(dtype)
    return x, gamma, beta, grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# 35 rows span two partial-sum chunks of the dgamma/dbeta reduction, the second one short.
@pytest.mark.parametrize("n_rows, n_cols", [(5, 1), (5, 31), (35, 33), (3, 257)])
def test_kernel_matches_reference(xp, host, dtype, n_rows, n_cols):
    x, gamma, beta, grad = _problem(n_rows, n_cols, dtype, seed=n_cols)
    y, mean, rstd = layernorm.layer_norm_forward(xp.asarray(x), xp.asarray(gamma),
                                                 xp.asarray(beta), eps=1e-5)
    dx, dgamma, dbeta = layernorm.layer_norm_backward(xp.asarray(grad), xp.asarray(x),
                                                      xp.asarray(gamma), mean, rstd)
    x64, g64, gamma64 = (a.astype(np.float64) for a in (x, grad, gamma))
    want_y, want_mean, want_rstd = reference.layer_norm_forward(x64, gamma64, beta, 1e-5)
    want = reference.layer_norm_backward(g64, x64, gamma64, want_mean, want_rstd)
    tol = TOL[dtype]
    for got, expected in zip((y, mean, rstd, dx, dgamma, dbeta),
                             (want_y, want_mean, want_rstd) + want):
        assert got.dtype == dtype
        np.testing.assert_allclose(host(got), expected, rtol=tol, atol=tol * n_rows)


def test_defaults_to_unit_gamma_zero_beta(xp, host):
    x, _, _, grad = _problem(4, 9, np.float64)
    y, mean, rstd = layernorm.layer_norm_forward(xp.asarray(x))
    dx, dgamma, dbeta = layernorm.layer_norm_backward(xp.asarray(grad), xp.asarray(x), None,
                                                      mean, rstd)
    ones, zeros = np.ones(9), np.zeros(9)
    np.testing.assert_allclose(host(y), reference.layer_norm_forward(x, ones, zeros)[0],
                               atol=1e-12)
    want_dx = reference.layer_norm_backward(grad, x, ones, host(mean), host(rstd))[0]
    np.testing.assert_allclose(host(dx), want_dx, atol=1e-12)


def test_reference_matches_torch():
    torch = pytest.importorskip("torch")
    x, gamma, beta, grad = _problem(6, 10, np.float64)
    y, mean, rstd = reference.layer_norm_forward(x, gamma, beta, 1e-5)
    dx, dgamma, dbeta = reference.layer_norm_backward(grad, x, gamma, mean, rstd)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    ty = torch.nn.functional.layer_norm(tx, (10,), tg, tb, eps=1e-5)
    ty.backward(torch.tensor(grad))
    for ours, theirs in ((y, ty), (dx, tx.grad), (dgamma, tg.grad), (dbeta, tb.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
