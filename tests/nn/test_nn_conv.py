"""conv2d, unfold/fold, pooling and pad: PyTorch forward, gradcheck, jvp, errors."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.nn.functional.conv import Fold, Unfold, _geometry
from gpugrad.nn.functional.padding import Pad
from nn_testing import check_jvp, host, t64, torch, torch_of

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

CONV_CASES = [
    dict(),
    dict(stride=2),
    dict(padding=1),
    dict(padding=(2, 1), stride=(1, 2)),
    dict(dilation=2, padding=2),
    dict(groups=2),
    dict(groups=4, padding=1, stride=2),
    dict(padding="same"),
    dict(padding="same", dilation=(1, 2)),
    dict(padding="valid"),
]


def _conv_inputs(rng, case, kernel=(3, 2)):
    groups = case.get("groups", 1)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((4, 4 // groups) + kernel)
    b = rng.standard_normal(4)
    return x, w, b


@needs_torch
@pytest.mark.parametrize("case", CONV_CASES, ids=[str(c) for c in CONV_CASES])
def test_conv2d_matches_torch(case, device, rng):
    import torch.nn.functional as tf
    x, w, b = _conv_inputs(rng, case, kernel=(3, 3) if case.get("padding") == "same" and
                           "dilation" not in case else (3, 2))
    ours = F.conv2d(t64(x, device), t64(w, device), t64(b, device), **case)
    theirs = tf.conv2d(torch_of(x), torch_of(w), torch_of(b), **case)
    np.testing.assert_allclose(host(ours), theirs.numpy(), rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("case", CONV_CASES[:7], ids=[str(c) for c in CONV_CASES[:7]])
def test_conv2d_gradcheck(case, device, rng):
    x, w, b = _conv_inputs(rng, case)
    x = x[:1, :, :5, :5]
    assert gg.gradcheck(lambda a, k, c: F.conv2d(a, k, c, **case),
                        [t64(x, device), t64(w, device), t64(b, device)])


def test_conv2d_second_order_gradcheck(device, rng):
    x = t64(rng.standard_normal((1, 2, 4, 4)), device)
    w = t64(rng.standard_normal((2, 2, 2, 2)), device)

    def grad_x(a, k):
        out = F.conv2d(a, k, padding=1)
        return gg.grad((out * out).sum(), [a, k], create_graph=True)
    assert gg.gradcheck(lambda a, k: grad_x(a, k)[0], [x, w])
    assert gg.gradcheck(lambda a, k: grad_x(a, k)[1], [x, w])


def test_conv2d_unbatched_and_module(device, rng):
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=False).to(device)
    x = gg.tensor(rng.standard_normal((3, 6, 6)), dtype="float32", device=device)
    assert conv(x).shape == (5, 6, 6)
    assert conv(x.unsqueeze(0)).shape == (1, 5, 6, 6)
    assert repr(conv) == "Conv2d(3, 5, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), " \
                         "bias=False)"


def test_conv2d_errors():
    with pytest.raises(ValueError, match="groups=2"):
        F.conv2d(gg.ones(1, 3, 4, 4), gg.ones(2, 1, 2, 2), groups=2)
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        F.conv2d(gg.ones(1, 1, 2, 2), gg.ones(1, 1, 3, 3))
    with pytest.raises(ValueError, match="strided"):
        F.conv2d(gg.ones(1, 1, 4, 4), gg.ones(1, 1, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="4-d"):
        F.conv2d(gg.ones(4, 4), gg.ones(1, 1, 3, 3))


@needs_torch
def test_unfold_fold_match_torch(device, rng):
    import torch.nn.functional as tf
    x = rng.standard_normal((2, 3, 6, 5))
    kw = dict(kernel_size=(2, 3), dilation=(2, 1), padding=1, stride=(2, 1))
    cols = F.unfold(t64(x, device), **kw)
    theirs = tf.unfold(torch_of(x), **kw)
    np.testing.assert_allclose(host(cols), theirs.numpy(), rtol=1e-12)
    back = F.fold(cols, (6, 5), **kw)
    np.testing.assert_allclose(host(back), tf.fold(theirs, (6, 5), **kw).numpy(), rtol=1e-12)
    assert gg.gradcheck(lambda c: F.fold(c, (6, 5), **kw), [t64(host(cols)[:1], device)])


def test_unfold_fold_jvp_rules(rng):
    geometry = _geometry((2, 2), 1, 1, 1)
    x = t64(rng.standard_normal((1, 2, 3, 3)))
    check_jvp(Unfold, [x], [t64(rng.standard_normal(x.shape), requires_grad=False)],
              geometry=geometry)
    cols = t64(rng.standard_normal((1, 8, 16)))
    check_jvp(Fold, [cols], [t64(rng.standard_normal(cols.shape), requires_grad=False)],
              hw=(3, 3), geometry=geometry)


POOL_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=1),
    dict(kernel_size=2, stride=1, padding=1),
]


@needs_torch
@pytest.mark.parametrize("case", POOL_CASES, ids=[str(c) for c in POOL_CASES])
@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
def test_pool_matches_torch(name, case, device, rng):
    import torch.nn.functional as tf
    x = rng.standard_normal((2, 3, 7, 6))
    extra = [dict()] + ([dict(count_include_pad=False), dict(divisor_override=3)]
                        if name == "avg_pool2d" else [dict(dilation=2)])
    for more in extra:
        if more.get("dilation") and case.get("padding"):
            continue
        ours = getattr(F, name)(t64(x, device), **case, **more)
        theirs = getattr(tf, name)(torch_of(x), **case, **more)
        np.testing.assert_allclose(host(ours), theirs.numpy(), rtol=1e-10, err_msg=str(more))


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
def test_pool_gradcheck(name, device, rng):
    x = t64(rng.permutation(50).reshape(1, 2, 5, 5) / 7.0, device)  # distinct: no max ties
    assert gg.gradcheck(lambda t: getattr(F, name)(t, 3, stride=2, padding=1), [x])


def test_max_pool_tie_gradient_goes_to_first_max(device):
    x = gg.ones(1, 1, 2, 2, device=device, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    assert host(x.grad).reshape(-1).tolist() == [1.0, 0.0, 0.0, 0.0]


def test_pool_modules_and_errors(device):
    x = gg.ones(2, 3, 4, 4, device=device)
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 2, 2)
    assert nn.AvgPool2d(3, stride=1, padding=1)(x).shape == (2, 3, 4, 4)
    assert F.max_pool2d(gg.ones(3, 4, 4, device=device), 2).shape == (3, 2, 2)
    with pytest.raises(ValueError, match="half of the kernel"):
        F.max_pool2d(x, 2, padding=2)
    assert F.avg_pool2d(x, 3, ceil_mode=True).shape == (2, 3, 2, 2)


@needs_torch
def test_pad_matches_torch_and_gradcheck(device, rng):
    import torch.nn.functional as tf
    x = rng.standard_normal((2, 3, 4))
    for widths in [(1, 2), (0, 1, 2, 0), (1, 1, 0, 2, 3, 0)]:
        ours = F.pad(t64(x, device), widths, value=-1.5)
        np.testing.assert_array_equal(host(ours), tf.pad(torch_of(x), widths, value=-1.5))
    assert gg.gradcheck(lambda t: F.pad(t, (1, 2, 0, 1)), [t64(x, device)])
    with pytest.raises(ValueError, match="even length"):
        F.pad(t64(x, device), (1, 2, 3))
    with pytest.raises(NotImplementedError, match="constant"):
        F.pad(t64(x, device), (1, 1), mode="symmetric")


def test_pad_jvp_rule(rng):
    x = t64(rng.standard_normal((2, 3)))
    check_jvp(Pad, [x], [t64(rng.standard_normal((2, 3)), requires_grad=False)],
              widths=((1, 0), (2, 1)), value=4.0)
