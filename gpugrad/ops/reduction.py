"""Reductions: sum, mean, prod, var, std, max/min, logsumexp, argmax/argmin, norm,
count_nonzero, sum_to_size."""
from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..autograd.recording import record
from ..dtypes import as_dtype, get_default_dtype
from ._util import keepdim_shape, norm_dim, norm_dims
from .scan import exclusive_products
from .select import masked_fill
from .errors import check_floating, public_op

values_indices = namedtuple("values_indices", ["values", "indices"])


def _expand_back(ctx, g):
    """Broadcast a reduced gradient back over the reduced axes of the input."""
    shape = ctx.input_shapes[0]
    if not ctx.keepdim:
        g = g.reshape(keepdim_shape(shape, ctx.axes))
    return g.expand(shape)


def _expand_back_array(ctx, xp, g):
    """``_expand_back`` on a raw array: the reshape and broadcast its Tensor ops make."""
    shape = ctx.input_shapes[0]
    if not ctx.keepdim:
        kept = keepdim_shape(shape, ctx.axes)
        if g.shape != kept:
            g = g.reshape(kept)
    return g if g.shape == shape else xp.broadcast_to(g, shape)


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


class Sum(Function):
    @staticmethod
    def forward(ctx, xp, a, axes, keepdim):
        ctx.axes, ctx.keepdim = axes, keepdim
        if a.dtype.kind in "u":  # PyTorch sums uint8 in int64, NumPy in uint64
            return xp.sum(a, axis=axes, keepdims=keepdim, dtype=xp.int64)
        if a.dtype.name == "bfloat16":  # PyTorch accumulates in float32 and rounds once
            return xp.sum(a, axis=axes, keepdims=keepdim, dtype=xp.float32).astype(a.dtype)
        return xp.sum(a, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(ctx, g)

    @staticmethod
    def backward_arrays(ctx, xp, g):
        return _expand_back_array(ctx, xp, g)

    @staticmethod
    def jvp(ctx, t):
        return Sum.apply(t, axes=ctx.axes, keepdim=ctx.keepdim)


class Mean(Function):
    @staticmethod
    def forward(ctx, xp, a, axes, keepdim):
        ctx.axes, ctx.keepdim = axes, keepdim
        if a.dtype.name == "bfloat16":  # PyTorch accumulates in float32 and rounds once
            return xp.mean(a, axis=axes, keepdims=keepdim, dtype=xp.float32).astype(a.dtype)
        return xp.mean(a, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(ctx, g) / _count(ctx.input_shapes[0], ctx.axes)

    @staticmethod
    def backward_arrays(ctx, xp, g):
        # The count as a 0-d array of g's dtype: how Tensor division lifts a Python int.
        count = xp.asarray(_count(ctx.input_shapes[0], ctx.axes), dtype=g.dtype)
        return _expand_back_array(ctx, xp, g) / count

    @staticmethod
    def jvp(ctx, t):
        return Mean.apply(t, axes=ctx.axes, keepdim=ctx.keepdim)


class Prod(Function):
    """The product along one axis. Its gradient is the product of the other elements, taken
    without dividing by the element, so it is right with one zero or several."""

    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, a, axis, keepdim):
        ctx.axes, ctx.keepdim = (axis,), keepdim
        return xp.prod(a, axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return _expand_back(ctx, g) * exclusive_products(a, ctx.axes[0])

    @staticmethod
    def jvp(ctx, t):
        others = exclusive_products(ctx.inputs[0], ctx.axes[0])
        return Sum.apply(t * others, axes=ctx.axes, keepdim=ctx.keepdim)


class Var(Function):
    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, a, axes, keepdim, correction):
        ctx.axes, ctx.keepdim, ctx.correction = axes, keepdim, correction
        return xp.var(a, axis=axes, ddof=correction, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        n = _count(a.shape, ctx.axes) - ctx.correction
        centered = a - a.mean(ctx.axes, keepdim=True)
        return _expand_back(ctx, g) * centered * (2.0 / n)

    @staticmethod
    def jvp(ctx, t):
        (a,) = ctx.inputs
        n = _count(a.shape, ctx.axes) - ctx.correction
        # d var = (2/n) sum (a - mean) (t - mean t); the mean of t drops out of the sum.
        centered = a - a.mean(ctx.axes, keepdim=True)
        return Sum.apply(centered * t, axes=ctx.axes, keepdim=ctx.keepdim) * (2.0 / n)


class Std(Function):
    saves_inputs = (0,)
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a, axes, keepdim, correction):
        ctx.axes, ctx.keepdim, ctx.correction = axes, keepdim, correction
        return xp.std(a, axis=axes, ddof=correction, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        n = _count(a.shape, ctx.axes) - ctx.correction
        centered = a - a.mean(ctx.axes, keepdim=True)
        # std is not differentiable where it is 0; PyTorch takes 0 there, not 0 / 0.
        return _expand_back(ctx, masked_fill(g / out, out == 0, 0)) * centered / n

    @staticmethod
    def jvp(ctx, t):
        (a,) = ctx.inputs
        n = _count(a.shape, ctx.axes) - ctx.correction
        centered = a - a.mean(ctx.axes, keepdim=True)
        out = ctx.output
        tangent = Sum.apply(centered * t, axes=ctx.axes, keepdim=ctx.keepdim) / (out * n)
        return masked_fill(tangent, out == 0, 0)  # 0 where std is 0, as backward


class Amax(Function):
    """max over axes; tied maxima share the gradient evenly (PyTorch's amax rule)."""

    saves_inputs = (0,)
    saves_output = True
    reduce = "max"

    @classmethod
    def forward(cls, ctx, xp, a, axes, keepdim):
        ctx.axes, ctx.keepdim = axes, keepdim
        if a.size == 0:
            raise ValueError(f"{cls.reduce}: cannot reduce an empty tensor")
        return getattr(xp, cls.reduce)(a, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        return _expand_back(ctx, g) * _tie_share(ctx, a, out, g.dtype)

    @staticmethod
    def jvp(ctx, t):
        share = _tie_share(ctx, ctx.inputs[0], ctx.output, t.dtype)
        return Sum.apply(t * share, axes=ctx.axes, keepdim=ctx.keepdim)


class Amin(Amax):
    reduce = "min"


def _tie_share(ctx, a, out, dtype):
    """Each input's share of the max: 1 / (number of ties) at the maxima, 0 elsewhere."""
    kept = out._data if ctx.keepdim else out._data.reshape(keepdim_shape(a.shape, ctx.axes))
    hit = a._data == kept
    share = hit / hit.sum(axis=ctx.axes, keepdims=True)
    return a._like(share.astype(dtype, copy=False))


class MaxDim(Function):
    """max along one dim; the gradient goes to the index returned (the first maximum)."""

    reduce = "argmax"

    @classmethod
    def forward(cls, ctx, xp, a, axis, keepdim):
        ctx.axes, ctx.keepdim = (axis,), keepdim
        if a.shape[axis] == 0:
            raise ValueError(f"{cls.reduce[3:]}: cannot reduce an empty dimension")
        idx = xp.expand_dims(getattr(xp, cls.reduce)(a, axis=axis), axis)
        ctx.index = idx
        out = xp.take_along_axis(a, idx, axis=axis)
        return out if keepdim else xp.squeeze(out, axis)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(ctx, g) * _onehot(ctx, ctx.input_shapes[0], g)

    @staticmethod
    def jvp(ctx, t):
        onehot = _onehot(ctx, t.shape, t)
        return Sum.apply(t * onehot, axes=ctx.axes, keepdim=ctx.keepdim)


class MinDim(MaxDim):
    reduce = "argmin"


def _onehot(ctx, shape, like):
    """1 at the index the reduction returned along its axis, in an array of ``shape``."""
    xp = like._backend.xp
    (axis,) = ctx.axes
    positions = xp.arange(shape[axis]).reshape([-1 if i == axis else 1
                                                 for i in range(len(shape))])
    return like._like((positions == ctx.index).astype(like.dtype))


class LogSumExp(Function):
    saves_inputs = (0,)
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a, axes, keepdim):
        ctx.axes, ctx.keepdim = axes, keepdim
        m = xp.max(a, axis=axes, keepdims=True)
        # An all -inf row would give inf - inf = nan; shifting by 0 there keeps it -inf.
        m = xp.where(xp.isfinite(m), m, 0)
        out = xp.log(xp.sum(xp.exp(a - m), axis=axes, keepdims=True)) + m
        return out if keepdim else xp.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        kept = out if ctx.keepdim else out.reshape(keepdim_shape(a.shape, ctx.axes))
        return _expand_back(ctx, g) * (a - kept).exp()

    @staticmethod
    def jvp(ctx, t):
        a, out = ctx.inputs[0], ctx.output
        kept = out if ctx.keepdim else out.reshape(keepdim_shape(a.shape, ctx.axes))
        return Sum.apply(t * (a - kept).exp(), axes=ctx.axes, keepdim=ctx.keepdim)


class SumToSize(Function):
    """Sum a broadcast array back to ``shape`` (how gradients reach broadcast inputs)."""

    @staticmethod
    def forward(ctx, xp, a, shape):
        lead = a.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and a.shape[lead + i] != 1)
        out = xp.sum(a, axis=axes, keepdims=True) if axes else a
        return out.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.expand(ctx.input_shapes[0])

    @staticmethod
    def jvp(ctx, t):
        return SumToSize.apply(t, shape=ctx.output.shape)


@public_op
def sum(a, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` (None: all, int or tuple), after casting to ``dtype`` if given.

    >>> import gpugrad as gg
    >>> gg.ones(2, 3).sum(1).tolist()
    [3.0, 3.0]
    >>> gg.sum(gg.tensor([1, 2]), dtype=gg.float64)
    tensor(3., dtype=gpugrad.float64)
    """
    out = Sum.apply(_cast(a, dtype), axes=norm_dims(dim, a.ndim), keepdim=keepdim)
    return _exactly(out, dtype)


def _cast(a, dtype):
    """PyTorch's ``dtype=`` of reductions: the input is cast before reducing (so integers
    summed as float64 do not overflow, and float16 accumulates in float32)."""
    return a if dtype is None else a.to(dtype=as_dtype(dtype))


def _exactly(out, dtype):
    # NumPy reduces int32 in int64; an explicit dtype= is what PyTorch returns.
    return out if dtype is None or out.dtype == as_dtype(dtype) else out.to(dtype=dtype)


@public_op
def mean(a, dim=None, keepdim=False, *, dtype=None):
    """The mean over ``dim`` (None: all, int or tuple) of a floating-point tensor (or of
    any tensor cast to the floating ``dtype``).

    >>> x = gg.tensor([[1.0, 5.0], [3.0, 2.0]])
    >>> gg.mean(x)
    tensor(2.75)
    >>> gg.mean(x, dim=0, keepdim=True)
    tensor([[2. , 3.5]])
    """
    a = _cast(a, dtype)
    check_floating("mean", a)
    return Mean.apply(a, axes=norm_dims(dim, a.ndim), keepdim=keepdim)


@public_op
def prod(a, dim=None, keepdim=False, *, dtype=None):
    """The product of all elements, or along one ``dim``; integers and bools give int64
    unless ``dtype`` is given (the input is cast to it first).

    >>> import gpugrad as gg
    >>> gg.tensor([[1.0, 2.0], [3.0, 4.0]]).prod(1).tolist()
    [2.0, 12.0]
    >>> gg.prod(gg.tensor([2, 3]), dtype=gg.float32)
    tensor(6.)
    """
    a = _cast(a, dtype)
    if a.dtype.kind in "biu" and dtype is None:
        a = a.to(dtype=np.int64)
    if dim is None:
        return _exactly(Prod.apply(a.reshape(-1), axis=0, keepdim=False), dtype)
    axis = norm_dim(dim, a.ndim)
    if a.ndim == 0:
        return _exactly(Prod.apply(a.reshape(1), axis=0, keepdim=False), dtype)
    return _exactly(Prod.apply(a, axis=axis, keepdim=keepdim), dtype)


def _correction(correction, unbiased):
    return correction if unbiased is None else int(bool(unbiased))


@public_op
def var(a, dim=None, keepdim=False, correction=1, unbiased=None):
    """Variance with Bessel's ``correction`` (1 by default, as in PyTorch).

    >>> x = gg.tensor([1.0, 2.0, 3.0, 4.0])
    >>> gg.var(x)
    tensor(1.6666666)
    >>> gg.var(x, correction=0)
    tensor(1.25)
    """
    check_floating("var", a)
    return Var.apply(a, axes=norm_dims(dim, a.ndim), keepdim=keepdim,
                     correction=_correction(correction, unbiased))


@public_op
def std(a, dim=None, keepdim=False, correction=1, unbiased=None):
    """The standard deviation over ``dim`` with Bessel's ``correction`` (1 by default).

    >>> gg.std(gg.tensor([[1.0, 3.0], [2.0, 2.0]]), dim=1)
    tensor([1.4142135, 0.       ])
    """
    check_floating("std", a)
    return Std.apply(a, axes=norm_dims(dim, a.ndim), keepdim=keepdim,
                     correction=_correction(correction, unbiased))


@public_op
def amax(a, dim=None, keepdim=False):
    """The maximum over ``dim`` (None: all, int or tuple), values only; ties share the gradient
    evenly.

    >>> x = gg.tensor([[1.0, 5.0], [3.0, 2.0]])
    >>> gg.amax(x, dim=1)
    tensor([5., 3.])
    """
    return Amax.apply(a, axes=norm_dims(dim, a.ndim), keepdim=keepdim)


@public_op
def amin(a, dim=None, keepdim=False):
    """The minimum over ``dim`` (None: all, int or tuple), values only; ties share the gradient
    evenly.

    >>> x = gg.tensor([[1.0, 5.0], [3.0, 2.0]])
    >>> gg.amin(x)
    tensor(1.)
    """
    return Amin.apply(a, axes=norm_dims(dim, a.ndim), keepdim=keepdim)


def _max_min(a, dim, keepdim, whole, along):
    if dim is None or isinstance(dim, tuple):
        return whole(a, dim, keepdim)
    axis = norm_dim(dim, a.ndim)
    if a.ndim == 0:  # PyTorch allows dim 0 / -1 here: the value itself, at index 0
        return values_indices(a.clone(), a._like(a._backend.xp.zeros((), dtype="int64")))
    values = along.apply(a, axis=axis, keepdim=keepdim)
    index = values.grad_fn.index if values.grad_fn is not None else None
    if index is None:
        index = getattr(a._backend.xp, along.reduce)(a._data, axis=axis)
        index = index if not keepdim else a._backend.xp.expand_dims(index, axis)
    elif not keepdim:
        index = a._backend.xp.squeeze(index, axis)
    return values_indices(values, a._like(index))


@public_op
def max(a, dim=None, keepdim=False):
    """The maximum; with an int ``dim`` a ``(values, indices)`` pair, as in PyTorch.

    Subgradients: over all elements (or a tuple of dims), tied maxima share the gradient
    evenly; along one dim it goes to the returned index (the first maximum).

    >>> x = gg.tensor([[1.0, 5.0], [3.0, 2.0]])
    >>> gg.max(x)
    tensor(5.)
    >>> gg.max(x, dim=1)
    values_indices(values=tensor([5., 3.]), indices=tensor([1, 0]))
    """
    return _max_min(a, dim, keepdim, amax, MaxDim)


@public_op
def min(a, dim=None, keepdim=False):
    """The minimum; with an int ``dim`` a ``(values, indices)`` pair, as in PyTorch (see ``max``).

    >>> x = gg.tensor([[1.0, 5.0], [3.0, 2.0]])
    >>> gg.min(x)
    tensor(1.)
    >>> gg.min(x, dim=0).indices
    tensor([0, 1])
    """
    return _max_min(a, dim, keepdim, amin, MinDim)


@public_op
def logsumexp(a, dim, keepdim=False):
    """``log(sum(exp(a)))`` over ``dim``, computed without overflow.

    >>> (gg.logsumexp(gg.tensor([1000.0, 1000.0]), dim=0) - 1000).round(decimals=4)
    tensor(0.6932)
    """
    if a.dtype.kind != "f":
        a = a.to(dtype=get_default_dtype())  # integers give float32, as in PyTorch
    return LogSumExp.apply(a, axes=norm_dims(dim, a.ndim), keepdim=keepdim)


def _arg(name, a, dim, keepdim):
    if dim is None or a.ndim == 0:
        if dim is not None:
            norm_dim(dim, 0)  # a 0-d tensor takes dim 0 or -1
        axis = None
    else:
        axis = norm_dim(dim, a.ndim)
    out = a._like(_arg_array(a._backend.xp, a._data, name=name, axis=axis, keepdim=keepdim))
    record(_arg_array, (a,), out, name=name, axis=axis, keepdim=keepdim)  # for gg.compile
    return out


def _arg_array(xp, x, *, name, axis, keepdim):
    if axis is None:
        out = getattr(xp, name)(x)
        if keepdim:
            out = out.reshape((1,) * x.ndim)
    else:
        out = getattr(xp, name)(x, axis=axis, keepdims=keepdim)
    return xp.asarray(out, dtype=xp.int64)


@public_op
def argmax(a, dim=None, keepdim=False):
    """The index of the maximum (the first on ties) in the flattened tensor, or along ``dim``.

    >>> x = gg.tensor([[1.0, 5.0], [3.0, 2.0]])
    >>> gg.argmax(x)
    tensor(1)
    >>> gg.argmax(x, dim=0)
    tensor([1, 0])
    """
    return _arg("argmax", a, dim, keepdim)


@public_op
def argmin(a, dim=None, keepdim=False):
    """The index of the minimum (the first on ties) in the flattened tensor, or along ``dim``.

    >>> x = gg.tensor([[1.0, 5.0], [3.0, 2.0]])
    >>> gg.argmin(x, dim=1)
    tensor([0, 1])
    """
    return _arg("argmin", a, dim, keepdim)


@public_op
def any(a, dim=None, keepdim=False):
    """True where any element (over ``dim``; None: all) is nonzero, as a bool tensor.

    >>> gg.any(gg.tensor([[0, 1], [0, 0]]), dim=1)
    tensor([ True, False])
    """
    xp = a._backend.xp
    return a._like(xp.asarray(xp.any(a._data, axis=norm_dims(dim, a.ndim), keepdims=keepdim)))


@public_op
def all(a, dim=None, keepdim=False):
    """True where every element (over ``dim``; None: all) is nonzero, as a bool tensor.

    >>> gg.all(gg.tensor([[1, 1], [0, 1]]), dim=1)
    tensor([ True, False])
    >>> gg.all(gg.tensor([1.0, 2.0]))
    tensor(True)
    """
    xp = a._backend.xp
    return a._like(xp.asarray(xp.all(a._data, axis=norm_dims(dim, a.ndim), keepdims=keepdim)))


@public_op
def sum_to_size(a, shape):
    shape = tuple(shape)
    if a.shape == shape:
        return a
    return SumToSize.apply(a, shape=shape)


@public_op
def norm(a, p=2, dim=None, keepdim=False, dtype=None):
    """The vector ``p``-norm over ``dim`` (None: all elements; p = 2 or "fro", 1, inf or any
    positive number); ``dtype`` casts the input first, as PyTorch's.

    >>> import gpugrad as gg
    >>> gg.tensor([[3.0, 4.0], [0.0, 1.0]]).norm(dim=1).tolist()
    [5.0, 1.0]
    """
    if dtype is not None:
        a = a.to(dtype=dtype)
    check_floating("norm", a)
    if p == "fro":
        p = 2
    if p == float("inf"):
        return amax(a.abs(), dim, keepdim)
    if p == 1:
        return a.abs().sum(dim, keepdim)
    total = (a * a).sum(dim, keepdim) if p == 2 else (a.abs() ** p).sum(dim, keepdim)
    # The root has an infinite slope at 0; PyTorch's gradient of a zero norm is 0, not nan.
    zero = total == 0
    total = masked_fill(total, zero, 1)
    root = total.sqrt() if p == 2 else total ** (1.0 / p)
    return masked_fill(root, zero, 0)


@public_op
def count_nonzero(a, dim=None):
    """The number of nonzero elements over ``dim`` (None: all), as int64; no gradient.

    >>> gg.count_nonzero(gg.tensor([[0, 1, 2], [0, 0, 3]]), dim=1)
    tensor([2, 1])
    """
    xp = a._backend.xp
    axis = None if dim is None else norm_dims(dim, a.ndim)
    return a._like(xp.asarray(xp.count_nonzero(a._data, axis=axis), dtype=xp.int64))
