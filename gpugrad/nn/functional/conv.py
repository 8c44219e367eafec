"""Convolution by im2col: ``unfold`` (sliding blocks to columns), ``fold`` (its adjoint,
columns scatter-added back), and ``conv2d`` as one batched matmul of the columns.

Unfold is one copy of a strided view of the padded input (``as_strided``: axes N, C, kernel
row, kernel column, output row, output column), on NumPy and CuPy alike; large unpadded float
inputs with a column stride of 1 on the CPU take :mod:`kernels._cpu_fold`'s loop instead,
which spreads the planes over the threads. Fold loops over the kh * kw kernel offsets adding
one strided slice per offset: within one offset the positions are distinct, so its ``+=``
needs no atomic scatter, and this beats ``add.at``. Unfold and fold are each other's
backward, so convolution has double backward and forward mode for free.
"""
import numpy as np

from ...autograd.function import Function
from ...ops.errors import ShapeError, public_op, same_dtype
from ...threads import apply_to_numba, parallel_loops
from .padding import pad


def _pair(value, name):
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(not isinstance(v, int) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair


def _geometry(kernel_size, dilation, padding, stride):
    """The four pairs, checked up front: a zero stride would divide by zero deep inside,
    and a zero kernel would silently give an all-zero output."""
    geometry = (_pair(kernel_size, "kernel_size"), _pair(dilation, "dilation"),
                _pair(padding, "padding"), _pair(stride, "stride"))
    for name, pair, least in zip(("kernel_size", "dilation", "padding", "stride"), geometry,
                                 (1, 1, 0, 1)):
        if min(pair) < least:
            rule = "non-negative" if least == 0 else "positive"
            raise ShapeError(f"{name} must be {rule}, got {pair}")
    return geometry


def _out_size(name, hw, geometry):
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    oh = (hw[0] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (hw[1] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh <= 0 or ow <= 0:
        raise ValueError(f"{name}: input of spatial size {tuple(hw)} (padding {(ph, pw)}) is "
                         f"smaller than the dilated kernel {(kh, kw)} (dilation {(dh, dw)})")
    return oh, ow


def _offsets(geometry, out_hw):
    """(i, j, slice of rows, slice of cols) in the padded input for each kernel offset."""
    (kh, kw), (dh, dw), _, (sh, sw) = geometry
    oh, ow = out_hw
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            yield i, j, rows, cols


def _im2col(xp, x, geometry, out_hw):
    """(N, C, H, W) -> (N, C * kh * kw, OH * OW): one copy of a strided view whose axes
    (N, C, i, j, oh, ow) step through the padded input, for any stride and dilation."""
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    n, c = x.shape[:2]
    work = n * c * kh * kw * out_hw[0] * out_hw[1]
    if ph == pw == 0 and sw == 1 and parallel_loops(xp, x, work=work):  # planes on threads
        cols = np.empty((n, c, kh, kw) + tuple(out_hw), dtype=x.dtype)
        _fold_kernels().im2col(x, cols, dh, dw, sh)
        return cols.reshape(n, c * kh * kw, out_hw[0] * out_hw[1])
    if ph or pw:
        x = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    sn, sc, sy, sx = x.strides
    windows = xp.lib.stride_tricks.as_strided(
        x, (n, c, kh, kw) + tuple(out_hw), (sn, sc, dh * sy, dw * sx, sh * sy, sw * sx))
    # copy(), not ascontiguousarray: a 1x1 kernel's view can already be contiguous, and the
    # columns must not alias the input (matmul saves them for backward).
    return windows.copy().reshape(n, c * kh * kw, out_hw[0] * out_hw[1])


def _col2im(xp, cols, hw, geometry, out_hw):
    (kh, kw), _, (ph, pw), _ = geometry
    n = cols.shape[0]
    c = cols.shape[1] // (kh * kw)
    cols = cols.reshape((n, c, kh, kw) + tuple(out_hw))
    out = xp.zeros((n, c, hw[0] + 2 * ph, hw[1] + 2 * pw), dtype=cols.dtype)
    if _loop_fold(xp, cols):  # one pass, planes spread over Numba's threads
        (dh, dw), (sh, sw) = geometry[1], geometry[3]
        _fold_kernels().col2im(cols, out, dh, dw, sh, sw)
    else:
        for i, j, rows, columns in _offsets(geometry, out_hw):
            out[:, :, rows, columns] += cols[:, :, i, j]
    return out[:, :, ph:ph + hw[0], pw:pw + hw[1]]


def _loop_fold(xp, cols):
    """Does :mod:`kernels._cpu_fold`'s loop take these columns: C-contiguous NumPy float32 or
    float64 (the generic path stays the reference, and CuPy's)?"""
    if not (xp is np and cols.dtype in (np.float32, np.float64) and cols.flags.c_contiguous
            and cols.size > 0):
        return False
    apply_to_numba()  # the loop runs on gg.set_num_threads's count of threads
    return True


def _fold_kernels():
    from ...kernels import _cpu_fold  # imports Numba: on first use only
    return _cpu_fold


class Unfold(Function):
    """(N, C, H, W) -> (N, C * kh * kw, L): every kernel window as a column (im2col)."""

    @staticmethod
    def forward(ctx, xp, x, geometry):
        ctx.geometry, ctx.hw = geometry, x.shape[2:]
        ctx.out_hw = _out_size("unfold", ctx.hw, geometry)
        return _im2col(xp, x, geometry, ctx.out_hw)

    @staticmethod
    def backward(ctx, g):
        return Fold.apply(g, hw=ctx.hw, geometry=ctx.geometry)

    @staticmethod
    def jvp(ctx, t):
        return Unfold.apply(t, geometry=ctx.geometry)


class Fold(Function):
    """(N, C * kh * kw, L) -> (N, C, H, W): columns summed back into place (col2im)."""

    @staticmethod
    def forward(ctx, xp, cols, hw, geometry):
        ctx.geometry, ctx.hw = geometry, hw
        out_hw = _out_size("fold", hw, geometry)
        (kh, kw) = geometry[0]
        if cols.ndim != 3 or cols.shape[1] % (kh * kw) or cols.shape[2] != out_hw[0] * out_hw[1]:
            raise ValueError(f"fold: expected input of shape (N, C * {kh * kw}, "
                             f"{out_hw[0] * out_hw[1]}), got {tuple(cols.shape)}")
        return _col2im(xp, cols, hw, geometry, out_hw)

    @staticmethod
    def backward(ctx, g):
        return Unfold.apply(g, geometry=ctx.geometry)

    @staticmethod
    def jvp(ctx, t):
        return Fold.apply(t, hw=ctx.hw, geometry=ctx.geometry)


def _check_4d(name, input):
    if input.ndim != 4:
        raise ShapeError(f"{name}: expected a 4-d (N, C, H, W) input, got shape {input.shape}")


@public_op
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks of a (N, C, H, W) input as columns: (N, C * kh * kw, L).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.unfold(gg.ones(2, 3, 4, 4), kernel_size=2).shape
    (2, 12, 9)
    """
    _check_4d("unfold", input)
    return Unfold.apply(input, geometry=_geometry(kernel_size, dilation, padding, stride))


@public_op
def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns (N, C * kh * kw, L) back into a (N, C, H, W) image (unfold's adjoint).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.fold(gg.ones(1, 4, 4), (3, 3), kernel_size=2).tolist()[0][0]
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    hw = _pair(output_size, "output_size")
    return Fold.apply(input, hw=hw, geometry=_geometry(kernel_size, dilation, padding, stride))


def _same_padding(input, weight_hw, dilation, stride):
    """PyTorch's padding='same': total d * (k - 1) per dim, the odd extra on the far side."""
    if _pair(stride, "stride") != (1, 1):
        raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
    dh, dw = _pair(dilation, "dilation")
    th, tw = dh * (weight_hw[0] - 1), dw * (weight_hw[1] - 1)
    if th % 2 == 0 and tw % 2 == 0:
        return input, (th // 2, tw // 2)
    return pad(input, (tw // 2, tw - tw // 2, th // 2, th - th // 2)), (0, 0)


@public_op
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d cross-correlation of (N, C, H, W) ``input`` with (O, C / groups, kh, kw) ``weight``.

    ``padding`` may be an int, a pair, 'valid' or 'same' (stride 1), as in PyTorch.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.conv2d(gg.ones(1, 1, 3, 3), gg.ones(1, 1, 2, 2)).tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    unbatched = input.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    _check_4d("conv2d", input)
    same_dtype("conv2d", input, weight)
    if weight.ndim != 4:
        raise ShapeError(f"conv2d: expected a 4-d weight (O, C/groups, kh, kw), got shape "
                         f"{weight.shape}")
    n, c, _, _ = input.shape
    o, c_group, kh, kw = weight.shape
    if groups < 1 or c != c_group * groups or o % groups:
        raise ShapeError(f"conv2d: input with {c} channels, weight of shape {weight.shape} and "
                         f"groups={groups} do not fit (need C == weight.shape[1] * groups and "
                         f"O divisible by groups)")
    if padding == "valid":
        padding = 0
    elif padding == "same":
        input, padding = _same_padding(input, (kh, kw), dilation, stride)
    geometry = _geometry((kh, kw), dilation, padding, stride)
    oh, ow = _out_size("conv2d", input.shape[2:], geometry)
    cols = Unfold.apply(input, geometry=geometry)
    cols = cols.reshape(n, groups, c_group * kh * kw, oh * ow)
    out = weight.reshape(groups, o // groups, c_group * kh * kw) @ cols
    out = out.reshape(n, o, oh, ow)
    if bias is not None:
        if bias.shape != (o,):
            raise ShapeError(f"conv2d: expected a bias of shape ({o},) for a weight of shape "
                             f"{weight.shape}, got {bias.shape}")
        out = out + bias.reshape(1, o, 1, 1)
    return out.squeeze(0) if unbatched else out


def _single(value, name):
    """An int or a 1-tuple (PyTorch's _single), as an int."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, int):
        raise ValueError(f"{name} must be an int or a 1-tuple of ints, got {value!r}")
    return value


@public_op
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d cross-correlation of (N, C, L) ``input`` with (O, C / groups, k) ``weight``,
    computed as conv2d on a height-1 view.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.conv1d(gg.ones(1, 1, 4), gg.ones(1, 1, 2)).tolist()
    [[[2.0, 2.0, 2.0]]]
    """
    if input.ndim not in (2, 3):
        raise ShapeError(f"conv1d: expected a 2-d or 3-d input, got shape {input.shape}")
    if weight.ndim != 3:
        raise ShapeError(f"conv1d: expected a 3-d weight (O, C/groups, k), got shape "
                         f"{weight.shape}")
    if not isinstance(padding, str):
        padding = (0, _single(padding, "padding"))
    out = conv2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias,
                 (1, _single(stride, "stride")), padding, (1, _single(dilation, "dilation")),
                 groups)
    return out.squeeze(-2)
