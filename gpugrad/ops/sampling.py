"""Random sampling from the generator ``gg.manual_seed`` seeds, or a ``gg.Generator`` passed
as ``generator=``: randperm, normal, bernoulli, multinomial, randint_like.

Samples of ``normal`` and ``bernoulli`` are differentiable as in PyTorch: the output stays
in the graph when a parameter requires grad, and the gradient is zero (the draw is not
reparameterised; write ``mean + std * gg.randn(...)`` for that).
"""
import numbers

import numpy as np

from ..autograd.function import Function
from ..creation import _make
from ..dtypes import as_dtype, get_default_dtype
from ..random import generator_for
from ..tensor import Tensor
from .errors import DTypeError, ShapeError, not_a_tensor, public_op


class Draw(Function):
    """A sample computed in advance (``value``); its gradient is zero for every input."""

    @staticmethod
    def forward(ctx, xp, *arrays, value):
        ctx.dtypes = [a.dtype for a in arrays]
        return value

    @staticmethod
    def backward(ctx, g):
        xp = g._backend.xp
        return tuple(g._like(xp.zeros(shape, dtype)) if need else None
                     for shape, dtype, need in zip(ctx.input_shapes, ctx.dtypes,
                                                   ctx.needs_input_grad))

    @staticmethod
    def jvp(ctx, *tangents):
        out = ctx.output  # a sample does not move with its parameters' tangents
        return out._like(out._backend.xp.zeros_like(out._data))


def _generator(t, generator, name):
    """``generator``'s draws (a ``gg.Generator`` on ``t``'s device), or else the global
    generator of ``t``'s device, fetched inside its device context."""
    with t._backend.device_context(t._device):
        return generator_for(generator, t._device, name, t._backend)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False,
             pin_memory=False):
    """A random permutation of ``0 .. n-1`` (int64 unless ``dtype``).

    >>> sorted(gg.randperm(5).tolist())
    [0, 1, 2, 3, 4]
    """
    if not isinstance(n, numbers.Integral) or n < 0:
        raise RuntimeError(f"randperm: n must be a non-negative int, got {n!r}")
    dt = as_dtype(dtype) or as_dtype(np.int64)
    return _make(device, requires_grad, lambda xp, g: xp.argsort(g.random(int(n))).astype(dt),
                 dt, generator, "randperm")


