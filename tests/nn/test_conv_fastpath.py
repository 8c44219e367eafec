"""The fast paths of convolution and pooling against PyTorch in float64: im2col as one strided
view (unfold, conv2d, their gradients) and max pooling's running maximum with its winner
index (values, indices, gradients, PyTorch's tie and NaN rules, double backward, jvp), on
odd sizes, stride / padding / dilation / groups and non-contiguous inputs."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from nn_testing import host, t64, torch, torch_of

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

GEOMETRIES = [
    dict(kernel_size=3),
    dict(kernel_size=1),
    dict(kernel_size=(2, 3), stride=(2, 1)),
    dict(kernel_size=3, padding=1, stride=2),
    dict(kernel_size=(3, 2), dilation=(2, 1), padding=(2, 0)),
    dict(kernel_size=2, dilation=2, stride=3, padding=1),
]


def _gg_view(x, layout, device):
    """A gpugrad leaf whose values are ``x`` laid out as ``layout`` (a view of a leaf)."""
    if layout == "transposed":
        base = t64(np.ascontiguousarray(x.swapaxes(-1, -2)), device)
        return base, base.transpose(-1, -2)
    if layout == "strided":
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],))
        wide[..., ::2] = x
        base = t64(wide, device)
        return base, base[..., ::2]
    base = t64(x, device)
    return base, base


def _grad_of_view(base, layout):
    g = host(base.grad)
    if layout == "transposed":
        return g.swapaxes(-1, -2)
    if layout == "strided":
        return g[..., ::2]
    return g


def _compare_with_torch(out, ref, base, tx, layout, device, rng, rtol):
    """``out`` against torch's ``ref``; then one random cotangent through both and the input
    gradients (``base``'s, read through ``layout``, against ``tx``'s). Returns the cotangent."""
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=rtol, atol=1e-12)
    g = rng.standard_normal(ref.shape)
    out.backward(t64(g, device, requires_grad=False))
    ref.backward(torch_of(g))
    np.testing.assert_allclose(_grad_of_view(base, layout), tx.grad.numpy(), rtol=rtol,
                               atol=1e-12)
    return g


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
@pytest.mark.parametrize("geo", GEOMETRIES, ids=[str(g) for g in GEOMETRIES])
def test_unfold_and_fold_match_torch(geo, layout, device, rng):
    import torch.nn.functional as tf
    x = rng.standard_normal((2, 3, 7, 6))
    base, view = _gg_view(x, layout, device)
    cols = F.unfold(view, **geo)
    theirs = torch_of(x, requires_grad=True)
    ref = tf.unfold(theirs, **geo)
    g = _compare_with_torch(cols, ref, base, theirs, layout, device, rng, rtol=1e-12)
    folded = F.fold(t64(g, device), (7, 6), **geo)
    np.testing.assert_allclose(host(folded), tf.fold(torch_of(g), (7, 6), **geo).numpy(),
                               rtol=1e-12, atol=1e-12)


def test_unfold_columns_do_not_alias_the_input(device):
    x = gg.arange(2 * 3 * 4 * 5, dtype="float64", device=device).reshape(2, 3, 4, 5)
    cols = F.unfold(x, kernel_size=1)  # a 1x1 window view is already contiguous
    before = host(cols).copy()
    x.add_(1.0)
    np.testing.assert_array_equal(host(cols), before)


CONV = [
    dict(),
    dict(stride=2, padding=1),
    dict(dilation=(2, 1), padding=(1, 2)),
    dict(groups=3, stride=(1, 2)),
    dict(groups=3, padding=2, dilation=2),
]


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
@pytest.mark.parametrize("case", CONV, ids=[str(c) for c in CONV])
def test_conv2d_forward_and_gradients_match_torch(case, layout, device, rng):
    import torch.nn.functional as tf
    groups = case.get("groups", 1)
    x = rng.standard_normal((3, 6, 9, 8))
    w = rng.standard_normal((9, 6 // groups, 3, 2))
    b = rng.standard_normal(9)
    base, view = _gg_view(x, layout, device)
    weight, bias = t64(w, device), t64(b, device)
    out = F.conv2d(view, weight, bias, **case)
    tx, tw, tb = (torch_of(a, requires_grad=True) for a in (x, w, b))
    ref = tf.conv2d(tx, tw, tb, **case)
    _compare_with_torch(out, ref, base, tx, layout, device, rng, rtol=1e-10)
    np.testing.assert_allclose(host(weight.grad), tw.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(bias.grad), tb.grad.numpy(), rtol=1e-10, atol=1e-12)


POOLS = [
    dict(kernel_size=2),                                    # disjoint, exact tiling
    dict(kernel_size=3),                                    # disjoint, a remainder dropped
    dict(kernel_size=(2, 3), stride=(3, 3)),                # gaps between windows
    dict(kernel_size=3, stride=1),                          # overlapping
    dict(kernel_size=3, stride=2, padding=1),               # overlapping, padded
    dict(kernel_size=(3, 2), stride=(2, 1), dilation=(2, 3)),
    dict(kernel_size=2, ceil_mode=True),                    # a partial last window
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
]


def _torch_pool(x, case, g):
    import torch.nn.functional as tf
    tx = torch_of(x, requires_grad=True)
    out, index = tf.max_pool2d(tx, return_indices=True, **case)
    out.backward(torch_of(g))
    return out.detach().numpy(), index.numpy(), tx.grad.numpy()


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
@pytest.mark.parametrize("case", POOLS, ids=[str(c) for c in POOLS])
def test_max_pool2d_with_ties_matches_torch(case, layout, device, rng):
    # Small integers: most windows hold several equal maxima.
    x = rng.integers(-2, 3, (2, 3, 9, 7)).astype(np.float64)
    base, view = _gg_view(x, layout, device)
    out, index = F.max_pool2d(view, return_indices=True, **case)
    g = rng.standard_normal(out.shape)
    out.backward(t64(g, device, requires_grad=False))
    ref_out, ref_index, ref_grad = _torch_pool(x, case, g)
    np.testing.assert_array_equal(host(out), ref_out)
    np.testing.assert_array_equal(host(index), ref_index)
    assert index.dtype == gg.int64
    np.testing.assert_allclose(_grad_of_view(base, layout), ref_grad, rtol=1e-12, atol=1e-12)


def test_max_pool2d_nan_wins_the_last_one_as_in_torch(device):
    nan = np.nan
    x = np.array([[[[1.0, nan, 5.0, 2.0], [nan, 2.0, 7.0, 7.0]]]])
    g = np.array([[[[3.0, 4.0]]]])
    ours = t64(x, device)
    out, index = F.max_pool2d(ours, 2, return_indices=True)
    out.backward(t64(g, device, requires_grad=False))
    ref_out, ref_index, ref_grad = _torch_pool(x, dict(kernel_size=2), g)
    np.testing.assert_array_equal(host(out), ref_out)
    np.testing.assert_array_equal(host(index), ref_index)
    np.testing.assert_array_equal(host(ours.grad), ref_grad)


def test_max_pool2d_non_finite_gradient_reaches_only_the_winners(device):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    g = np.array([[[[np.inf, 1.0], [np.nan, -np.inf]]]])
    for case in (dict(kernel_size=2), dict(kernel_size=2, stride=1)):
        ours = t64(x, device)
        out = F.max_pool2d(ours, **case)
        grad = np.resize(g, out.shape)
        out.backward(t64(grad, device, requires_grad=False))
        np.testing.assert_array_equal(host(ours.grad), _torch_pool(x, case, grad)[2])


def test_max_pool2d_indices_without_a_graph(device, rng):
    x = rng.standard_normal((2, 5, 5))
    with gg.no_grad():
        out, index = F.max_pool2d(t64(x, device), 3, 2, 1, return_indices=True)
    import torch.nn.functional as tf
    ref_out, ref_index = tf.max_pool2d(torch_of(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(host(out), ref_out.numpy())
    np.testing.assert_array_equal(host(index), ref_index.numpy())


@pytest.mark.parametrize("case", [dict(kernel_size=2), dict(kernel_size=3, stride=2,
                                                            padding=1)])
def test_max_pool2d_double_backward_and_jvp(case, device, rng):
    x = t64(rng.permutation(2 * 49).reshape(1, 2, 7, 7) / 9.0, device)  # no ties

    def first(t):
        return F.max_pool2d(t * t, **case)
    assert gg.gradcheck(first, [x])
    # Double backward: d/dx of <grad of sum(pool(x^2) * v), u>, against torch.
    v = rng.standard_normal(first(x).shape)
    u = rng.standard_normal(x.shape)
    (gx,) = gg.autograd.grad((first(x) * t64(v, device, False)).sum(), [x], create_graph=True)
    (ggx,) = gg.autograd.grad((gx * t64(u, device, False)).sum(), [x])
    tx = torch_of(host(x), requires_grad=True)
    tout = torch.nn.functional.max_pool2d(tx * tx, **case)
    (tgx,) = torch.autograd.grad((tout * torch_of(v)).sum(), [tx], create_graph=True)
    (tggx,) = torch.autograd.grad((tgx * torch_of(u)).sum(), [tx])
    np.testing.assert_allclose(host(gx), tgx.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(host(ggx), tggx.numpy(), rtol=1e-12)
    t = rng.standard_normal(x.shape)
    _, tangent = gg.func.jvp(first, (x.detach(),), (t64(t, device, False),))
    _, ref = torch.func.jvp(lambda a: torch.nn.functional.max_pool2d(a * a, **case),
                            (torch_of(host(x)),), (torch_of(t),))
    np.testing.assert_allclose(host(tangent), ref.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_max_pool2d_integer_input_with_padding_matches_torch(dtype, device):
    x = np.arange(-20, 16).reshape(1, 1, 6, 6)[:, :, ::-1].copy()
    out, index = F.max_pool2d(gg.tensor(x, dtype=dtype, device=device), 3, 2, 1,
                              return_indices=True)
    ref_out, ref_index = torch.nn.functional.max_pool2d(
        torch.tensor(x).to(getattr(torch, dtype)), 3, 2, 1, return_indices=True)
    assert out.dtype == getattr(gg, dtype)
    np.testing.assert_array_equal(host(out), ref_out.numpy())
    np.testing.assert_array_equal(host(index), ref_index.numpy())
