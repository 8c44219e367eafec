"""Fused softmax cross-entropy: the kernel against the reference, the reference vs torch."""
import numpy as np
import pytest

try:  # installed layout: kernels/ ships as gpugrad.kernels
    from gpugrad.kernels import reference, xent
except ImportError:  # source tree before installation
    from kernels import reference, xent

pytestmark = pytest.mark.kernels

TOL = {np.float32: 3e-5, np.float64: 1e-12}
IGNORE = -100


def _problem(n_rows, n_cols, dtype, scale=3.0, seed=0):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((n_rows, n_cols)) * scale).astype(dtype)
    targets = rng.integers(0, n_cols, n_rows)
    targets[1::3] = IGNORE  # every third row from the second is ignored
    grad = rng.standard_normal(n_rows).astype(dtype)
    return logits, targets, grad


def _expected(logits, targets, grad, smoothing):
    loss, lse = reference.softmax_xent_forward(logits.astype(np.float64), targets, IGNORE,
                                               smoothing)
    dx = reference.softmax_xent_backward(grad.astype(np.float64), logits.astype(np.float64),
                                         targets, lse, IGNORE, smoothing)
    return loss, lse, dx


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_cols", [1, 31, 33, 257])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_kernel_matches_reference(xp, host, dtype, n_cols, smoothing):
    logits, targets, grad = _problem(5, n_cols, dtype, seed=n_cols)
    loss, lse = xent.softmax_xent_forward(xp.asarray(logits), xp.asarray(targets), IGNORE,
                                          smoothing)
    dx = xent.softmax_xent_backward(xp.asarray(grad), xp.asarray(logits), xp.asarray(targets),
                                    lse, IGNORE, smoothing)
    want_loss, want_lse, want_dx = _expected(logits, targets, grad, smoothing)
    tol = TOL[dtype]
    np.testing.assert_allclose(host(loss), want_loss, rtol=tol, atol=tol)
    np.testing.assert_allclose(host(lse), want_lse, rtol=tol, atol=tol)
    np.testing.assert_allclose(host(dx), want_dx, rtol=tol, atol=tol)
    assert np.all(host(loss)[1::3] == 0) and np.all(host(dx)[1::3] == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_stay_finite(xp, host, dtype):
    logits, targets, grad = _problem(4, 33, dtype, seed=1)
    logits = np.where(logits > 0, 1e4, -1e4).astype(dtype)
    loss, lse = xent.softmax_xent_forward(xp.asarray(logits), xp.asarray(targets), IGNORE, 0.1)
    dx = xent.softmax_xent_backward(xp.asarray(grad), xp.asarray(logits), xp.asarray(targets),
                                    lse, IGNORE, 0.1)
    assert np.isfinite(host(loss)).all() and np.isfinite(host(dx)).all()
    want_loss, _, want_dx = _expected(logits, targets, grad, 0.1)
    # float32 rounds lse ~ 1e4 to 1e-3 absolute; that bounds what any float32 path can do.
    np.testing.assert_allclose(host(loss), want_loss, rtol=1e-6)
    np.testing.assert_allclose(host(dx), want_dx, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_masked_logits(xp, host, smoothing):
    logits = np.array([[-np.inf, 0.0, 1.0, -np.inf], [2.0, -np.inf, 0.5, 0.0]])
    targets = np.array([1, 3])
    loss, lse = xent.softmax_xent_forward(xp.asarray(logits), xp.asarray(targets),
                                          label_smoothing=smoothing)
    dx = xent.softmax_xent_backward(xp.asarray(np.ones(2)), xp.asarray(logits),
                                    xp.asarray(targets), lse, label_smoothing=smoothing)
    want_loss, want_lse, want_dx = _expected(logits, targets, np.ones(2), smoothing)
    # Smoothing spreads mass onto masked classes: PyTorch's loss is inf there too.
    np.testing.assert_allclose(host(loss), want_loss, rtol=1e-12)
    np.testing.assert_allclose(host(dx), want_dx, rtol=1e-12, atol=1e-15)
    assert np.isfinite(host(loss)).all() == (smoothing == 0)


def test_out_of_range_target_gives_nan_not_a_wild_read():
    loss, _ = xent.softmax_xent_forward(np.zeros((2, 3)), np.array([3, 0]))
    assert np.isnan(loss[0]) and loss[1] > 0


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_reference_matches_torch(smoothing):
    torch = pytest.importorskip("torch")
    logits, targets, grad = _problem(9, 7, np.float64)
    loss, lse = reference.softmax_xent_forward(logits, targets, IGNORE, smoothing)
    dx = reference.softmax_xent_backward(grad, logits, targets, lse, IGNORE, smoothing)
    t_logits = torch.tensor(logits, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.tensor(targets), reduction="none",
                                               ignore_index=IGNORE, label_smoothing=smoothing)
    t_loss.backward(torch.tensor(grad))
    np.testing.assert_allclose(loss, t_loss.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, t_logits.grad.numpy(), rtol=1e-12, atol=1e-12)