@public_op
def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Samples of N(mean, std^2): ``mean`` and ``std`` are tensors (broadcast) or numbers;
    with two numbers, ``size`` gives the shape.

    >>> _ = gg.manual_seed(0)
    >>> gg.normal(gg.zeros(2, 3), 1.0).shape, gg.normal(0.0, 2.0, (4,)).shape
    ((2, 3), (4,))
    """
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    for name, value in (("mean", mean), ("std", std)):
        if not isinstance(value, (Tensor, numbers.Real)) or isinstance(value, bool):
            raise not_a_tensor("normal", value, name)
    if not tensors:
        if size is None:
            raise TypeError("normal(): with a number for both mean and std, give size")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        dt = as_dtype(dtype) or get_default_dtype()
        shape = tuple(size)
        return _make(device, requires_grad, lambda xp, g: (
            mean + std * g.standard_normal(shape)).astype(dt), dt, generator, "normal")
    like = tensors[0]
    if like.dtype.kind != "f":
        raise DTypeError(f"normal: expected floating point mean and std, got {like.dtype}")
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    xp = like._backend.xp
    if bool((xp.asarray(s) < 0).any()):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    try:
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    except ValueError:
        raise ShapeError(f"normal: the shapes of mean {np.shape(m)} and std {np.shape(s)} do "
                         f"not broadcast") from None
    z = _generator(like, generator, "normal").standard_normal(shape)
    return Draw.apply(*tensors, value=xp.asarray(m + s * z).astype(like.dtype))


@public_op
def bernoulli(input, p=None, *, generator=None):
    """1 with probability ``input`` (or the number ``p``, in ``input``'s shape), else 0, in
    ``input``'s floating dtype.

    >>> _ = gg.manual_seed(0)
    >>> gg.bernoulli(gg.tensor([0.0, 1.0, 1.0]))
    tensor([0., 1., 1.])
    """
    if input.dtype.kind != "f":
        raise DTypeError(f"bernoulli: expected a floating point input, got {input.dtype}")
    prob = input._data if p is None else float(p)
    xp = input._backend.xp
    if not bool(((xp.asarray(prob) >= 0) & (xp.asarray(prob) <= 1)).all()):
        raise RuntimeError("bernoulli: expected all probabilities in [0, 1]")
    u = _generator(input, generator, "bernoulli").random(input.shape)
    return Draw.apply(input, value=(u < prob).astype(input.dtype))


@public_op
def multinomial(input, num_samples, replacement=False, *, generator=None):
    """``num_samples`` category indices per row of the non-negative weights ``input`` (1-d
    or 2-d, not necessarily normalised), drawn with or without replacement.

    >>> _ = gg.manual_seed(0)
    >>> sorted(gg.multinomial(gg.tensor([1.0, 1.0, 1.0]), 3).tolist())
    [0, 1, 2]
    >>> gg.multinomial(gg.tensor([[0.0, 1.0], [1.0, 0.0]]), 2, replacement=True)
    tensor([[1, 1],
            [0, 0]])
    """
    if input.dtype.kind != "f":
        raise DTypeError(f"multinomial only supports floating-point dtypes for input, got: "
                         f"{input.dtype}")
    if input.ndim not in (1, 2):
        raise ShapeError("multinomial: prob_dist must be 1 or 2 dim")
    if not isinstance(num_samples, numbers.Integral) or num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples ({num_samples})")
    n = input.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           "without replacement")
    xp = input._backend.xp
    w = input._data.astype(xp.float64).reshape(-1, n)
    if not bool(xp.isfinite(w).all()) or bool((w < 0).any()):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    total = w.sum(axis=1, keepdims=True)
    if w.shape[0] and not bool((total > 0).all()):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of "
                           "probabilities <= 0)")
    gen = _generator(input, generator, "multinomial")
    if replacement:
        # Inverse CDF: the first category whose cumulative share exceeds u ~ U(0, 1). Row r
        # is shifted by r, so one searchsorted over all rows finds every sample.
        rows = xp.arange(w.shape[0])[:, None]
        cdf = xp.minimum(xp.cumsum(w, axis=1) / total, 1.0) + rows
        u = gen.random((w.shape[0], num_samples)) + rows
        out = xp.searchsorted(cdf.ravel(), u.ravel(), side="right").reshape(u.shape) - rows * n
        last = n - 1 - xp.argmax(w[:, ::-1] > 0, axis=1)  # a share summing to just under 1
        out = xp.minimum(out, last[:, None])
    else:
        # Exponential race: the k smallest Exp(1) / w are a weighted draw without
        # replacement; zero weights lose to every positive one.
        with np.errstate(divide="ignore"):
            keys = -xp.log1p(-gen.random(w.shape)) / w
        out = xp.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    out = out.astype(xp.int64).reshape(input.shape[:-1] + (num_samples,))
    return input._like(xp.ascontiguousarray(out))


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, device=None,
                 requires_grad=False):
    """Random integers in ``[low, high)`` (``[0, low)`` with one bound) in ``input``'s shape,
    dtype and device (unless given), from ``generator`` or the global generator.

    >>> x = gg.randint_like(gg.zeros(2, 3), 10)
    >>> x.shape, x.dtype, bool(((x >= 0) & (x < 10)).all())
    ((2, 3), gpugrad.float32, True)
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("randint_like", input)
    if high is None:
        low, high = 0, low
    if not low < high:
        raise RuntimeError(f"randint_like: expects 'low' to be less than 'high', but got "
                           f"low={low} >= high={high}")
    dt = as_dtype(dtype) or input.dtype
    shape = input.shape
    return _make(device or input.device, requires_grad,
                 lambda xp, g: g.integers(low, high, size=shape).astype(dt),
                 dt, generator, "randint_like")
