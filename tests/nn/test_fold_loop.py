"""col2im's Numba loop (``kernels/_cpu_fold.py``) against the generic NumPy path it replaces
on the CPU: the same sums in the same order, so equal bit for bit."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.nn.functional import conv

GEOMETRIES = [  # (kernel, dilation, padding, stride), image size
    (((3, 3), (1, 1), (0, 0), (1, 1)), (9, 9)),
    (((3, 3), (2, 1), (1, 2), (2, 1)), (11, 9)),
    (((2, 3), (1, 1), (1, 0), (2, 3)), (8, 10)),
    (((1, 1), (1, 1), (0, 0), (1, 1)), (4, 5)),
]


def _out_hw(geometry, hw):
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    return ((hw[0] + 2 * ph - dh * (kh - 1) - 1) // sh + 1,
            (hw[1] + 2 * pw - dw * (kw - 1) - 1) // sw + 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry, hw", GEOMETRIES)
def test_loop_equals_the_numpy_path(geometry, hw, dtype, monkeypatch, rng):
    (kh, kw) = geometry[0]
    oh, ow = _out_hw(geometry, hw)
    cols = rng.standard_normal((3, 2 * kh * kw, oh * ow)).astype(dtype)
    assert conv._loop_fold(np, cols)
    fast = conv._col2im(np, cols, hw, geometry, (oh, ow))
    monkeypatch.setattr(conv, "_loop_fold", lambda xp, c: False)
    slow = conv._col2im(np, cols, hw, geometry, (oh, ow))
    assert fast.dtype == dtype
    np.testing.assert_array_equal(fast, slow)


def test_fold_with_the_loop_matches_torch_and_gradchecks(rng):
    torch = pytest.importorskip("torch")
    cols = rng.standard_normal((2, 3 * 4, 9))  # 3 x 3 blocks of 2 x 2 in a 5 x 4 image
    out = F.fold(gg.tensor(cols), (5, 4), kernel_size=2, stride=1, dilation=(2, 1))
    want = torch.nn.functional.fold(torch.tensor(cols), (5, 4), kernel_size=2, stride=1,
                                    dilation=(2, 1))
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    x = gg.tensor(rng.standard_normal((1, 2, 6, 5)), requires_grad=True)
    w = gg.tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    assert gg.gradcheck(lambda a, b: F.conv2d(a, b, stride=(2, 1), padding=1), (x, w))


def test_non_contiguous_or_integer_columns_take_the_numpy_path():
    assert not conv._loop_fold(np, np.ones((1, 4, 4), np.int64))
    assert not conv._loop_fold(np, np.ones((1, 4, 8), np.float32)[:, :, ::2])
