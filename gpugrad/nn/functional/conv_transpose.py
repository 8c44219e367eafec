"""Transposed convolution: ``conv_transpose2d`` and ``conv_transpose1d``.

A transposed convolution is the adjoint of a convolution: one matmul takes each input pixel
to its kh * kw weighted contributions (columns), fold scatter-adds the columns into the full
output, and a (negative) pad crops ``padding`` and adds ``output_padding``.
Fold's backward is unfold, so gradients, double backward and jvp come for free.
"""
from ...ops.errors import ShapeError, public_op, same_dtype
from .conv import Fold, _geometry, _pair, _single
from .padding import pad


def _output_padding(output_padding, geometry):
    (sh, sw), (dh, dw) = geometry[3], geometry[1]
    op = _pair(output_padding, "output_padding")
    for o, s, d in zip(op, (sh, sw), (dh, dw)):
        if o < 0 or o >= max(s, d):
            raise ShapeError(f"conv_transpose2d: output_padding {op} must be non-negative and "
                             f"smaller than either stride {(sh, sw)} or dilation {(dh, dw)}")
    return op


@public_op
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """2-d transposed convolution of (N, C, H, W) ``input`` with (C, O / groups, kh, kw)
    ``weight``: the gradient of conv2d with respect to its input, as in PyTorch.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.conv_transpose2d(gg.ones(1, 1, 2, 2), gg.ones(1, 1, 2, 2)).tolist()
    [[[[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]]]
    """
    unbatched = input.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    if input.ndim != 4:
        raise ShapeError(f"conv_transpose2d: expected a 3-d or 4-d input, got shape "
                         f"{input.shape}")
    same_dtype("conv_transpose2d", input, weight)
    if weight.ndim != 4:
        raise ShapeError(f"conv_transpose2d: expected a 4-d weight (C, O/groups, kh, kw), "
                         f"got shape {weight.shape}")
    n, c, h, w = input.shape
    c_in, o_group, kh, kw = weight.shape
    if not isinstance(groups, int) or groups < 1 or c != c_in or c % groups:
        raise ShapeError(f"conv_transpose2d: input with {c} channels, weight of shape "
                         f"{weight.shape} and groups={groups} do not fit (need C == "
                         f"weight.shape[0], divisible by groups)")
    geometry = _geometry((kh, kw), dilation, padding, stride)
    op = _output_padding(output_padding, geometry)
    (dh, dw), (ph, pw), (sh, sw) = geometry[1:]
    out_hw = ((h - 1) * sh - 2 * ph + dh * (kh - 1) + op[0] + 1,
              (w - 1) * sw - 2 * pw + dw * (kw - 1) + op[1] + 1)
    if min(out_hw) <= 0:
        raise ShapeError(f"conv_transpose2d: padding {(ph, pw)} leaves an output of size "
                         f"{out_hw} for an input of spatial size {(h, w)}")
    x = input.reshape(n, groups, c // groups, h * w)
    wt = weight.reshape(groups, c // groups, o_group * kh * kw).transpose(1, 2)
    cols = (wt @ x).reshape(n, groups * o_group * kh * kw, h * w)
    # Fold the full, unpadded output, then crop `padding` from both sides and add
    # output_padding on the far side (zeros past the last contribution): one path for
    # output_padding below the stride and for the larger ones a dilation allows.
    full_hw = ((h - 1) * sh + dh * (kh - 1) + 1, (w - 1) * sw + dw * (kw - 1) + 1)
    unpadded = (geometry[0], geometry[1], (0, 0), geometry[3])
    out = Fold.apply(cols, hw=full_hw, geometry=unpadded)
    out = pad(out, (-pw, op[1] - pw, -ph, op[0] - ph))
    if bias is not None:
        o = groups * o_group
        if bias.shape != (o,):
            raise ShapeError(f"conv_transpose2d: expected a bias of shape ({o},), got "
                             f"{bias.shape}")
        out = out + bias.reshape(1, o, 1, 1)
    return out.squeeze(0) if unbatched else out


@public_op
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """1-d transposed convolution of (N, C, L) ``input`` with (C, O / groups, k) ``weight``,
    computed as conv_transpose2d on a height-1 view.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.conv_transpose1d(gg.ones(1, 1, 3), gg.ones(1, 1, 2)).tolist()
    [[[1.0, 2.0, 2.0, 1.0]]]
    """
    if input.ndim not in (2, 3):
        raise ShapeError(f"conv_transpose1d: expected a 2-d or 3-d input, got shape "
                         f"{input.shape}")
    if weight.ndim != 3:
        raise ShapeError(f"conv_transpose1d: expected a 3-d weight (C, O/groups, k), got "
                         f"shape {weight.shape}")
    out = conv_transpose2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias,
                           (1, _single(stride, "stride")), (0, _single(padding, "padding")),
                           (0, _single(output_padding, "output_padding")), groups,
                           (1, _single(dilation, "dilation")))
    return out.squeeze(-2)
