"""Resampling: ``pixel_shuffle`` / ``pixel_unshuffle`` (reshapes and a permute) and
``interpolate`` ('nearest', 'linear', 'bilinear').

Interpolation is separable: each spatial dim is resampled on its own by index_select at
computed source positions (and, for the linear modes, a weighted sum of two of them), so the
gradient is index_select's scatter-add. Source positions follow PyTorch's formulas.
"""
import math

import numpy as np

from ...ops.errors import DTypeError, ShapeError, public_op


def _check_factor(name, factor):
    if not isinstance(factor, int) or isinstance(factor, bool) or factor < 1:
        raise ValueError(f"{name}: the factor must be a positive int, got {factor!r}")


@public_op
def pixel_shuffle(input, upscale_factor):
    """(*, C * r * r, H, W) -> (*, C, H * r, W * r), with r = ``upscale_factor``.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.pixel_shuffle(gg.arange(4.0).reshape(1, 4, 1, 1), 2).tolist()
    [[[[0.0, 1.0], [2.0, 3.0]]]]
    """
    _check_factor("pixel_shuffle", upscale_factor)
    r = upscale_factor
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise ShapeError(f"pixel_shuffle: expected an input of at least 3 dims whose "
                         f"channels divide by {r * r}, got shape {input.shape}")
    *batch, c, h, w = input.shape
    b = len(batch)
    x = input.reshape(*batch, c // (r * r), r, r, h, w)
    x = x.permute(*range(b), b, b + 3, b + 1, b + 4, b + 2)
    return x.reshape(*batch, c // (r * r), h * r, w * r)


@public_op
def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r * r, H, W): pixel_shuffle's inverse.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.pixel_unshuffle(gg.ones(1, 1, 4, 6), 2).shape
    (1, 4, 2, 3)
    """
    _check_factor("pixel_unshuffle", downscale_factor)
    r = downscale_factor
    if input.ndim < 3 or input.shape[-2] % r or input.shape[-1] % r:
        raise ShapeError(f"pixel_unshuffle: expected an input of at least 3 dims whose "
                         f"height and width divide by {r}, got shape {input.shape}")
    *batch, c, h, w = input.shape
    b = len(batch)
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    x = x.permute(*range(b), b, b + 2, b + 4, b + 1, b + 3)
    return x.reshape(*batch, c * r * r, h // r, w // r)


_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3}


def _out_sizes(input, size, scale_factor, recompute_scale_factor):
    """Output sizes and the scales PyTorch uses for source positions (None: in / out)."""
    spatial = input.shape[2:]
    k = len(spatial)
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size and scale_factor must be given")
    if size is not None:
        sizes = (size,) * k if isinstance(size, int) else tuple(size)
        if len(sizes) != k or any(not isinstance(s, int) or s < 1 for s in sizes):
            raise ValueError(f"interpolate: size must be {k} positive ints for a "
                             f"{input.ndim}-d input, got {size!r}")
        return sizes, (None,) * k
    factors = (scale_factor,) * k if isinstance(scale_factor, (int, float)) \
        else tuple(scale_factor)
    if len(factors) != k or any(not isinstance(f, (int, float)) or not f > 0
                                for f in factors):
        raise ValueError(f"interpolate: scale_factor must be {k} positive numbers for a "
                         f"{input.ndim}-d input, got {scale_factor!r}")
    sizes = tuple(int(math.floor(n * float(f))) for n, f in zip(spatial, factors))
    if min(sizes) < 1:
        raise ValueError(f"interpolate: scale_factor {scale_factor!r} gives an empty output")
    if recompute_scale_factor:
        return sizes, (None,) * k
    return sizes, tuple(1.0 / float(f) for f in factors)


def _nearest_index(xp, n_in, n_out, scale):
    # PyTorch computes nearest source positions in float32: floor(dst * scale).
    scale = np.float32(n_in / n_out if scale is None else scale)
    src = np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(np.int64)
    return xp.asarray(np.minimum(src, n_in - 1))


def _linear_weights(n_in, n_out, scale, align_corners):
    if align_corners:
        step = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        src = np.arange(n_out) * step
    else:
        step = n_in / n_out if scale is None else scale
        src = np.maximum((np.arange(n_out) + 0.5) * step - 0.5, 0.0)
    lo = np.minimum(src.astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, src - lo


def _along(x, dim, index):
    return x.index_select(dim, x._like(index))


@public_op
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resample the spatial dims of a (N, C, ...) input to ``size`` or by ``scale_factor``:
    'nearest' (1 to 3 spatial dims), 'linear' (3-d input) or 'bilinear' (4-d input).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.interpolate(gg.tensor([[[1.0, 2.0]]]), scale_factor=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    >>> F.interpolate(gg.tensor([[[1.0, 2.0]]]), size=3, mode="linear",
    ...               align_corners=True).tolist()
    [[[1.0, 1.5, 2.0]]]
    """
    if mode not in ("nearest", "linear", "bilinear"):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (use "
                                  "'nearest', 'linear' or 'bilinear')")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners option can only be set with the "
                         "interpolating modes: linear | bilinear")
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(f"interpolate: expected a 3-d, 4-d or 5-d input, got "
                                  f"shape {input.shape}")
    if mode != "nearest" and input.ndim != _DIMS[mode] + 2:
        raise NotImplementedError(f"interpolate: got a {input.ndim}-d input, but {mode} mode "
                                  f"needs a {_DIMS[mode] + 2}-d input")
    if input.dtype.kind != "f" and mode != "nearest":
        raise DTypeError(f"interpolate: {mode} mode needs a floating point input, got "
                         f"{input.dtype}")
    sizes, scales = _out_sizes(input, size, scale_factor, recompute_scale_factor)
    xp = input._backend.xp
    out = input
    for dim, n_out, scale in zip(range(2, input.ndim), sizes, scales):
        n_in = input.shape[dim]
        if n_in == 0:
            raise ShapeError(f"interpolate: input of shape {input.shape} is empty")
        if mode == "nearest":
            out = _along(out, dim, _nearest_index(xp, n_in, n_out, scale))
            continue
        lo, hi, frac = _linear_weights(n_in, n_out, scale, bool(align_corners))
        shape = (n_out,) + (1,) * (input.ndim - dim - 1)
        w_hi = out._like(xp.asarray(frac.reshape(shape), dtype=input.dtype))
        w_lo = out._like(xp.asarray((1.0 - frac).reshape(shape), dtype=input.dtype))
        out = _along(out, dim, xp.asarray(lo)) * w_lo + _along(out, dim, xp.asarray(hi)) * w_hi
    return out
