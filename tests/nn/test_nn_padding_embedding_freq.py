"""Padding layers (reflection, replication, constant, zero, circular; 1-3 dims), conv
``padding_mode`` and ``Embedding(scale_grad_by_freq=True)``, against PyTorch in float64."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from nn_testing import host, t64, torch, torch_of

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

# (class name, padding, input shape)
PAD_CASES = [
    ("ReflectionPad1d", (2, 1), (2, 3, 5)), ("ReflectionPad1d", 2, (3, 5)),
    ("ReflectionPad2d", (1, 2, 2, 0), (2, 2, 4, 5)), ("ReflectionPad2d", 1, (2, 3, 3)),
    ("ReflectionPad3d", (1, 0, 2, 1, 0, 1), (1, 2, 3, 4, 3)), ("ReflectionPad3d", 1, (2, 3, 3, 3)),
    ("ReplicationPad1d", (3, 1), (2, 3, 2)), ("ReplicationPad2d", (1, 2, 0, 3), (1, 2, 3, 2)),
    ("ReplicationPad3d", 2, (1, 1, 2, 3, 2)),
    ("ReplicationPad3d", (0, 1, 1, 0, 2, 0), (2, 3, 2, 2)),
    ("CircularPad1d", (2, 1), (2, 3, 4)), ("CircularPad2d", (1, 1, 2, 0), (1, 2, 3, 3)),
    ("CircularPad3d", 1, (1, 1, 2, 3, 2)), ("ZeroPad1d", (2, 0), (2, 3)),
    ("ZeroPad2d", (1, 0, 0, 2), (1, 1, 2, 2)), ("ZeroPad3d", (1, 2, 0, 1, 1, 0), (1, 2, 2, 2, 2)),
    ("ZeroPad2d", (-1, 1, 0, -1), (1, 1, 3, 3)),
]
CONST_CASES = [("ConstantPad1d", (1, 2), (2, 3)), ("ConstantPad2d", 1, (1, 2, 2, 3)),
               ("ConstantPad3d", (1, 0, 0, 2, 1, 1), (1, 2, 2, 2))]


def _compare_pad(layer, torch_layer, shape, device, rng):
    x = rng.standard_normal(shape)
    xt = torch_of(x, requires_grad=True)
    want = torch_layer(xt)
    g_np = rng.standard_normal(tuple(want.shape))
    want.backward(torch.tensor(g_np))
    xg = t64(x, device)
    got = layer(xg)
    got.backward(gg.tensor(g_np, device=device))
    np.testing.assert_allclose(host(got), want.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(xg.grad), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert repr(layer) == repr(torch_layer)


@needs_torch
@pytest.mark.parametrize("name,padding,shape", PAD_CASES)
def test_padding_layers_match_torch(name, padding, shape, device, rng):
    _compare_pad(getattr(nn, name)(padding), getattr(torch.nn, name)(padding), shape, device,
                 rng)


@needs_torch
@pytest.mark.parametrize("name,padding,shape", CONST_CASES)
def test_constant_padding_layers_match_torch(name, padding, shape, device, rng):
    _compare_pad(getattr(nn, name)(padding, 2.5), getattr(torch.nn, name)(padding, 2.5),
                 shape, device, rng)


def test_padding_layer_gradcheck(device, rng):
    x = t64(rng.standard_normal((1, 2, 3, 3, 4)), device)
    for layer in (nn.ReflectionPad3d(1), nn.ReplicationPad3d((1, 2, 0, 1, 1, 0)),
                  nn.CircularPad3d((1, 1, 2, 0, 0, 1))):
        assert gg.gradcheck(layer, (x,))


def test_padding_layer_bad_arguments():
    with pytest.raises(ValueError, match="ReflectionPad2d: padding must be an int or 4"):
        nn.ReflectionPad2d((1, 2))
    with pytest.raises(ValueError, match="too large"):
        nn.ReflectionPad1d(3)(gg.ones(1, 1, 3))
    assert isinstance(nn.ZeroPad2d(1), nn.ConstantPad2d)


CONV_CASES = [  # (dims, padding, padding_mode, dilation)
    (1, 2, "reflect", 1), (1, 1, "replicate", 2), (1, 3, "circular", 1), (1, "same", "circular", 2),
    (2, (1, 2), "reflect", 1), (2, 1, "replicate", (2, 1)), (2, (2, 1), "circular", 1),
    (2, "same", "reflect", 1), (2, "same", "replicate", (1, 2)), (2, "valid", "circular", 1),
    (2, 1, "zeros", 1),
]


@needs_torch
@pytest.mark.parametrize("dims,padding,mode,dilation", CONV_CASES)
def test_conv_padding_mode_matches_torch(dims, padding, mode, dilation, device, rng):
    kernel = 4 if padding == "same" else 3
    cls, tcls = (nn.Conv1d, torch.nn.Conv1d) if dims == 1 else (nn.Conv2d, torch.nn.Conv2d)
    ours = cls(2, 3, kernel, padding=padding, padding_mode=mode, dilation=dilation,
               dtype=gg.float64, device=device)
    ref = tcls(2, 3, kernel, padding=padding, padding_mode=mode, dilation=dilation,
               dtype=torch.float64)
    ref.load_state_dict({k: torch.tensor(host(v)) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((2, 2) + (7,) * dims)
    xg, xt = t64(x, device), torch_of(x, requires_grad=True)
    got, want = ours(xg), ref(xt)
    g = rng.standard_normal(tuple(want.shape))
    got.backward(gg.tensor(g, device=device))
    want.backward(torch.tensor(g))
    np.testing.assert_allclose(host(got), want.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(xg.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(ours.weight.grad), ref.weight.grad.numpy(), rtol=1e-10,
                               atol=1e-12)
    assert repr(ours) == repr(ref)


def test_conv_padding_mode_errors():
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(1, 1, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="strided"):
        nn.Conv1d(1, 1, 3, stride=2, padding="same", padding_mode="circular")
    with pytest.raises(ValueError, match="Invalid padding string"):
        nn.Conv2d(1, 1, 3, padding="full")


INDEX = [[1, 3, 1], [0, 3, 3], [2, 1, 3]]


@needs_torch
@pytest.mark.parametrize("padding_idx", [None, 3, 1])
def test_embedding_scale_grad_by_freq_matches_torch(padding_idx, device, rng):
    import torch.nn.functional as tf
    w = rng.standard_normal((5, 4))
    g = rng.standard_normal((3, 3, 4))
    weight = t64(w, device)
    out = F.embedding(gg.tensor(INDEX, device=device), weight, padding_idx,
                      scale_grad_by_freq=True)
    out.backward(gg.tensor(g, device=device))
    wt = torch_of(w, requires_grad=True)
    tf.embedding(torch.tensor(INDEX), wt, padding_idx, scale_grad_by_freq=True).backward(
        torch.tensor(g))
    np.testing.assert_allclose(host(weight.grad), wt.grad.numpy(), rtol=1e-12)


@needs_torch
def test_embedding_module_scale_grad_by_freq_matches_torch(device, rng):
    ours = nn.Embedding(6, 3, padding_idx=0, scale_grad_by_freq=True, dtype=gg.float64,
                        device=device)
    ref = torch.nn.Embedding(6, 3, padding_idx=0, scale_grad_by_freq=True,
                             dtype=torch.float64)
    ref.weight.data = torch.tensor(host(ours.weight))
    index = [[0, 5, 5, 5], [2, 0, 5, 2]]
    (ours(gg.tensor(index, device=device)) ** 2).sum().backward()
    (ref(torch.tensor(index)) ** 2).sum().backward()
    np.testing.assert_allclose(host(ours.weight.grad), ref.weight.grad.numpy(), rtol=1e-12)
    assert repr(ours) == repr(ref)


def test_embedding_scale_grad_by_freq_graph_path_and_sparse(device, rng):
    # Not the true derivative (so no gradcheck): the gradient built as a graph
    # (create_graph=True) must equal the compiled scatter's, and be differentiable.
    idx = gg.tensor(INDEX, device=device)
    w = t64(rng.standard_normal((5, 2)), device)
    loss = (F.embedding(idx, w, padding_idx=1, scale_grad_by_freq=True) ** 2).sum()
    (fast,) = gg.grad(loss, [w], retain_graph=True)
    (graph,) = gg.grad(loss, [w], create_graph=True)
    np.testing.assert_allclose(host(graph), host(fast), rtol=1e-14)
    (second,) = gg.grad(graph.sum(), [w])
    # graph.sum() = sum over positions of 2 * row / count; its gradient goes through the
    # scaled embedding backward again: count * 2 / count**2 per used row.
    counts = np.bincount(np.ravel(INDEX), minlength=5)[:, None]
    want = np.where(np.arange(5)[:, None] == 1, 0.0, 2.0 * counts / np.maximum(counts, 1) ** 2)
    np.testing.assert_allclose(host(second), np.broadcast_to(want, (5, 2)), rtol=1e-14)
    # PyTorch: "scale_grad_by_freq not supported with sparse gradients"
    with pytest.raises(RuntimeError, match="sparse"):
        F.embedding(idx, w, scale_grad_by_freq=True, sparse=True)
