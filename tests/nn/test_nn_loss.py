"""Losses: PyTorch semantics (ignore_index, weights, smoothing, means), stability, errors."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.nn.functional.loss import SoftmaxCrossEntropy
from nn_testing import check_jvp, host, t64, torch, torch_of

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

CE_CASES = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(ignore_index=1),
    dict(weight=True),
    dict(weight=True, ignore_index=2),
    dict(label_smoothing=0.2),
    dict(label_smoothing=0.1, weight=True, ignore_index=0),
    dict(label_smoothing=0.3, reduction="none", weight=True, ignore_index=3),
]


def _ce_args(case, rng, n_cls):
    kwargs = dict(case)
    weight = rng.uniform(0.5, 2.0, n_cls) if kwargs.pop("weight", False) else None
    return kwargs, weight


# A 0-d target may hit ignore_index: its mean is 0 / 0 = nan, as in PyTorch.
ZERO_OVER_ZERO = pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning",
                                            "ignore:divide by zero:RuntimeWarning")


@needs_torch
@ZERO_OVER_ZERO
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 2), (4,)], ids=["NC", "NCdd", "C"])
@pytest.mark.parametrize("case", CE_CASES, ids=[str(c) for c in CE_CASES])
def test_cross_entropy_matches_torch(case, shape, device, rng):
    import torch.nn.functional as tf
    n_cls = shape[1] if len(shape) > 1 else shape[0]
    x = rng.standard_normal(shape) * 3
    target_shape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    target = rng.integers(0, n_cls, target_shape)
    kwargs, weight = _ce_args(case, rng, n_cls)
    xt = t64(x, device)
    ours = F.cross_entropy(xt, gg.tensor(target, device=device),
                           None if weight is None else gg.tensor(weight, device=device),
                           **kwargs)
    xr = torch_of(x, requires_grad=True)
    theirs = tf.cross_entropy(xr, torch.tensor(target),
                              None if weight is None else torch.tensor(weight), **kwargs)
    np.testing.assert_allclose(host(ours), theirs.detach().numpy(), rtol=1e-6, atol=1e-12)
    gout = rng.standard_normal(theirs.shape)
    ours.backward(gg.tensor(gout, device=device))
    theirs.backward(torch.tensor(gout))
    np.testing.assert_allclose(host(xt.grad), xr.grad.numpy(), rtol=1e-6, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_probability_targets_match_torch(smoothing, rng):
    import torch.nn.functional as tf
    x, q = rng.standard_normal((4, 3)), rng.dirichlet(np.ones(3), 4)
    ours = F.cross_entropy(t64(x), t64(q, requires_grad=False), label_smoothing=smoothing)
    theirs = tf.cross_entropy(torch_of(x), torch_of(q), label_smoothing=smoothing)
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-10)


@pytest.mark.parametrize("case", CE_CASES[3:], ids=[str(c) for c in CE_CASES[3:]])
def test_cross_entropy_gradcheck_first_and_second_order(case, device, rng):
    x = t64(rng.standard_normal((5, 4)), device)
    target = gg.tensor(rng.integers(0, 4, 5), device=device)
    kwargs, weight = _ce_args(case, rng, 4)
    w = None if weight is None else gg.tensor(weight, device=device)

    def loss(t):
        return F.cross_entropy(t, target, w, **kwargs)
    assert gg.gradcheck(loss, [x])
    assert gg.gradcheck(lambda t: gg.grad(loss(t).sum(), t, create_graph=True)[0], [x])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("scale", [1e3, 1e4])
def test_cross_entropy_extreme_logits_finite(dtype, scale, device, rng):
    x = gg.tensor(rng.standard_normal((8, 5)) * scale, dtype=dtype, device=device,
                  requires_grad=True)
    target = gg.tensor(rng.integers(0, 5, 8), device=device)
    loss = F.cross_entropy(x, target, label_smoothing=0.1)
    loss.backward()
    assert np.isfinite(host(loss)).all() and np.isfinite(host(x.grad)).all()
    assert x.grad.dtype == np.float16 if dtype == "float16" else True


def test_cross_entropy_hard_zero_probability_is_finite(device):
    # softmax of [-1000, 0] has an exact 0; a naive log(softmax) would give inf.
    x = gg.tensor([[-1000.0, 0.0]], device=device, requires_grad=True)
    loss = F.cross_entropy(x, gg.tensor([0], device=device))
    loss.backward()
    assert loss.item() == pytest.approx(1000.0) and np.isfinite(host(x.grad)).all()


@ZERO_OVER_ZERO
def test_cross_entropy_mean_over_non_ignored(device):
    x = gg.zeros(3, 2, device=device)
    t = gg.tensor([0, -100, 1], device=device)
    assert F.cross_entropy(x, t).item() == pytest.approx(np.log(2))
    all_ignored = F.cross_entropy(x, gg.tensor([-100] * 3, device=device))
    assert np.isnan(all_ignored.item())  # 0 / 0, as in PyTorch


def test_cross_entropy_ignored_row_with_inf_logit_is_zero(device):
    x = gg.tensor([[-np.inf, 0.0], [0.0, 0.0]], device=device, requires_grad=True)
    loss = F.cross_entropy(x, gg.tensor([-100, 1], device=device), reduction="none",
                           label_smoothing=0.1)
    assert host(loss)[0] == 0.0
    loss.sum().backward()
    assert host(x.grad)[0].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("bad", [3, -1, 7])
def test_cross_entropy_rejects_out_of_range_target(bad, device):
    x = gg.zeros(2, 3, device=device)
    with gg.cuda.debug():  # GPU checks name the value only in debug mode
        with pytest.raises(IndexError, match=f"target {bad} .*3 classes"):
            F.cross_entropy(x, gg.tensor([0, bad], device=device))
        with pytest.raises(IndexError, match=f"target {bad}"):
            F.nll_loss(x, gg.tensor([bad, 0], device=device))


def test_cross_entropy_rejects_bad_target_shape_and_weight(device):
    x = gg.zeros(4, 3, device=device)
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\)"):
        F.cross_entropy(x, gg.tensor([0, 1], device=device))
    with pytest.raises(ValueError, match="integers"):
        F.cross_entropy(x, gg.zeros(4, device=device))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, gg.tensor([0, 1, 2, 0], device=device), gg.ones(2, device=device))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, gg.tensor([0, 1, 2, 0], device=device), reduction="avg")


@needs_torch
@pytest.mark.parametrize("kwargs", [dict(), dict(reduction="none"), dict(ignore_index=1),
                                    dict(weight=True, reduction="sum")])
def test_nll_loss_matches_torch(kwargs, device, rng):
    import torch.nn.functional as tf
    kwargs, weight = _ce_args(kwargs, rng, 3)
    logp = np.log(rng.dirichlet(np.ones(3), (4, 2)).transpose(0, 2, 1))
    target = rng.integers(0, 3, (4, 2))
    x = t64(logp, device)
    ours = F.nll_loss(x, gg.tensor(target, device=device),
                      None if weight is None else gg.tensor(weight, device=device), **kwargs)
    theirs = tf.nll_loss(torch_of(logp), torch.tensor(target),
                         None if weight is None else torch.tensor(weight), **kwargs)
    np.testing.assert_allclose(host(ours), theirs.numpy(), rtol=1e-10)
    assert gg.gradcheck(lambda t: F.nll_loss(t, gg.tensor(target, device=device),
                                             **{k: v for k, v in kwargs.items()
                                                if k != "reduction"}), [x])


@needs_torch
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pointwise_losses_match_torch(name, reduction, device, rng):
    import torch.nn.functional as tf
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    ours = getattr(F, name)(t64(a, device), t64(b, device), reduction=reduction)
    theirs = getattr(tf, name)(torch_of(a), torch_of(b), reduction=reduction)
    np.testing.assert_allclose(host(ours), theirs.numpy(), rtol=1e-10)
    assert gg.gradcheck(lambda x, y: getattr(F, name)(x, y), [t64(a, device), t64(b, device)])


def test_pointwise_loss_warns_on_broadcast():
    with pytest.warns(UserWarning, match="target size"):
        F.mse_loss(gg.zeros(3, 1), gg.zeros(3))


@needs_torch
@pytest.mark.parametrize("pos_weight", [False, True])
@pytest.mark.parametrize("weight", [False, True])
def test_bce_with_logits_matches_torch(pos_weight, weight, device, rng):
    import torch.nn.functional as tf
    x, y = rng.standard_normal((4, 3)) * 4, rng.uniform(0, 1, (4, 3))
    pw = rng.uniform(0.5, 3, 3) if pos_weight else None
    w = rng.uniform(0.5, 3, (4, 3)) if weight else None

    def ours(t):
        return F.binary_cross_entropy_with_logits(
            t, t64(y, device, False), None if w is None else t64(w, device, False),
            pos_weight=None if pw is None else t64(pw, device, False))
    theirs = tf.binary_cross_entropy_with_logits(
        torch_of(x), torch_of(y), None if w is None else torch_of(w),
        pos_weight=None if pw is None else torch_of(pw))
    np.testing.assert_allclose(ours(t64(x, device)).item(), theirs.item(), rtol=1e-10)
    assert gg.gradcheck(ours, [t64(x, device)])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_bce_with_logits_stable_and_exact_at_zero(dtype, device):
    x = gg.tensor([-1e4, 1e4, 0.0, 0.0], dtype=dtype, device=device, requires_grad=True)
    y = gg.tensor([1.0, 0.0, 1.0, 0.0], dtype=dtype, device=device)
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="sum")
    loss.backward()
    g = host(x.grad).astype(np.float64)
    assert np.isfinite(host(loss)).all()
    np.testing.assert_allclose(g, [-1.0, 1.0, -0.5, 0.5])  # sigmoid(x) - y


def test_cross_entropy_jvp_rule(rng):
    x = t64(rng.standard_normal((4, 3)))
    t = t64(rng.standard_normal((4, 3)), requires_grad=False)
    check_jvp(SoftmaxCrossEntropy, [x], [t], target=np.array([0, 2, -100, 1]),
              class_weight=np.array([1.0, 2.0, 0.5]), ignore_index=-100, smoothing=0.1)


def test_loss_modules_hold_options(device, rng):
    x = gg.tensor(rng.standard_normal((4, 3)), device=device)
    t = gg.tensor([0, 1, 2, 1], device=device)
    w = gg.tensor([1.0, 2.0, 3.0], device=device)
    module = gg.nn.CrossEntropyLoss(weight=w, label_smoothing=0.1, reduction="sum")
    assert module(x, t).item() == pytest.approx(
        F.cross_entropy(x, t, w, label_smoothing=0.1, reduction="sum").item())
    assert "weight" in dict(module.named_buffers())
    logp = F.log_softmax(x, 1)
    assert gg.nn.NLLLoss()(logp, t).item() == pytest.approx(F.cross_entropy(x, t).item())
    assert gg.nn.MSELoss(reduction="sum")(x, x * 0).item() == pytest.approx((x * x).sum().item())
    assert gg.nn.L1Loss()(x, x).item() == 0.0
    bce = gg.nn.BCEWithLogitsLoss(pos_weight=gg.ones(3, device=device))
    assert bce(x, x * 0).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(x, x * 0).item())
