"""conv1d, transposed convs, 1-d / adaptive / ceil_mode pooling, pixel shuffle, interpolate
and the pad modes: against PyTorch in float64 (forward and gradients), gradcheck, errors."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from nn_testing import host, t64, torch, torch_of

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _compare(ours_fn, theirs_fn, arrays, device, atol=1e-10):
    """Forward and the gradient of every input of a random-weighted sum, vs PyTorch."""
    ours_in = [t64(a, device) for a in arrays]
    theirs_in = [torch_of(a, requires_grad=True) for a in arrays]
    ours, theirs = ours_fn(*ours_in), theirs_fn(*theirs_in)
    np.testing.assert_allclose(host(ours), theirs.detach().numpy(), rtol=1e-7, atol=atol)
    probe = np.random.default_rng(1).standard_normal(theirs.shape)
    (ours * t64(probe, device, requires_grad=False)).sum().backward()
    (theirs * torch_of(probe)).sum().backward()
    for a, b in zip(ours_in, theirs_in):
        np.testing.assert_allclose(host(a.grad), b.grad.numpy(), rtol=1e-7, atol=atol)


CONV1D_CASES = [dict(), dict(stride=2, padding=1), dict(dilation=2, groups=2),
                dict(padding="same"), dict(padding=(1,), stride=(2,))]


@needs_torch
@pytest.mark.parametrize("case", CONV1D_CASES, ids=[str(c) for c in CONV1D_CASES])
def test_conv1d_matches_torch(case, device, rng):
    import torch.nn.functional as tf
    g = case.get("groups", 1)
    arrays = [rng.standard_normal((2, 4, 9)), rng.standard_normal((6, 4 // g, 3)),
              rng.standard_normal(6)]
    _compare(lambda x, w, b: F.conv1d(x, w, b, **case),
             lambda x, w, b: tf.conv1d(x, w, b, **case), arrays, device)


TRANSPOSE_CASES = [dict(), dict(stride=2), dict(stride=2, padding=1, output_padding=1),
                   dict(stride=(3, 2), padding=(1, 0), output_padding=(2, 1)),
                   dict(groups=2, dilation=2), dict(stride=2, dilation=(1, 2), groups=2,
                                                    padding=1),
                   dict(stride=(1, 2), dilation=3, padding=1, output_padding=(2, 2))]


@needs_torch
@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=[str(c) for c in TRANSPOSE_CASES])
def test_conv_transpose2d_matches_torch(case, device, rng):
    import torch.nn.functional as tf
    g = case.get("groups", 1)
    arrays = [rng.standard_normal((2, 4, 4, 5)), rng.standard_normal((4, 6 // g, 3, 2)),
              rng.standard_normal(6)]
    _compare(lambda x, w, b: F.conv_transpose2d(x, w, b, **case),
             lambda x, w, b: tf.conv_transpose2d(x, w, b, **case), arrays, device)


@needs_torch
@pytest.mark.parametrize("case", [dict(), dict(stride=3, padding=1, output_padding=2),
                                  dict(groups=2, dilation=2)], ids=str)
def test_conv_transpose1d_matches_torch(case, device, rng):
    import torch.nn.functional as tf
    g = case.get("groups", 1)
    arrays = [rng.standard_normal((2, 4, 5)), rng.standard_normal((4, 6 // g, 3)),
              rng.standard_normal(6)]
    _compare(lambda x, w, b: F.conv_transpose1d(x, w, b, **case),
             lambda x, w, b: tf.conv_transpose1d(x, w, b, **case), arrays, device)


@needs_torch
def test_conv_modules_match_torch(device, rng):
    pairs = [(nn.Conv1d(4, 6, 3, padding=1, groups=2), torch.nn.Conv1d(4, 6, 3, padding=1,
                                                                        groups=2), (2, 4, 7)),
             (nn.ConvTranspose1d(4, 6, 3, stride=2, bias=False),
              torch.nn.ConvTranspose1d(4, 6, 3, stride=2, bias=False), (2, 4, 7)),
             (nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
              torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1,
                                       groups=2), (2, 4, 3, 4))]
    for ours, theirs, shape in pairs:
        assert repr(ours) == repr(theirs)
        assert [n for n, _ in ours.named_parameters()] == \
               [n for n, _ in theirs.named_parameters()]
        for p, q in zip(ours.parameters(), theirs.parameters()):
            assert p.shape == tuple(q.shape)
        theirs.double()
        ours = ours.to(device)
        with torch.no_grad():
            for p, q in zip(ours.parameters(), theirs.parameters()):
                q.copy_(torch.from_numpy(host(p).astype(np.float64)))
        x = rng.standard_normal(shape)
        out = ours(gg.tensor(x, dtype="float32", device=device))
        np.testing.assert_allclose(host(out), theirs(torch_of(x)).detach().numpy(), atol=1e-5)


POOL1D_CASES = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                dict(kernel_size=2, stride=2, ceil_mode=True),
                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)]


@needs_torch
@pytest.mark.parametrize("case", POOL1D_CASES, ids=[str(c) for c in POOL1D_CASES])
def test_pool1d_matches_torch(case, device, rng):
    import torch.nn.functional as tf
    x = rng.standard_normal((2, 3, 9))
    _compare(lambda a: F.avg_pool1d(a, **case), lambda a: tf.avg_pool1d(a, **case), [x],
             device)
    _compare(lambda a: F.avg_pool1d(a, count_include_pad=False, **case),
             lambda a: tf.avg_pool1d(a, count_include_pad=False, **case), [x], device)
    _compare(lambda a: F.max_pool1d(a, dilation=2, **case) if "padding" not in case else
             F.max_pool1d(a, **case), lambda a: tf.max_pool1d(a, dilation=2, **case)
             if "padding" not in case else tf.max_pool1d(a, **case), [x], device)
    ours = F.max_pool1d(t64(x, device), return_indices=True, **case)[1]
    theirs = tf.max_pool1d(torch_of(x), return_indices=True, **case)[1]
    np.testing.assert_array_equal(host(ours), theirs.numpy())


POOL2D_CEIL = [dict(kernel_size=2, ceil_mode=True), dict(kernel_size=3, stride=2, padding=1,
                                                         ceil_mode=True),
               dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True)]


@needs_torch
@pytest.mark.parametrize("case", POOL2D_CEIL, ids=[str(c) for c in POOL2D_CEIL])
def test_pool2d_ceil_mode_and_indices_match_torch(case, device, rng):
    import torch.nn.functional as tf
    x = rng.standard_normal((2, 3, 7, 8))
    for kw in (dict(), dict(count_include_pad=False), dict(divisor_override=3)):
        _compare(lambda a: F.avg_pool2d(a, **case, **kw),
                 lambda a: tf.avg_pool2d(a, **case, **kw), [x], device)
    _compare(lambda a: F.max_pool2d(a, **case), lambda a: tf.max_pool2d(a, **case), [x],
             device)
    ours = F.max_pool2d(t64(x[0], device), return_indices=True, dilation=(1, 2), **case)
    theirs = tf.max_pool2d(torch_of(x[0]), return_indices=True, dilation=(1, 2), **case)
    np.testing.assert_allclose(host(ours[0]), theirs[0].numpy())
    np.testing.assert_array_equal(host(ours[1]), theirs[1].numpy())


ADAPTIVE = [("adaptive_avg_pool1d", (2, 3, 7), 3), ("adaptive_avg_pool1d", (3, 5), 5),
            ("adaptive_avg_pool2d", (2, 3, 7, 5), (3, 2)),
            ("adaptive_avg_pool2d", (3, 5, 9), (4, None)),
            ("adaptive_max_pool1d", (2, 3, 7), 3), ("adaptive_max_pool2d", (2, 3, 7, 5), 3),
            ("adaptive_max_pool2d", (2, 3, 5, 6), (2, 4))]


@needs_torch
@pytest.mark.parametrize("name, shape, size", ADAPTIVE, ids=[str(a) for a in ADAPTIVE])
def test_adaptive_pools_match_torch(name, shape, size, device, rng):
    import torch.nn.functional as tf
    x = rng.standard_normal(shape)
    _compare(lambda a: getattr(F, name)(a, size), lambda a: getattr(tf, name)(a, size), [x],
             device)
    if "max" in name:
        ours = getattr(F, name)(t64(x, device), size, return_indices=True)[1]
        theirs = getattr(tf, name)(torch_of(x), size, return_indices=True)[1]
        np.testing.assert_array_equal(host(ours), theirs.numpy())


@needs_torch
def test_pixel_shuffle_matches_torch(device, rng):
    import torch.nn.functional as tf
    x = rng.standard_normal((2, 8, 3, 4))
    _compare(lambda a: F.pixel_shuffle(a, 2), lambda a: tf.pixel_shuffle(a, 2), [x], device)
    _compare(lambda a: F.pixel_unshuffle(a, 2), lambda a: tf.pixel_unshuffle(a, 2),
             [rng.standard_normal((3, 4, 6))], device)
    assert repr(nn.PixelShuffle(2)) == repr(torch.nn.PixelShuffle(2))


INTERP = [((1, 2, 5), dict(scale_factor=2)), ((1, 2, 5), dict(size=7)),
          ((1, 2, 5), dict(size=3, mode="linear")),
          ((1, 2, 5), dict(scale_factor=1.7, mode="linear", align_corners=True)),
          ((2, 1, 4, 5), dict(scale_factor=(2, 3))), ((2, 1, 4, 5), dict(size=(3, 7))),
          ((2, 1, 4, 5), dict(size=(7, 3), mode="bilinear")),
          ((2, 1, 4, 5), dict(scale_factor=2.5, mode="bilinear")),
          ((2, 1, 4, 5), dict(size=(1, 8), mode="bilinear", align_corners=True)),
          ((2, 1, 4, 5), dict(scale_factor=1.5, mode="bilinear",
                              recompute_scale_factor=True)),
          ((1, 1, 2, 3, 4), dict(scale_factor=2)), ((1, 2, 5), dict(scale_factor=1.7)),
          ((1, 2, 7), dict(size=3)),
          ((2, 1, 4, 5), dict(scale_factor=0.6, mode="bilinear", align_corners=False))]


@needs_torch
@pytest.mark.parametrize("shape, case", INTERP, ids=[str(c) for c in INTERP])
def test_interpolate_matches_torch(shape, case, device, rng):
    import torch.nn.functional as tf
    _compare(lambda a: F.interpolate(a, **case), lambda a: tf.interpolate(a, **case),
             [rng.standard_normal(shape)], device)


def test_upsample_module(device):
    up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
    assert up(gg.ones(1, 1, 2, 2, device=device)).shape == (1, 1, 4, 4)
    assert repr(up) == "Upsample(scale_factor=2.0, mode='bilinear')"
    assert repr(nn.Upsample(size=3)) == "Upsample(size=3, mode='nearest')"


PADS = [((2, 3, 5), (2, 1), "reflect"), ((2, 3, 4, 5), (1, 2, 3, 0), "reflect"),
        ((2, 3, 5), (3, 2), "replicate"), ((2, 3, 4, 5), (1, 2, 3, 0), "replicate"),
        ((2, 3, 5), (5, 2), "circular"), ((2, 3, 4, 5), (-1, 2, 2, -1), "circular"),
        ((3, 4, 5), (1, -2), "constant"), ((2, 3, 4, 5), (-1, 2, 1, -3), "constant"),
        ((2, 3, 2, 3, 4), (1, 1, 1, 0, 0, 1), "reflect"),
        ((2, 2, 3, 4), (1, 1, 2, 1, 1, 0), "replicate")]


@needs_torch
@pytest.mark.parametrize("shape, pad, mode", PADS, ids=[str(p) for p in PADS])
def test_pad_modes_match_torch(shape, pad, mode, device, rng):
    import torch.nn.functional as tf
    _compare(lambda a: F.pad(a, pad, mode=mode), lambda a: tf.pad(a, pad, mode=mode),
             [rng.standard_normal(shape)], device)


GRADCHECKS = [
    (lambda x, w: F.conv1d(x, w, stride=2, padding=1), [(1, 2, 5), (2, 2, 2)]),
    (lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
     [(1, 2, 2, 3), (2, 1, 2, 2)]),
    (lambda x, w: F.conv_transpose1d(x, w, stride=2, groups=2), [(1, 2, 3), (2, 1, 3)]),
    (lambda x: F.max_pool1d(x, 2, ceil_mode=True), [(1, 2, 5)]),
    (lambda x: F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
     [(1, 2, 6)]),
    (lambda x: F.max_pool2d(x, 2, ceil_mode=True), [(1, 1, 3, 5)]),
    (lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), [(1, 1, 4, 5)]),
    (lambda x: F.adaptive_avg_pool1d(x, 3), [(1, 2, 5)]),
    (lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [(1, 1, 3, 5)]),
    (lambda x: F.adaptive_max_pool2d(x, 2), [(1, 1, 3, 5)]),
    (lambda x: F.adaptive_max_pool1d(x, 2), [(1, 1, 5)]),
    (lambda x: F.pixel_shuffle(x, 2), [(1, 4, 2, 2)]),
    (lambda x: F.pixel_unshuffle(x, 2), [(1, 1, 2, 4)]),
    (lambda x: F.interpolate(x, scale_factor=2), [(1, 1, 2, 3)]),
    (lambda x: F.interpolate(x, size=(3, 4), mode="bilinear"), [(1, 1, 2, 3)]),
    (lambda x: F.interpolate(x, size=4, mode="linear", align_corners=True), [(1, 1, 3)]),
    (lambda x: F.pad(x, (2, 1, 1, 1), mode="reflect"), [(1, 1, 3, 3)]),
    (lambda x: F.pad(x, (2, 1), mode="replicate"), [(1, 2, 3)]),
    (lambda x: F.pad(x, (2, 1), mode="circular"), [(1, 2, 3)]),
    (lambda x: F.pad(x, (-1, 2)), [(2, 3)]),
]


@pytest.mark.parametrize("fn, shapes", GRADCHECKS, ids=[str(i) for i in range(len(GRADCHECKS))])
def test_gradcheck(fn, shapes, device, rng):
    assert gg.gradcheck(fn, [t64(rng.standard_normal(s), device) for s in shapes])


@pytest.mark.parametrize("index", [1, 2, 9, 14, 16])
def test_forward_mode_matches_backward(index, device, rng):
    """Forward mode flows through the compositions: J t from jvp equals it from vjps."""
    fn, shapes = GRADCHECKS[index]
    x = t64(rng.standard_normal(shapes[0]), device)
    rest = [t64(rng.standard_normal(s), device, requires_grad=False) for s in shapes[1:]]
    t = t64(rng.standard_normal(shapes[0]), device, requires_grad=False)
    out, tangent = gg.func.jvp(lambda a: fn(a, *rest), (x,), (t,))
    probe = t64(rng.standard_normal(out.shape), device, requires_grad=False)
    (grad,) = gg.grad((fn(x, *rest) * probe).sum(), [x])
    np.testing.assert_allclose(float(host((tangent * probe).sum())),
                               float(host((grad * t).sum())), rtol=1e-9)


@needs_torch
@pytest.mark.parametrize("call", [
    lambda m: m.conv1d(m.ones(1, 4, 5), m.ones(2, 3, 3)),
    lambda m: m.conv_transpose2d(m.ones(1, 3, 4, 4), m.ones(2, 2, 2, 2)),
    lambda m: m.conv_transpose2d(m.ones(1, 2, 4, 4), m.ones(2, 2, 2, 2), stride=2,
                                 output_padding=2),
    lambda m: m.conv_transpose1d(m.ones(1, 2, 4), m.ones(2, 2, 2), padding=3),
    lambda m: m.pixel_shuffle(m.ones(1, 3, 2, 2), 2),
    lambda m: m.adaptive_avg_pool2d(m.ones(2, 3), 2),
    lambda m: m.max_pool1d(m.ones(1, 1, 2, 2, 2), 2),
], ids=str)
def test_errors_are_torch_kinds(call):
    import torch.nn.functional as tf

    class G:
        ones = staticmethod(gg.ones)

        def __getattr__(self, name):
            return getattr(F, name)

    class T:
        ones = staticmethod(torch.ones)

        def __getattr__(self, name):
            return getattr(tf, name)
    with pytest.raises(Exception) as theirs:
        call(T())
    with pytest.raises(type(theirs.value)):  # ShapeError is a RuntimeError, as torch raises
        call(G())


def test_pad_and_interpolate_errors():
    with pytest.raises(ValueError, match="pad"):
        F.pad(gg.ones(1, 2, 3), (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="pad"):
        F.pad(gg.ones(3), (1, 1), mode="reflect")
    with pytest.raises(ValueError, match="interpolate"):
        F.interpolate(gg.ones(1, 1, 3), size=2, scale_factor=2.0)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(gg.ones(1, 1, 3), size=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="bilinear"):
        F.interpolate(gg.ones(1, 1, 3), size=2, mode="bilinear")
