"""``pad``: constant padding of the last dimensions, PyTorch's argument order."""
from ...autograd.function import Function
from ...ops.errors import public_op


class Pad(Function):
    """Constant padding; the gradient is the slice of the padded gradient."""

    @staticmethod
    def forward(ctx, xp, x, widths, value):
        ctx.widths = widths
        return xp.pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[_inner(ctx.widths, g.shape)]

    @staticmethod
    def jvp(ctx, t):
        return Pad.apply(t, widths=ctx.widths, value=0)


def _inner(widths, shape):
    return tuple(slice(lo, size - hi) for (lo, hi), size in zip(widths, shape))


@public_op
def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left, right, top, bottom, ...)`` starts
    with the last dim, as in PyTorch. Only ``mode='constant'`` with non-negative sizes.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.pad(gg.ones(1, 2), (1, 0), value=5.0).tolist()
    [[5.0, 1.0, 1.0]]
    """
    if mode != "constant":
        raise NotImplementedError(f"pad: only mode='constant' is supported, got {mode!r}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: padding {pad} must have an even length of at most "
                         f"2 * {input.ndim} entries for a {input.ndim}-d input")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {pad} is not supported")
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]
    widths = tuple([(0, 0)] * (input.ndim - len(pairs)) + pairs[::-1])
    if not any(lo or hi for lo, hi in widths):
        return input
    return Pad.apply(input, widths=widths, value=0 if value is None else value)
