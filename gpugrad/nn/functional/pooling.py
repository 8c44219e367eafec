"""Pooling: ``max_pool2d`` and ``avg_pool2d`` as reductions over im2col windows.

Both are compositions (unfold, then max or mean over the window axis), so their backward
is fold's scatter-add and they get double backward and forward mode for free. Max pooling
pads with -inf and sends each window's gradient to its first maximum, as PyTorch does.
"""
import numpy as np

from ...ops.errors import public_op
from .conv import Unfold, _geometry, _out_size
from .padding import pad


def _pool_setup(name, input, kernel_size, stride, padding, dilation, ceil_mode):
    if ceil_mode:
        raise NotImplementedError(f"{name}: ceil_mode=True is not supported")
    if input.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 3-d or 4-d input, got shape {input.shape}")
    if stride is None or (not isinstance(stride, int) and len(stride) == 0):
        stride = kernel_size
    geometry = _geometry(kernel_size, dilation, padding, stride)
    (kh, kw), _, (ph, pw), _ = geometry
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{name}: padding {(ph, pw)} should be at most half of the kernel "
                         f"size {(kh, kw)}")
    return geometry


def _windows(input, geometry):
    """(N, C, kh * kw, OH, OW) windows of a 4-d input that is already padded."""
    n, c = input.shape[:2]
    oh, ow = _out_size("pool", input.shape[2:], geometry)
    cols = Unfold.apply(input, geometry=geometry)
    return cols.reshape(n, c, geometry[0][0] * geometry[0][1], oh, ow)


@public_op
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over each (dilated) kernel window; stride defaults to the kernel size.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.max_pool2d(gg.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    if return_indices:
        raise NotImplementedError("max_pool2d: return_indices=True is not supported")
    geometry = _pool_setup("max_pool2d", input, kernel_size, stride, padding, dilation,
                           ceil_mode)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    (ph, pw) = geometry[2]
    x = pad(x, (pw, pw, ph, ph), value=-np.inf)
    unpadded = (geometry[0], geometry[1], (0, 0), geometry[3])
    out = _windows(x, unpadded).max(dim=2).values
    return out.squeeze(0) if unbatched else out


@public_op
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over each kernel window; zero padding counts unless ``count_include_pad=False``.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.avg_pool2d(gg.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    geometry = _pool_setup("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    windows = _windows(x, geometry)
    if divisor_override is not None:
        out = windows.sum(2) / divisor_override
    elif count_include_pad or geometry[2] == (0, 0):
        out = windows.mean(2)
    else:
        out = windows.sum(2) / _valid_counts(x, geometry)
    return out.squeeze(0) if unbatched else out


def _valid_counts(x, geometry):
    """How many real (non-padding) inputs each window covers, as a constant tensor."""
    xp = x._backend.xp
    ones = x._like(xp.ones((1, 1) + x.shape[2:], dtype=x.dtype))
    return _windows(ones, geometry).sum(2)
