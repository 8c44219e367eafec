"""Adaptive pooling: a fixed output size, whatever the input size.

Output cell i along a dim of length L covers [floor(i * L / out), ceil((i + 1) * L / out)),
PyTorch's formula. Mean and max are separable, so each dim is pooled on its own: one slice
and reduction per output cell along it, stacked, which differentiates through the slices.
"""
import numpy as np

from ...ops.errors import ShapeError, public_op
from ...ops.join import stack


def _bounds(size, out):
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def _sizes(name, input, output_size, dims):
    if input.ndim not in (dims + 1, dims + 2):
        raise ShapeError(f"{name}: expected a {dims + 1}-d or {dims + 2}-d input, got shape "
                         f"{input.shape}")
    if isinstance(output_size, (int, type(None))):
        output_size = (output_size,) * dims
    output_size = tuple(output_size)
    if len(output_size) != dims:
        raise ValueError(f"{name}: output_size must be an int or {dims} ints, got "
                         f"{output_size!r}")
    spatial = input.shape[-dims:]
    sizes = tuple(size if out is None else out for out, size in zip(output_size, spatial))
    if any(not isinstance(s, int) or s < 1 for s in sizes):
        raise ShapeError(f"{name}: output_size must be positive, got {output_size!r}")
    if any(size == 0 for size in input.shape[1:]):
        raise ShapeError(f"{name}: input of shape {input.shape} has an empty non-batch dim")
    return sizes


def _pool_dim(x, dim, out, reduce):
    dim = dim % x.ndim
    parts = []
    for start, end in _bounds(x.shape[dim], out):
        parts.append(reduce(x[(slice(None),) * dim + (slice(start, end),)], dim))
    return stack(parts, dim)


def _mean(x, dim):
    return x.mean(dim)


def _max(x, dim):
    return x.max(dim=dim)[0]


@public_op
def adaptive_avg_pool1d(input, output_size):
    """Mean over ``output_size`` near-equal windows of a (N, C, L) input.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.adaptive_avg_pool1d(gg.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2).tolist()
    [[[2.0, 4.0]]]
    """
    (ol,) = _sizes("adaptive_avg_pool1d", input, output_size, 1)
    return _pool_dim(input, -1, ol, _mean)


@public_op
def adaptive_avg_pool2d(input, output_size):
    """Mean over an ``output_size`` grid of near-equal windows of a (N, C, H, W) input;
    ``None`` in ``output_size`` keeps that input size.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.adaptive_avg_pool2d(gg.ones(2, 3, 5, 7), (2, 3)).shape
    (2, 3, 2, 3)
    """
    oh, ow = _sizes("adaptive_avg_pool2d", input, output_size, 2)
    return _pool_dim(_pool_dim(input, -2, oh, _mean), -1, ow, _mean)


def _argmax_indices(input, out_hw):
    """Flat (H * W) index of each window's first maximum, as PyTorch returns it."""
    xp = input._backend.xp
    a = input._data
    h, w = a.shape[-2:]
    idx = xp.empty(a.shape[:-2] + tuple(out_hw), dtype=np.int64)
    for i, (hs, he) in enumerate(_bounds(h, out_hw[0])):
        for j, (ws, we) in enumerate(_bounds(w, out_hw[1])):
            window = a[..., hs:he, ws:we].reshape(a.shape[:-2] + (-1,))
            k = window.argmax(-1)
            idx[..., i, j] = (hs + k // (we - ws)) * w + ws + k % (we - ws)
    return input._like(idx)


@public_op
def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Maximum over an ``output_size`` grid of near-equal windows of a (N, C, H, W) input;
    ``return_indices=True`` also returns the flat (H * W) index of each maximum.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.adaptive_max_pool2d(gg.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    oh, ow = _sizes("adaptive_max_pool2d", input, output_size, 2)
    out = _pool_dim(_pool_dim(input, -2, oh, _max), -1, ow, _max)
    if return_indices:
        return out, _argmax_indices(input, (oh, ow))
    return out


@public_op
def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Maximum over ``output_size`` near-equal windows of a (N, C, L) input.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.adaptive_max_pool1d(gg.tensor([[[1.0, 5.0, 3.0, 4.0, 2.0]]]), 2).tolist()
    [[[5.0, 4.0]]]
    """
    (ol,) = _sizes("adaptive_max_pool1d", input, output_size, 1)
    out = _pool_dim(input, -1, ol, _max)
    if return_indices:
        return out, _argmax_indices(input.unsqueeze(-2), (1, ol)).squeeze(-2)
    return out
