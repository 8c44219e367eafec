"""Pooling: ``max_pool2d`` and ``avg_pool2d`` over kernel windows, and their 1-d forms on a
height-1 view.

Max pooling is one op, ``MaxPool2d``: a running maximum over the kh * kw strided slices of
the (-inf padded) input, one per kernel offset, which also records each window's winning
offset. PyTorch's rule picks it: the first maximum in scan order, or the last NaN. Its
backward (``MaxPoolScatter``) sends each window's gradient to that one element, and its
adjoint (``MaxPoolGather``) reads a tensor at those elements, so double backward and forward
mode are each other's ops. Average pooling is a composition (unfold, then a mean over the
window axis), so its derivatives come from fold. ``ceil_mode`` pads the far side so that a
last, partial window exists.
"""
import numpy as np

from ...autograd.function import Function
from ...ops.errors import ShapeError, public_op
from .conv import Unfold, _geometry, _offsets, _out_size, _single
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


class _Plan:
    """Where a max pool's windows lie and which element of each won: what its backward and
    forward-mode ops need, computed once by the forward."""

    def __init__(self, geometry, extra, hw, out_hw, index):
        self.geometry, self.extra, self.hw, self.out_hw = geometry, extra, hw, out_hw
        self.index = index  # (N, C, OH, OW): the winning offset i * kw + j of each window
        (ph, pw), (eh, ew) = geometry[2], extra
        self.padded_hw = (hw[0] + 2 * ph + eh, hw[1] + 2 * pw + ew)
        (kh, kw), (dh, dw), _, (sh, sw) = geometry
        # Windows no wider than their stride never share an element: plain stores suffice.
        self.disjoint = dh * (kh - 1) < sh and dw * (kw - 1) < sw
        # Windows that tile the padded plane exactly leave no element to zero beforehand.
        self.tiled = all(d == 1 and s == k and o * s == size for d, s, k, o, size in
                         zip((dh, dw), (sh, sw), (kh, kw), out_hw, self.padded_hw))

    def offsets(self):
        """(offset number, rows, cols) of each kernel offset in the padded plane."""
        kw = self.geometry[0][1]
        for i, j, rows, cols in _offsets(self.geometry, self.out_hw):
            yield i * kw + j, rows, cols

    def crop(self, xp, padded):
        (ph, pw), (h, w) = self.geometry[2], self.hw
        if padded.shape[2:] == (h, w):
            return padded
        return xp.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])

    def pad(self, xp, x, value):
        if x.shape[2:] == self.padded_hw:
            return x
        (ph, pw), (h, w) = self.geometry[2], self.hw
        out = xp.full(x.shape[:2] + self.padded_hw, value, dtype=x.dtype)
        out[:, :, ph:ph + h, pw:pw + w] = x
        return out


class _ReadsWinners(Function):
    """Base of the ops that read each window's winning element: max pooling and, at fixed
    winners the same linear map, MaxPoolGather. Backward scatters, forward mode gathers."""

    @staticmethod
    def backward(ctx, g):
        return MaxPoolScatter.apply(g, plan=ctx.plan)

    @staticmethod
    def jvp(ctx, t):
        return MaxPoolGather.apply(t, plan=ctx.plan)


