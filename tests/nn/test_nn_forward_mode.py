"""Forward mode through nn.functional: gg.func.jvp against finite differences, and Hessians
by forward over reverse (gg.func.hessian) against differences of the reverse-mode gradient."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from nn_testing import host

RNG = np.random.default_rng(1)
TARGET = gg.tensor([2, 0, -100])
CLASS_W = gg.tensor([0.5, 1.0, 2.0, 1.5], dtype="float64")
PROBS = gg.tensor(RNG.uniform(0, 1, (3, 4)))


def _seeded_dropout(x):
    gg.manual_seed(3)  # one mask for every evaluation
    return F.dropout(x, 0.4)


# (name, shape of x, f(x)) with x float64; each f touches one fused op or composite family.
CASES = [
    ("softmax", (3, 4), lambda x: F.softmax(x, dim=1)),
    ("log_softmax", (3, 4), lambda x: F.log_softmax(x, dim=0)),
    ("gelu", (3, 4), F.gelu),
    ("gelu_tanh", (3, 4), lambda x: F.gelu(x, approximate="tanh")),
    ("cross_entropy", (3, 4), lambda x: F.cross_entropy(x, TARGET, CLASS_W,
                                                        label_smoothing=0.2)),
    ("nll_loss", (3, 4), lambda x: F.nll_loss(F.log_softmax(x, 1), TARGET, reduction="sum")),
    ("bce", (3, 4), lambda x: F.binary_cross_entropy_with_logits(
        x * x, PROBS, pos_weight=CLASS_W)),
    ("layer_norm", (3, 4), lambda x: F.layer_norm(x * x, (4,))),
    ("batch_norm", (3, 4), lambda x: F.batch_norm(x * x, None, None, training=True)),
    ("conv2d", (1, 2, 4, 3), lambda x: F.conv2d(x * x, x[:, :, :2, :2] + 1, padding=1)),
    ("max_pool2d", (1, 2, 4, 3), lambda x: F.max_pool2d(x * x * x, 2, stride=1, padding=1)),
    ("avg_pool2d", (1, 2, 4, 3), lambda x: F.avg_pool2d(x * x, 2, stride=1, padding=1,
                                                        count_include_pad=False)),
    ("embedding", (5, 3), lambda x: F.embedding(gg.tensor([[1, 4], [1, 0]]), x * x,
                                                padding_idx=0)),
    ("pad", (3, 4), lambda x: F.pad(x * x, (1, 2, 0, 1), value=2.0)),
    ("dropout", (3, 4), lambda x: _seeded_dropout(x * x)),
]


def _x(shape):
    return gg.tensor(RNG.permutation(np.prod(shape)).reshape(shape) / 5.0 - 1.1,
                     dtype="float64")


@pytest.mark.parametrize("name,shape,f", CASES, ids=[c[0] for c in CASES])
def test_jvp_matches_finite_differences(name, shape, f):
    x, t = _x(shape), gg.tensor(RNG.standard_normal(shape))
    out, tangent = gg.func.jvp(f, (x,), (t,))
    np.testing.assert_allclose(host(out), host(f(x)), rtol=1e-12)
    eps = 1e-6
    with gg.no_grad():
        numeric = (host(f(x + t * eps)) - host(f(x - t * eps))) / (2 * eps)
    np.testing.assert_allclose(host(tangent), numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name,shape,f", CASES, ids=[c[0] for c in CASES])
def test_forward_over_reverse_hessian(name, shape, f):
    weights = gg.tensor(RNG.standard_normal(f(_x(shape)).shape))

    def scalar(x):
        return (f(x) * weights).sum()
    x = _x(shape)
    if name == "dropout":
        # Forward mode runs batched under vmap, where a random op must say how to draw (as
        # in torch.func): one mask for the whole batch, the one every evaluation here uses.
        hessian = gg.func.jacfwd(gg.func.jacrev(scalar), randomness="same")(x)
    else:
        hessian = gg.func.hessian(scalar, x)
    hessian = host(hessian).reshape(x.numel(), x.numel())
    eps, cols = 1e-6, []
    for j in range(x.numel()):
        step = np.zeros(x.numel())
        step[j] = eps
        step = gg.tensor(step.reshape(shape))
        cols.append(_grad(scalar, x + step) - _grad(scalar, x - step))
    numeric = np.stack(cols, axis=1) / (2 * eps)
    np.testing.assert_allclose(hessian, numeric, rtol=1e-4, atol=1e-6)


def _grad(fn, x):
    x = x.detach().requires_grad_()
    (g,) = gg.grad(fn(x), [x])
    return host(g).ravel()
