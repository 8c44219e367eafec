"""Scans: cumsum and cumprod along one dim, and the exclusive products that ``prod``'s
gradient is made of. Gradients are written without dividing by the input, so they stay exact
where it holds zeros."""
import numpy as np

from ..autograd.function import Function
from ._util import norm_dim
from .join import cat
from .select import masked_fill
from .errors import public_op


class Cumsum(Function):
    @staticmethod
    def forward(ctx, xp, a, axis):
        ctx.axis = axis
        return xp.cumsum(a, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return reverse_cumsum(g, ctx.axis)

    @staticmethod
    def jvp(ctx, t):
        return Cumsum.apply(t, axis=ctx.axis)


class Cumprod(Function):
    saves_inputs = (0,)
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a, axis):
        ctx.axis = axis
        return xp.cumprod(a, axis=axis)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        axis = ctx.axis
        if not a._backend.xp.any(a._data == 0):
            # d out_k / d a_i = out_k / a_i for every k >= i
            return reverse_cumsum(g * out, axis) / a
        # sum_k g_k d out_k / d a_i = prefix_i * sum_k M[i, k] g_k, without dividing
        prefix, spans = _zero_safe_factors(a, axis)
        g_last = g.transpose(axis, -1).unsqueeze(-1)
        return (prefix * (spans @ g_last).squeeze(-1)).transpose(axis, -1)

    @staticmethod
    def jvp(ctx, t):
        (a,), axis = ctx.inputs, ctx.axis
        if not a._backend.xp.any(a._data == 0):
            return ctx.output * Cumsum.apply(t / a, axis=axis)
        prefix, spans = _zero_safe_factors(a, axis)
        t_last = (t.transpose(axis, -1) * prefix).unsqueeze(-2)
        return (t_last @ spans).squeeze(-2).transpose(axis, -1)


def _zero_safe_factors(a, axis):
    """d out_k / d a_i = prod_{j < i} a_j * prod_{i < j <= k} a_j for k >= i, in two factors
    with ``axis`` moved last: the exclusive prefix product (..., n) and the matrix M[i, k]
    of the second product, 0 for k < i (..., n, n). Exact where ``a`` holds zeros, at the
    cost of an n x n matrix per scanned row, so only used when it does."""
    xp = a._backend.xp
    a_last = a.transpose(axis, -1)
    n = a_last.shape[-1]
    prefix = exclusive_cumprod(a_last, a_last.ndim - 1)
    rows = a_last.unsqueeze(-2).expand(a_last.shape[:-1] + (n, n))
    i, k = xp.arange(n)[:, None], xp.arange(n)[None, :]
    spans = Cumprod.apply(masked_fill(rows, k <= i, 1), axis=rows.ndim - 1)
    return prefix, masked_fill(spans, k < i, 0)


def flip(a, axis):
    return a[(slice(None),) * axis + (slice(None, None, -1),)]


def reverse_cumsum(a, axis):
    """Sums from each position to the end of ``axis``: the adjoint of cumsum."""
    return flip(Cumsum.apply(flip(a, axis), axis=axis), axis)


def exclusive_cumprod(a, axis):
    """The product of the elements before each one along ``axis`` (1 for the first)."""
    n = a.shape[axis]
    if n == 0:
        return a
    one = a._like(a._backend.xp.ones(a.shape[:axis] + (1,) + a.shape[axis + 1:], a.dtype))
    head = (slice(None),) * axis + (slice(0, n - 1),)
    return cat([one, Cumprod.apply(a, axis=axis)[head]], axis)


def exclusive_products(a, axis):
    """The product of all other elements along ``axis``, for each element: an exclusive
    prefix times an exclusive suffix product, so no division and exact with zeros."""
    return exclusive_cumprod(a, axis) * flip(exclusive_cumprod(flip(a, axis), axis), axis)


def _scan(op, a, dim):
    if a.dtype.kind in "biu":
        a = a.to(dtype=np.int64)  # integer scans accumulate in int64, as in PyTorch
    axis = norm_dim(dim, a.ndim)
    if a.ndim == 0:
        return op.apply(a.reshape(1), axis=0).reshape(())
    return op.apply(a, axis=axis)


@public_op
def cumsum(a, dim):
    """Running sums along ``dim``.

    >>> import gpugrad as gg
    >>> gg.tensor([1, 2, 3]).cumsum(0).tolist()
    [1, 3, 6]
    """
    return _scan(Cumsum, a, dim)


@public_op
def cumprod(a, dim):
    """Running products along ``dim``; the gradient is exact where ``a`` has zeros.

    >>> import gpugrad as gg
    >>> gg.tensor([1.0, 2.0, 3.0]).cumprod(0).tolist()
    [1.0, 2.0, 6.0]
    """
    return _scan(Cumprod, a, dim)
