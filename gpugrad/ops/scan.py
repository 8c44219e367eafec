"""Scans: cumsum and cumprod along one dim, the exclusive products that ``prod``'s
gradient is made of, and cumsum's inverse, diff. Gradients are written without dividing by
the input, so they stay exact where it holds zeros."""
import numpy as np

from ..autograd.function import Function
from ..dtypes import as_dtype
from ..tensor import Tensor
from ._util import norm_dim
from .join import cat
from .select import masked_fill
from .errors import public_op


class Cumsum(Function):
    @staticmethod
    def forward(ctx, xp, a, axis):
        ctx.axis = axis
        return xp.cumsum(a, axis=axis, dtype=a.dtype)  # NumPy widens int32 to int64

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
        return xp.cumprod(a, axis=axis, dtype=a.dtype)

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


def _scan(op, a, dim, dtype):
    if dtype is not None:
        a = a.to(dtype=as_dtype(dtype))  # cast first, as PyTorch's dtype= does
    elif a.dtype.kind in "biu":
        a = a.to(dtype=np.int64)  # integer scans accumulate in int64, as in PyTorch
    axis = norm_dim(dim, a.ndim)
    if a.ndim == 0:
        return op.apply(a.reshape(1), axis=0).reshape(())
    return op.apply(a, axis=axis)


@public_op
def cumsum(a, dim, *, dtype=None):
    """Running sums along ``dim`` (of the input cast to ``dtype``, if given).

    >>> import gpugrad as gg
    >>> gg.tensor([1, 2, 3]).cumsum(0).tolist()
    [1, 3, 6]
    >>> gg.cumsum(gg.tensor([1, 2]), 0, dtype=gg.float64)
    tensor([1., 3.], dtype=gpugrad.float64)
    """
    return _scan(Cumsum, a, dim, dtype)


@public_op
def cumprod(a, dim, *, dtype=None):
    """Running products along ``dim`` (of the input cast to ``dtype``, if given); the
    gradient is exact where ``a`` has zeros.

    >>> import gpugrad as gg
    >>> gg.tensor([1.0, 2.0, 3.0]).cumprod(0).tolist()
    [1.0, 2.0, 6.0]
    """
    return _scan(Cumprod, a, dim, dtype)


@public_op
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim`` (``x[i + 1] - x[i]``, repeated ``n``
    times), after joining ``prepend`` and ``append`` at either end; bools give ``!=``.

    >>> gg.diff(gg.tensor([1, 3, 6, 10]))
    tensor([2, 3, 4])
    >>> gg.diff(gg.tensor([1.0, 3.0, 6.0]), n=2, prepend=gg.tensor([0.0]))
    tensor([1., 1.])
    """
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"diff: order must be non-negative but got {n}")
    axis = norm_dim(dim, input.ndim)
    parts = [prepend, input, append]
    for name, part in (("prepend", prepend), ("append", append)):
        if part is not None and not isinstance(part, Tensor):
            raise TypeError(f"diff(): argument '{name}' must be Tensor, not "
                            f"{type(part).__name__}")
        if part is not None and part.ndim != input.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as "
                               "input")
    present = [p for p in parts if p is not None]
    x = cat(present, axis) if len(present) > 1 else input
    lead = (slice(None),) * axis
    for _ in range(n):
        if x.shape[axis] == 0:
            break
        later, earlier = x[lead + (slice(1, None),)], x[lead + (slice(None, -1),)]
        x = later != earlier if x.dtype.kind == "b" else later - earlier
    return x
