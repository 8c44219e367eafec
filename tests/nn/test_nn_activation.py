"""Activations: forward against PyTorch, gradients, stability, jvp rules."""
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.nn.functional.activation import LogSoftmax, NormalCdf, Softmax
from nn_testing import check_jvp, host, t64, torch, torch_of

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

ACTIVATIONS = [
    ("relu", lambda x: F.relu(x), "relu"),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda tf, x: tf.leaky_relu(x, 0.2)),
    ("gelu", lambda x: F.gelu(x), "gelu"),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda tf, x: tf.gelu(x, approximate="tanh")),
    ("tanh", F.tanh, "tanh"),
    ("sigmoid", F.sigmoid, "sigmoid"),
    ("softmax0", lambda x: F.softmax(x, dim=0), lambda tf, x: tf.softmax(x, dim=0)),
    ("softmax1", lambda x: F.softmax(x, dim=-1), lambda tf, x: tf.softmax(x, dim=-1)),
    ("log_softmax", lambda x: F.log_softmax(x, dim=1), lambda tf, x: tf.log_softmax(x, dim=1)),
]


def _torch_fn(ref):
    import torch.nn.functional as tf
    if isinstance(ref, str):
        return lambda x: getattr(tf, ref)(x)
    return lambda x: ref(tf, x)


@needs_torch
@pytest.mark.parametrize("name,fn,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_forward_and_grad_match_torch(name, fn, ref, device, rng):
    x = rng.standard_normal((3, 5)) * 3
    ours = fn(t64(x, device))
    theirs = _torch_fn(ref)(torch_of(x, requires_grad=True))
    np.testing.assert_allclose(host(ours), theirs.detach().numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name,fn,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_gradcheck(name, fn, ref, device, rng):
    x = rng.standard_normal((3, 4)) * 2
    x[np.abs(x) < 0.05] = 0.3  # keep finite differences off relu's kink
    assert gg.gradcheck(fn, [t64(x, device)])


@pytest.mark.parametrize("fn", [lambda x: F.softmax(x, dim=1), lambda x: F.log_softmax(x, 1),
                                F.gelu])
def test_second_order_gradcheck(fn, device, rng):
    x = t64(rng.standard_normal((2, 3)), device)
    w = t64(rng.standard_normal((2, 3)), device, requires_grad=False)
    assert gg.gradcheck(lambda t: gg.grad((fn(t) * w).sum(), t, create_graph=True)[0], [x])


def test_relu_and_leaky_relu_subgradient_at_zero(device):
    x = gg.tensor([0.0, 0.0], device=device, requires_grad=True)
    F.relu(x).sum().backward()
    assert host(x.grad).tolist() == [0.0, 0.0]
    x.grad = None
    F.leaky_relu(x, 0.1).sum().backward()
    np.testing.assert_allclose(host(x.grad), [0.1, 0.1])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_softmax_stability(dtype, device):
    big = F.softmax(gg.tensor([1000.0, 1000.0], dtype=dtype, device=device), dim=0)
    assert host(big).tolist() == [0.5, 0.5]
    small = host(F.softmax(gg.tensor([-1000.0, -10.0, -8.0], dtype=dtype, device=device), 0))
    assert np.isfinite(small).all() and abs(small.sum() - 1) < 1e-3
    logp = host(F.log_softmax(gg.tensor([-1000.0, 0.0], dtype=dtype, device=device), 0))
    assert np.isfinite(logp).all() and logp[0] == -1000.0


def test_log_softmax_gradient_finite_at_extremes(device):
    x = gg.tensor([[-1e4, 0.0, 1e4]], device=device, requires_grad=True)
    F.log_softmax(x, dim=1)[:, 0].sum().backward()
    assert np.isfinite(host(x.grad)).all()


def test_softmax_without_dim_warns_like_torch():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = F.softmax(gg.zeros(2, 4))
    assert out.shape == (2, 4) and "Implicit dimension" in str(caught[0].message)
    np.testing.assert_allclose(host(out), 0.25)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(gg.ones(1), approximate="fast")


def test_float16_activations_keep_dtype(device):
    x = gg.tensor([-2.0, 0.5, 3.0], dtype="float16", device=device)
    for out in (F.gelu(x), F.softmax(x, 0), F.log_softmax(x, 0), F.leaky_relu(x)):
        assert out.dtype == np.float16


@pytest.mark.parametrize("cls,params", [(Softmax, {"axis": 1}), (LogSoftmax, {"axis": 0}),
                                        (NormalCdf, {})])
def test_jvp_rules(cls, params, rng):
    x = t64(rng.standard_normal((3, 4)))
    t = t64(rng.standard_normal((3, 4)), requires_grad=False)
    check_jvp(cls, [x], [t], **params)
