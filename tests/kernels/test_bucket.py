"""Gradient bucket pack/unpack against the reference."""
import numpy as np
import pytest

try:  # installed layout: kernels/ ships as gpugrad.kernels
    from gpugrad.kernels import bucket, reference
except ImportError:  # source tree before installation
    from kernels import bucket, reference

pytestmark = pytest.mark.kernels

SHAPES = [(1,), (31, 1), (3, 11), (257,), ()]


def _arrays(dtype):
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pack_then_unpack_round_trips_with_scales(xp, host, dtype):
    arrays = [xp.asarray(a) for a in _arrays(dtype)]
    flat = bucket.pack_bucket(arrays, scale=0.25)
    want = reference.pack_bucket(_arrays(dtype), scale=0.25)
    assert flat.dtype == dtype and flat.shape == want.shape
    np.testing.assert_allclose(host(flat), want, rtol=1e-7)
    outs = [xp.empty_like(a) for a in arrays]
    assert bucket.unpack_bucket(flat, outs, scale=4.0) is outs
    for out, original in zip(outs, _arrays(dtype)):
        np.testing.assert_allclose(host(out), original, rtol=1e-6)


def test_pack_into_given_buffer_and_unpack_matches_reference(xp, host):
    arrays = [xp.asarray(a) for a in _arrays(np.float64)]
    out = xp.zeros(sum(a.size for a in arrays))
    assert bucket.pack_bucket(arrays, out=out) is out
    want = reference.unpack_bucket(np.arange(out.size, dtype=np.float64),
                                   [np.empty(s) for s in SHAPES], scale=-1.0)
    got = bucket.unpack_bucket(xp.arange(out.size, dtype=xp.float64),
                               [xp.empty(s) for s in SHAPES], scale=-1.0)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(host(g), w)


def test_size_mismatches_and_strided_targets_are_rejected():
    with pytest.raises(ValueError):
        bucket.pack_bucket([np.ones(3)], out=np.zeros(4))
    with pytest.raises(ValueError):
        bucket.unpack_bucket(np.zeros(4), [np.ones(3)])
    with pytest.raises(ValueError):
        bucket.unpack_bucket(np.zeros(3), [np.ones(6)[::2]])
