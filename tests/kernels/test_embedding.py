"""Embedding backward (dense, row-sparse, CPU twin) against np.add.at."""
import numpy as np
import pytest

try:  # installed layout: kernels/ ships as gpugrad.kernels
    from gpugrad.kernels import cpu, embedding, reference
except ImportError:  # source tree before installation
    from kernels import cpu, embedding, reference

pytestmark = pytest.mark.kernels

VOCAB = 11


def _problem(dim, dtype, shape=(4, 9), seed=0):
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, VOCAB, shape)
    indices.flat[:5] = 3  # repeated indices must accumulate, not overwrite
    grad = rng.standard_normal(shape + (dim,)).astype(dtype)
    return grad, indices


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [1, 33])
@pytest.mark.parametrize("padding_idx", [None, 3])
def test_dense_matches_add_at(xp, host, dtype, dim, padding_idx):
    grad, indices = _problem(dim, dtype, seed=dim)
    got = embedding.embedding_backward(xp.asarray(grad), xp.asarray(indices), VOCAB,
                                       padding_idx)
    want = reference.embedding_backward(grad.astype(np.float64), indices, VOCAB, padding_idx)
    assert got.shape == (VOCAB, dim) and got.dtype == dtype
    np.testing.assert_allclose(host(got), want, rtol=1e-5, atol=1e-5)
    if padding_idx is not None:
        assert not host(got)[padding_idx].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 3])
def test_sparse_matches_reference(xp, host, dtype, padding_idx):
    grad, indices = _problem(5, dtype, shape=(31,))
    rows, values = embedding.embedding_backward_sparse(xp.asarray(grad), xp.asarray(indices),
                                                       padding_idx)
    want_rows, want_values = reference.embedding_backward_sparse(grad, indices, padding_idx)
    np.testing.assert_array_equal(host(rows), want_rows)
    np.testing.assert_allclose(host(values), want_values, rtol=1e-5, atol=1e-5)
    dense = reference.embedding_backward(grad, indices, VOCAB, padding_idx)
    np.testing.assert_allclose(dense[host(rows)], host(values), rtol=1e-5, atol=1e-5)


def test_out_of_range_indices_are_never_written(host):
    got = embedding.embedding_backward(np.ones((3, 2)), np.array([-1, VOCAB, 0]), VOCAB)
    np.testing.assert_array_equal(host(got).sum(axis=1), [2] + [0] * (VOCAB - 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_cpu_twin_matches_add_at(dtype, padding_idx):
    grad, indices = _problem(16, dtype, shape=(64, 3))
    got = cpu.embedding_backward(grad, indices, VOCAB, padding_idx)
    want = reference.embedding_backward(grad, indices, VOCAB, padding_idx)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    with pytest.raises(IndexError):
        cpu.embedding_backward(grad, indices + VOCAB, VOCAB)
