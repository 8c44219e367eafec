"""Row softmax / log-softmax kernels against the NumPy reference."""
import numpy as np
import pytest

try:  # installed layout: kernels/ ships as gpugrad.kernels
    from gpugrad.kernels import reference, softmax
except ImportError:  # source tree before installation
    from kernels import reference, softmax

pytestmark = pytest.mark.kernels

TOL = {np.float32: 2e-5, np.float64: 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_cols", [1, 31, 33, 257])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_matches_reference(xp, host, dtype, n_cols, log):
    rng = np.random.default_rng(n_cols)
    x = (rng.standard_normal((3, n_cols)) * 4).astype(dtype)
    g = rng.standard_normal((3, n_cols)).astype(dtype)
    y = softmax.softmax_forward(xp.asarray(x), log=log)
    dx = softmax.softmax_backward(xp.asarray(g), y, log=log)
    expected = reference.softmax(x.astype(np.float64), log=log)
    expected_dx = reference.softmax_backward(g.astype(np.float64), host(y).astype(np.float64),
                                             log=log)
    assert y.dtype == dtype and dx.dtype == dtype
    np.testing.assert_allclose(host(y), expected, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(host(dx), expected_dx, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_extreme_and_masked_logits(xp, host, dtype):
    x = np.array([[1e4, -1e4, 0.0, 1e4],
                  [-np.inf, 0.0, -np.inf, 0.0],
                  [-1e4, -1e4, -1e4, -1e4]], dtype=dtype)
    y = host(softmax.softmax_forward(xp.asarray(x)))
    logy = host(softmax.softmax_forward(xp.asarray(x), log=True))
    np.testing.assert_allclose(y, [[0.5, 0, 0, 0.5], [0, 0.5, 0, 0.5], [0.25] * 4], atol=1e-7)
    assert np.isfinite(logy[0]).sum() == 4 and logy[1, 0] == -np.inf
    np.testing.assert_allclose(logy[2], np.log(0.25), rtol=1e-6)


def test_softmax_rejects_non_2d():
    with pytest.raises(ValueError):
        softmax.softmax_forward(np.zeros(3))
