"""Pooling: ``max_pool2d`` and ``avg_pool2d`` as reductions over im2col windows, and their
1-d forms on a height-1 view.

Both are compositions (unfold, then max or mean over the window axis), so their backward
is fold's scatter-add and they get double backward and forward mode for free. Max pooling
pads with -inf and sends each window's gradient to its first maximum, as PyTorch does.
``ceil_mode`` pads the far side so that a last, partial window exists.
"""
import numpy as np

from ...ops.errors import ShapeError, public_op
from .conv import Unfold, _geometry, _out_size, _single
from .padding import pad


def _ceil_extra(size, k, d, p, s):
    """Padding on the far side that ceil_mode needs (PyTorch's pooling_output_shape)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = -(-span // s) + 1
    if (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the input or its left padding
    return max(0, (out - 1) * s + d * (k - 1) + 1 - (size + 2 * p))


def _pool_setup(name, input, kernel_size, stride, padding, dilation, ceil_mode):
    """The geometry and the far-side extra padding (eh, ew) of ceil_mode."""
    if input.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 3-d or 4-d input, got shape {input.shape}")
    if stride is None or (not isinstance(stride, int) and len(stride) == 0):
        stride = kernel_size
    geometry = _geometry(kernel_size, dilation, padding, stride)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{name}: padding {(ph, pw)} should be at most half of the kernel "
                         f"size {(kh, kw)}")
    _out_size(name, input.shape[-2:], geometry)
    if not ceil_mode:
        return geometry, (0, 0)
    hw = input.shape[-2:]
    return geometry, (_ceil_extra(hw[0], kh, dh, ph, sh), _ceil_extra(hw[1], kw, dw, pw, sw))


def _windows(input, geometry):
    """(N, C, kh * kw, OH, OW) windows of a 4-d input that is already padded."""
    n, c = input.shape[:2]
    oh, ow = _out_size("pool", input.shape[2:], geometry)
    cols = Unfold.apply(input, geometry=geometry)
    return cols.reshape(n, c, geometry[0][0] * geometry[0][1], oh, ow)


def _unpadded(geometry):
    return (geometry[0], geometry[1], (0, 0), geometry[3])


def _flat_indices(x, argmax, geometry, width):
    """Window offsets of each maximum -> indices into the flattened (H * W) input plane."""
    xp = x._backend.xp
    (_, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    k = argmax._data
    oh, ow = k.shape[-2:]
    rows = xp.arange(oh).reshape(-1, 1) * sh + (k // kw) * dh - ph
    cols = xp.arange(ow).reshape(1, -1) * sw + (k % kw) * dw - pw
    return x._like((rows * width + cols).astype(np.int64))


@public_op
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over each (dilated) kernel window; stride defaults to the kernel size.
    ``return_indices=True`` also returns the flat (H * W) index of each maximum.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.max_pool2d(gg.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    geometry, (eh, ew) = _pool_setup("max_pool2d", input, kernel_size, stride, padding,
                                     dilation, ceil_mode)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    (ph, pw) = geometry[2]
    padded = pad(x, (pw, pw + ew, ph, ph + eh), value=-np.inf)
    out, argmax = _windows(padded, _unpadded(geometry)).max(dim=2)
    if unbatched:
        out, argmax = out.squeeze(0), argmax.squeeze(0)
    if not return_indices:
        return out
    return out, _flat_indices(x, argmax, geometry, x.shape[-1])


@public_op
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over each kernel window; zero padding counts unless ``count_include_pad=False``.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.avg_pool2d(gg.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    if divisor_override is not None and (not isinstance(divisor_override, int)
                                         or divisor_override == 0):
        raise ValueError(f"avg_pool2d: divisor_override must be a non-zero int, got "
                         f"{divisor_override!r}")
    geometry, (eh, ew) = _pool_setup("avg_pool2d", input, kernel_size, stride, padding, 1,
                                     ceil_mode)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    (ph, pw) = geometry[2]
    windows = _windows(pad(x, (pw, pw + ew, ph, ph + eh)), _unpadded(geometry))
    if divisor_override is not None:
        out = windows.sum(2) / divisor_override
    elif geometry[2] == (0, 0) and (eh, ew) == (0, 0):
        out = windows.mean(2)
    else:
        out = windows.sum(2) / _counts(x, geometry, (eh, ew), count_include_pad)
    return out.squeeze(0) if unbatched else out


def _counts(x, geometry, extra, count_include_pad):
    """PyTorch's divisor per window, as a constant: the inputs it covers, with the zero
    padding counted if ``count_include_pad``, and ceil_mode's extra cells never counted."""
    xp = x._backend.xp
    (ph, pw), (eh, ew) = geometry[2], extra
    h, w = x.shape[2:]
    mask = xp.zeros((1, 1, h + 2 * ph + eh, w + 2 * pw + ew), dtype=x.dtype)
    if count_include_pad:
        mask[:, :, :h + 2 * ph, :w + 2 * pw] = 1
    else:
        mask[:, :, ph:ph + h, pw:pw + w] = 1
    return _windows(x._like(mask), _unpadded(geometry)).sum(2)


def _check_1d(name, input):
    if input.ndim not in (2, 3):
        raise ShapeError(f"{name}: expected a 2-d or 3-d input, got shape {input.shape}")


def _stride_1d(stride, kernel_size):
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel_size
    return stride


@public_op
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over each window of a (N, C, L) input; stride defaults to the kernel size.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.max_pool1d(gg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[3.0, 2.0]]]
    """
    _check_1d("max_pool1d", input)
    k = _single(kernel_size, "kernel_size")
    s = _single(_stride_1d(stride, kernel_size), "stride")
    out = max_pool2d(input.unsqueeze(-2), (1, k), (1, s), (0, _single(padding, "padding")),
                     (1, _single(dilation, "dilation")), ceil_mode, return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


@public_op
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over each window of a (N, C, L) input; stride defaults to the kernel size.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.avg_pool1d(gg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[2.0, 1.0]]]
    """
    _check_1d("avg_pool1d", input)
    k = _single(kernel_size, "kernel_size")
    s = _single(_stride_1d(stride, kernel_size), "stride")
    out = avg_pool2d(input.unsqueeze(-2), (1, k), (1, s), (0, _single(padding, "padding")),
                     ceil_mode, count_include_pad)
    return out.squeeze(-2)
