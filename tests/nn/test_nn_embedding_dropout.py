"""Embedding (dense and row-sparse gradients, padding_idx) and dropout (masks, modes)."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.nn.functional.embedding import Embedding as EmbeddingOp
from gpugrad.sparse import RowSparseGrad
from nn_testing import check_jvp, host, t64, torch, torch_of

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

INDEX = [[1, 3, 1], [0, 3, 3]]  # repeated indices must accumulate


@needs_torch
@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_forward_and_dense_grad_match_torch(padding_idx, device, rng):
    import torch.nn.functional as tf
    w = rng.standard_normal((5, 4))
    g = rng.standard_normal((2, 3, 4))
    weight = t64(w, device)
    F.embedding(gg.tensor(INDEX, device=device), weight, padding_idx).backward(
        gg.tensor(g, device=device))
    wt = torch_of(w, requires_grad=True)
    out = tf.embedding(torch.tensor(INDEX), wt, padding_idx)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(host(weight.grad), wt.grad.numpy(), rtol=1e-12)
    if padding_idx is not None:
        assert not host(weight.grad)[padding_idx].any()


def test_embedding_gradcheck_and_jvp(device, rng):
    idx = gg.tensor(INDEX, device=device)
    assert gg.gradcheck(lambda w: F.embedding(idx, w), [t64(rng.standard_normal((5, 2)),
                                                            device)])
    w = t64(rng.standard_normal((5, 2)))
    check_jvp(EmbeddingOp, [w], [t64(rng.standard_normal((5, 2)), requires_grad=False)],
              index=np.array(INDEX), padding_idx=None, sparse=False, leaf=None)


@pytest.mark.parametrize("padding_idx", [None, 3])
def test_sparse_embedding_grad_is_row_sparse_and_equals_dense(padding_idx, device, rng):
    w = rng.standard_normal((6, 3)).astype(np.float32)
    dense = nn.Embedding.from_pretrained(gg.tensor(w, device=device), freeze=False,
                                         padding_idx=padding_idx)
    sparse = nn.Embedding.from_pretrained(gg.tensor(w, device=device), freeze=False,
                                          padding_idx=padding_idx, sparse=True)
    for _ in range(2):  # a second backward accumulates onto the row-sparse grad
        idx = gg.tensor(INDEX, device=device)
        (dense(idx) ** 2).sum().backward()
        (sparse(idx) ** 2).sum().backward()
    grad = sparse.weight.grad
    assert isinstance(grad, RowSparseGrad)
    used = set(np.asarray(INDEX).ravel().tolist()) - {padding_idx}
    assert set(host(gg.tensor(grad.coalesce().indices)).tolist()) == used
    np.testing.assert_allclose(host(grad.to_dense()), host(dense.weight.grad), rtol=1e-6)


def test_sparse_embedding_trains_with_sparse_adam(device):
    emb = nn.Embedding(10, 2, sparse=True).to(device)
    before = host(emb.weight).copy()
    opt = gg.optim.SparseAdam(emb.parameters(), lr=0.1)
    emb(gg.tensor([2, 5], device=device)).sum().backward()
    opt.step()
    changed = np.nonzero((host(emb.weight) != before).any(axis=1))[0].tolist()
    assert changed == [2, 5]


def test_embedding_module_init_padding_and_repr(device):
    emb = nn.Embedding(1000, 16, padding_idx=-1).to(device)
    assert emb.padding_idx == 999 and not host(emb.weight)[999].any()
    w = host(emb.weight)[:999]
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02  # N(0, 1), as in PyTorch
    assert repr(emb) == "Embedding(1000, 16, padding_idx=999)"
    frozen = nn.Embedding.from_pretrained(gg.eye(3, device=device))
    assert not frozen.weight.requires_grad and frozen(gg.tensor([2], device=device)).shape == (
        1, 3)


def test_embedding_errors(device):
    w = gg.ones(4, 2, device=device)
    # GPU index checks are deferred to the next synchronisation unless debugging (see
    # tests/cuda_sim/test_deferred_checks.py); debug mode names the value as the CPU does.
    with gg.cuda.debug():
        with pytest.raises(IndexError, match="index 4 is out of range for 4 embeddings"):
            F.embedding(gg.tensor([0, 4], device=device), w)
        with pytest.raises(IndexError, match="index -1"):
            F.embedding(gg.tensor([-1], device=device), w)
    with pytest.raises(TypeError, match="integers"):
        F.embedding(gg.tensor([0.0], device=device), w)
    with pytest.raises(ValueError, match="padding_idx 4"):
        nn.Embedding(4, 2, padding_idx=4)


def test_dropout_statistics_scaling_and_gradient_reuse_mask(device):
    x = gg.ones(20000, device=device, requires_grad=True)
    out = F.dropout(x, p=0.3)
    kept = host(out) != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(host(out)[kept], 1 / 0.7, rtol=1e-6)
    out.backward(gg.ones(20000, device=device))
    np.testing.assert_array_equal(host(x.grad) != 0, kept)  # backward reuses the mask

    def fixed_mask_dropout(t):
        gg.manual_seed(5)  # the same mask on every call, as finite differences need
        return F.dropout(t, 0.5)
    assert gg.gradcheck(fixed_mask_dropout, [t64(np.ones(8), device)])


def test_dropout_reproducible_under_manual_seed(device):
    gg.manual_seed(123)
    a = host(F.dropout(gg.ones(64, device=device), 0.5))
    b = host(F.dropout(gg.ones(64, device=device), 0.5))
    gg.manual_seed(123)
    assert (host(F.dropout(gg.ones(64, device=device), 0.5)) == a).all()
    assert not (a == b).all()  # successive calls draw fresh masks


def test_dropout_extremes_modes_and_errors(device):
    x = gg.ones(3, 4, device=device)
    assert F.dropout(x, 0.0) is x and F.dropout(x, 0.9, training=False) is x
    assert not host(F.dropout(x, 1.0)).any()
    drop = nn.Dropout(0.5).to(device)
    assert drop.eval()(x) is x and repr(drop) == "Dropout(p=0.5, inplace=False)"
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(-0.1)