class MaxPool2d(_ReadsWinners):
    """Maximum over each window of a 4-d input; ``ctx.plan`` keeps the winners."""

    @staticmethod
    def forward(ctx, xp, x, geometry, extra, plans=None):
        hw = x.shape[2:]
        padded_hw = tuple(s + 2 * p + e for s, p, e in zip(hw, geometry[2], extra))
        out_hw = _out_size("max_pool2d", padded_hw, _unpadded(geometry))
        kk = geometry[0][0] * geometry[0][1]
        index = xp.zeros(x.shape[:2] + out_hw, dtype=np.int8 if kk < 128 else np.int32)
        plan = ctx.plan = _Plan(geometry, extra, hw, out_hw, index)
        if plans is not None:
            plans.append(plan)  # for return_indices, with or without a graph
        lowest = np.iinfo(x.dtype).min if x.dtype.kind in "iu" else -np.inf
        padded = plan.pad(xp, x, lowest)
        # On the host one check for NaN after the scan is cheaper than a test per element;
        # a GPU tests every element instead of syncing to look.
        host = xp is np
        best = None
        for k, rows, cols in plan.offsets():
            window = padded[:, :, rows, cols]
            if best is None:
                best = window.copy()
                continue
            # A strictly larger element takes the window (ties keep the first), and so
            # does a NaN (the last one, PyTorch's rule). k grows along the scan, so
            # max(index, k * wins) sets index to k exactly where the window wins:
            # arithmetic, as NumPy's where is slow on unpredictable masks.
            wins = window > best
            if not host:
                wins |= xp.isnan(window)
            xp.maximum(index, wins * index.dtype.type(k), out=index)
            xp.maximum(best, window, out=best)  # NaN propagates, as PyTorch's max does
        if host and bool(xp.isnan(best).any()):
            for k, rows, cols in plan.offsets():
                index = xp.where(xp.isnan(padded[:, :, rows, cols]), index.dtype.type(k),
                                 index)
            plan.index = index
        return best


class MaxPoolScatter(Function):
    """(N, C, OH, OW) -> (N, C, H, W): each window's value to its winning element (summed
    where windows overlap), zeros elsewhere. Linear; MaxPoolGather is its adjoint."""

    @staticmethod
    def forward(ctx, xp, g, plan):
        ctx.plan = plan
        make = xp.empty if plan.tiled else xp.zeros
        out = make(g.shape[:2] + plan.padded_hw, dtype=g.dtype)
        # On the host g * mask is much faster than xp.where, but inf * 0 is NaN: a
        # non-finite g (or a GPU, which would have to sync to check) takes xp.where.
        finite = xp is np and bool(xp.isfinite(g).all())
        for k, rows, cols in plan.offsets():
            mine = plan.index == k
            if plan.disjoint and finite:
                xp.multiply(g, mine, out=out[:, :, rows, cols])
            elif plan.disjoint:
                out[:, :, rows, cols] = xp.where(mine, g, 0)
            else:
                out[:, :, rows, cols] += g * mine if finite else xp.where(mine, g, 0)
        return plan.crop(xp, out)

    @staticmethod
    def backward(ctx, g):
        return MaxPoolGather.apply(g, plan=ctx.plan)

    @staticmethod
    def jvp(ctx, t):
        return MaxPoolScatter.apply(t, plan=ctx.plan)


class MaxPoolGather(_ReadsWinners):
    """(N, C, H, W) -> (N, C, OH, OW): each window's winning element."""

    @staticmethod
    def forward(ctx, xp, x, plan):
        ctx.plan = plan
        padded = plan.pad(xp, x, 0)
        out = xp.zeros(x.shape[:2] + plan.out_hw, dtype=x.dtype)
        for k, rows, cols in plan.offsets():
            out = xp.where(plan.index == k, padded[:, :, rows, cols], out)
        return out


def _flat_indices(x, index, geometry, width):
    """Window offsets of each maximum -> indices into the flattened (H * W) input plane."""
    xp = x._backend.xp
    (_, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    k = index.astype(np.int64)
    oh, ow = k.shape[-2:]
    rows = xp.arange(oh).reshape(-1, 1) * sh + (k // kw) * dh - ph
    cols = xp.arange(ow).reshape(1, -1) * sw + (k % kw) * dw - pw
    return x._like(rows * width + cols)


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
    geometry, extra = _pool_setup("max_pool2d", input, kernel_size, stride, padding,
                                  dilation, ceil_mode)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    if not return_indices:
        out = MaxPool2d.apply(x, geometry=geometry, extra=extra)
        return out.squeeze(0) if unbatched else out
    plans = []
    out = MaxPool2d.apply(x, geometry=geometry, extra=extra, plans=plans)
    index = _flat_indices(x, plans[0].index, geometry, x.shape[-1])
    if unbatched:
        out, index = out.squeeze(0), index.squeeze(0)
    return out, index


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
