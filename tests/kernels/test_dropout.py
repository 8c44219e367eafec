"""Counter-based dropout: the kernel's mask is bit-identical to dropout_mask on the host."""
import numpy as np
import pytest

try:  # installed layout: kernels/ ships as gpugrad.kernels
    from gpugrad.kernels import dropout, reference
except ImportError:  # source tree before installation
    from kernels import dropout, reference

pytestmark = [
    pytest.mark.kernels,
    # The simulator runs the uint64 hash on NumPy scalars, which warn when they wrap.
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
]


def test_mix64_is_splitmix64():
    # Published SplitMix64 outputs for seed 1234567 (state advanced by GOLDEN per draw).
    expected = [6457827717110365317, 3203168211198807973, 9817491932198370423,
                4593380528125082431, 16408922859458223821]
    with np.errstate(over="ignore"):
        state = np.uint64(1234567) + np.arange(1, 6, dtype=np.uint64) * dropout.GOLDEN
    assert dropout.mix64(state).tolist() == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p, seed, offset", [(0.1, 0, 0), (0.5, 123, 7), (0.9, 2**63 + 5, 1000)])
def test_kernel_mask_is_bit_identical_to_host_mask(xp, host, dtype, p, seed, offset):
    x = np.random.default_rng(seed % 97).standard_normal((3, 37)).astype(dtype)
    y = host(dropout.dropout_forward(xp.asarray(x), p, seed, offset))
    mask = dropout.dropout_mask(seed, offset, x.shape, p)
    np.testing.assert_array_equal(y != 0, mask)
    np.testing.assert_array_equal(y, reference.dropout_forward(x, p, seed, offset))
    assert y.dtype == dtype and y.shape == x.shape


def test_backward_regenerates_the_forward_mask(xp, host):
    grad = np.ones(301, dtype=np.float32)
    dx = host(dropout.dropout_backward(xp.asarray(grad), 0.3, seed=9, offset=11))
    y = host(dropout.dropout_forward(xp.asarray(grad), 0.3, seed=9, offset=11))
    np.testing.assert_array_equal(dx, y)
    np.testing.assert_allclose(dx[dx != 0], 1 / 0.7, rtol=1e-7)


def test_edge_probabilities(xp, host):
    x = np.arange(1.0, 6.0)
    np.testing.assert_array_equal(host(dropout.dropout_forward(xp.asarray(x), 0.0, 1)), x)
    np.testing.assert_array_equal(host(dropout.dropout_forward(xp.asarray(x), 1.0, 1)), 0 * x)
    with pytest.raises(ValueError):
        dropout.dropout_forward(xp.asarray(x), 1.5, 1)


def test_offset_shifts_the_stream_and_seeds_differ():
    base = dropout.dropout_mask(5, 100, (1000,), 0.5)
    shifted = dropout.dropout_mask(5, 110, (990,), 0.5)
    np.testing.assert_array_equal(base[10:], shifted)
    assert (base != dropout.dropout_mask(6, 100, (1000,), 0.5)).mean() > 0.4


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_keep_rate_matches_p(p):
    mask = dropout.dropout_mask(seed=3, offset=0, shape=(200_000,), p=p)
    assert abs(mask.mean() - (1 - p)) < 4 * np.sqrt(p * (1 - p) / mask.size)
    # Neighbouring elements must be independent: the lag-1 joint keep rate factorises.
    assert abs((mask[1:] & mask[:-1]).mean() - (1 - p) ** 2) < 0.01
