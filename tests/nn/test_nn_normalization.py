"""layer_norm and batch_norm: PyTorch forward and running statistics, gradients, modes."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.nn.functional.normalization import Normalize
from nn_testing import check_jvp, host, t64, torch, torch_of

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


@needs_torch
@pytest.mark.parametrize("shape,normalized", [((4, 6), (6,)), ((2, 3, 4, 5), (4, 5))])
def test_layer_norm_matches_torch(shape, normalized, device, rng):
    import torch.nn.functional as tf
    x, w, b = (rng.standard_normal(shape) * 3 + 1, rng.standard_normal(normalized),
               rng.standard_normal(normalized))
    ours = F.layer_norm(t64(x, device), normalized, t64(w, device), t64(b, device), eps=1e-3)
    theirs = tf.layer_norm(torch_of(x), normalized, torch_of(w), torch_of(b), eps=1e-3)
    np.testing.assert_allclose(host(ours), theirs.numpy(), rtol=1e-9, atol=1e-12)


def test_layer_norm_gradcheck_first_and_second_order(device, rng):
    x, w, b = (t64(rng.standard_normal(s), device) for s in [(3, 5), (5,), (5,)])
    assert gg.gradcheck(lambda a, c, d: F.layer_norm(a, (5,), c, d), [x, w, b])
    g = t64(rng.standard_normal((3, 5)), device, requires_grad=False)
    assert gg.gradcheck(
        lambda a: gg.grad((F.layer_norm(a, (5,)) * g).sum(), a, create_graph=True)[0], [x])


def test_layer_norm_is_stable_for_large_offsets(device):
    x = gg.tensor([[1e4 + 1.0, 1e4 - 1.0]], dtype="float32", device=device)
    np.testing.assert_allclose(host(F.layer_norm(x, (2,))), [[1.0, -1.0]], atol=1e-4)


def test_layer_norm_module_and_errors(device):
    ln = nn.LayerNorm(4).to(device)
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    assert host(ln.weight).tolist() == [1.0] * 4 and host(ln.bias).tolist() == [0.0] * 4
    assert nn.LayerNorm((2, 3), elementwise_affine=False)(gg.ones(4, 2, 3)).shape == (4, 2, 3)
    assert nn.LayerNorm(4, bias=False).bias is None
    with pytest.raises(ValueError, match=r"trailing shape \(4,\)"):
        ln(gg.ones(2, 5, device=device))


@needs_torch
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (8, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 5, 2))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_module_matches_torch_train_and_eval(cls, shape, momentum, device, rng):
    ours = getattr(nn, cls)(3, momentum=momentum).to(device).double()
    theirs = getattr(torch.nn, cls)(3, momentum=momentum).double()
    for step in range(3):
        x = rng.standard_normal(shape) * (step + 1) + step
        np.testing.assert_allclose(host(ours(t64(x, device, False))),
                                   theirs(torch_of(x)).detach().numpy(), rtol=1e-9, atol=1e-12)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(host(getattr(ours, name)), getattr(theirs, name).numpy(),
                                   rtol=1e-12, err_msg=name)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(host(ours(t64(x, device, False))),
                               theirs(torch_of(x)).detach().numpy(), rtol=1e-9, atol=1e-12)


def test_batch_norm_gradcheck_training(device, rng):
    x = t64(rng.standard_normal((4, 3, 2)), device)
    w, b = t64(rng.standard_normal(3), device), t64(rng.standard_normal(3), device)
    assert gg.gradcheck(lambda a, c, d: F.batch_norm(a, None, None, c, d, training=True),
                        [x, w, b])
    rm, rv = t64(rng.standard_normal(3), device, False), t64(rng.uniform(1, 2, 3), device, False)
    assert gg.gradcheck(lambda a: F.batch_norm(a, rm, rv, training=False), [x])


def test_batch_norm_without_running_stats_and_errors(device):
    bn = nn.BatchNorm2d(2, affine=False, track_running_stats=False).to(device).eval()
    assert bn.running_mean is None and list(bn.parameters()) == []
    out = bn(gg.randn(3, 2, 4, 4, device=device) * 5 + 2)
    assert abs(host(out).mean()) < 1e-5  # batch statistics, even in eval mode
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(2).to(device)(gg.ones(1, 2, device=device))
    with pytest.raises(ValueError, match="expected 4-d input"):
        nn.BatchNorm2d(2)(gg.ones(3, 2))
    assert list(nn.BatchNorm1d(2).state_dict()) == ["weight", "bias", "running_mean",
                                                    "running_var", "num_batches_tracked"]


def test_normalize_jvp_rule(rng):
    x = t64(rng.standard_normal((3, 4)))
    t = t64(rng.standard_normal((3, 4)), requires_grad=False)
    check_jvp(Normalize, [x], [t], axes=(1,), eps=1e-5)
    check_jvp(Normalize, [x], [t], axes=(0,), eps=1e-2)
