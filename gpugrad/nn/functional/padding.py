"""``pad``: padding of the last dimensions, PyTorch's argument order: constant (a Function),
and reflect / replicate / circular (index_select with computed source indices)."""
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


def _source_index(xp, size, lo, hi, mode):
    """For each output position along a dim, the input position it copies. A negative side
    crops first; the other side then wraps, mirrors or repeats the cropped range (as
    PyTorch's circular padding does)."""
    start = max(-lo, 0)
    size -= start + max(-hi, 0)
    j = xp.arange(-max(lo, 0), size + max(hi, 0))
    if mode == "replicate":
        j = xp.clip(j, 0, size - 1)
    elif mode == "circular":
        j = j % size
    else:
        period = 2 * (size - 1)  # reflect: mirror about the first and last entries
        j = xp.abs(j) % period if period else j * 0
        j = xp.where(j >= size, period - j, j)
    return j + start


def _pad_by_index(input, widths, mode):
    """reflect / replicate / circular as index_select per padded dim, so the gradient is
    index_select's scatter-add."""
    xp = input._backend.xp
    out = input
    for dim, (lo, hi) in enumerate(widths):
        if lo or hi:
            size = input.shape[dim] + min(lo, 0) + min(hi, 0)
            # replicate repeats the edge any number of times; reflect and circular read
            # the other entries, so a side may not outgrow them
            limit = size - 1 if mode == "reflect" else size
            if size <= 0 or (mode != "replicate" and max(lo, hi) > limit):
                raise ValueError(f"pad: padding ({lo}, {hi}) is too large for a dim of size "
                                 f"{input.shape[dim]} in mode {mode!r}")
            index = _source_index(xp, input.shape[dim], lo, hi, mode).astype("int64")
            out = out.index_select(dim, input._like(index))
    return out


@public_op
def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left, right, top, bottom, ...)`` starts
    with the last dim, as in PyTorch. ``mode`` is 'constant' (negative sizes crop),
    'reflect', 'replicate' or 'circular' (these pad at most the last 3 dims of a batched or
    unbatched input).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.pad(gg.ones(1, 2), (1, 0), value=5.0).tolist()
    [[5.0, 1.0, 1.0]]
    >>> F.pad(gg.tensor([[[1.0, 2.0, 3.0]]]), (2, 1), mode="reflect").tolist()
    [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]]
    """
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (use 'constant', "
                                  "'reflect', 'replicate' or 'circular')")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: padding {pad} must have an even length of at most "
                         f"2 * {input.ndim} entries for a {input.ndim}-d input")
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]
    widths = tuple([(0, 0)] * (input.ndim - len(pairs)) + pairs[::-1])
    if mode != "constant":
        k = len(pairs)
        if k > 3 or input.ndim not in (k + 1, k + 2):
            raise NotImplementedError(f"pad: mode {mode!r} pads the last 1 to 3 dims of a "
                                      f"({k + 1})-d or ({k + 2})-d input, got {len(pad)} "
                                      f"padding sizes for a {input.ndim}-d input")
        if value not in (None, 0, 0.0):
            raise ValueError(f"pad: padding mode {mode!r} does not take a value")
        return _pad_by_index(input, widths, mode)
    if any(lo + hi + size < 0 for (lo, hi), size in zip(widths, input.shape)):
        raise ValueError(f"pad: padding {pad} crops more than the input shape {input.shape}")
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        crop = tuple(slice(-min(lo, 0), size + min(hi, 0))
                     for (lo, hi), size in zip(widths, input.shape))
        input = input[crop]
        widths = tuple((max(lo, 0), max(hi, 0)) for lo, hi in widths)
    if not any(lo or hi for lo, hi in widths):
        return input
    return Pad.apply(input, widths=widths, value=0 if value is None else value)
