"""The fused linear op: forward, gradients (first and second order), forward mode, and the
contiguous weight gradient it exists for."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.func import jvp


@pytest.mark.parametrize("x_shape", [(3, 4), (2, 3, 4), (4,)], ids=str)
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_forward_and_gradients(x_shape, with_bias, device, rng):
    x = gg.tensor(rng.standard_normal(x_shape), device=device, requires_grad=True)
    w = gg.tensor(rng.standard_normal((2, 4)), device=device, requires_grad=True)
    b = gg.tensor(rng.standard_normal(2), device=device, requires_grad=True)
    args = [x, w, b] if with_bias else [x, w]
    expected = x.cpu().numpy() @ w.cpu().numpy().T + (b.cpu().numpy() if with_bias else 0)
    np.testing.assert_allclose(F.linear(*args).cpu().numpy(), expected, rtol=1e-12)
    assert gg.gradcheck(F.linear, args)

    def weight_grad(*a):
        return gg.grad((F.linear(*a) ** 2).sum(), [a[1]], create_graph=True)[0]
    assert gg.gradcheck(weight_grad, args)


def test_linear_jvp_matches_finite_differences(rng):
    x, w, b = (gg.tensor(rng.standard_normal(s)) for s in [(3, 4), (2, 4), (2,)])
    tx, tw, tb = (gg.tensor(rng.standard_normal(s)) for s in [(3, 4), (2, 4), (2,)])
    _, tangent = jvp(F.linear, (x, w, b), (tx, tw, tb))
    eps = 1e-6
    numeric = (F.linear(x + eps * tx, w + eps * tw, b + eps * tb)
               - F.linear(x - eps * tx, w - eps * tw, b - eps * tb)) / (2 * eps)
    np.testing.assert_allclose(tangent.numpy(), numeric.numpy(), atol=1e-8)


def test_weight_gradient_is_a_fresh_contiguous_array():
    layer = gg.nn.Linear(5, 3)
    layer(gg.randn(4, 5)).sum().backward()
    data = layer.weight.grad.array
    assert data.flags.c_contiguous and data.flags.owndata and data.shape == (3, 5)
