"""Selection ops: clamp, maximum/minimum (with PyTorch's tie rule), where, masked_fill,
tril/triu."""
import numpy as np

from ..autograd.function import Function
from ..dtypes import get_default_dtype
from ..tensor import Tensor
from ._util import add_tangents, binary, lift, operands
from .errors import DTypeError, ShapeError, public_op


class Clamp(Function):
    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, a, lo, hi):
        ctx.lo, ctx.hi = lo, hi
        return xp.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * _clamp_inside(ctx, a)

    @staticmethod
    def jvp(ctx, t):
        return t * _clamp_inside(ctx, ctx.inputs[0])


def _clamp_inside(ctx, a):
    """clamp's derivative, PyTorch's (2.14 on) rule: 1 strictly between the bounds, 0 at a
    number bound (as relu's at 0), half at a tensor bound the input ties (the tie rule of
    ``maximum``/``minimum``). PyTorch releases before 2.14 passed it at the bounds."""
    x = a._data
    weight = None
    for bound, side in ((ctx.lo, 1), (ctx.hi, -1)):
        if bound is None:
            continue
        part = (x * side > bound * side).astype(x.dtype)
        if hasattr(bound, "shape") and not isinstance(bound, np.generic):  # a tensor's array
            part = part + (x == bound) * 0.5
        weight = part if weight is None else weight * part
    return a._like(weight)


class Maximum(Function):
    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, a, b):
        return xp.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        return _split_by_winner(ctx, g, ctx.saved_tensors)

    @staticmethod
    def jvp(ctx, ta, tb):
        return _tangent_by_winner(ctx.inputs, ta, tb)


class Minimum(Function):
    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, a, b):
        return xp.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _split_by_winner(ctx, g, (b, a))

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.inputs
        return _tangent_by_winner((b, a), ta, tb)


def _split_by_winner(ctx, g, pair):
    """Gradient of max(a, b): to the larger input; ties split it half and half (PyTorch)."""
    a, b = pair
    wins = (a._data > b._data) + 0.5 * (a._data == b._data)
    share = a._like(wins.astype(g.dtype, copy=False))
    need_a, need_b = ctx.needs_input_grad
    return (g * share if need_a else None), (g * (1 - share) if need_b else None)


def _tangent_by_winner(pair, ta, tb):
    """Tangent of max(a, b) from the tangents of a and b: the larger input's, the mean of
    the two at ties, matching how backward splits the gradient. ``pair`` is (a, b) for max,
    (b, a) for min."""
    a, b = pair
    wins = (a._data > b._data) + 0.5 * (a._data == b._data)
    dtype = (ta if ta is not None else tb).dtype
    share = a._like(wins.astype(dtype, copy=False))
    return add_tangents(ta * share if ta is not None else None,
                        tb * (1 - share) if tb is not None else None)


class Where(Function):
    @staticmethod
    def forward(ctx, xp, a, b, cond):
        ctx.cond = cond
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        zero = g._like(g._backend.xp.zeros((), dtype=g.dtype))
        need_a, need_b = ctx.needs_input_grad
        ga = Where.apply(g, zero, cond=ctx.cond) if need_a else None
        gb = Where.apply(zero, g, cond=ctx.cond) if need_b else None
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        out = ctx.output
        zero = out._like(out._backend.xp.zeros((), dtype=out.dtype))
        return Where.apply(ta if ta is not None else zero, tb if tb is not None else zero,
                           cond=ctx.cond)


@public_op
def clamp(a, min=None, max=None):
    """Clip values to ``[min, max]`` (either bound may be None; tensor bounds get no
    gradient). An integer tensor with a float bound gives float32, as in PyTorch. The
    gradient is 0 at a number bound and half at a tied tensor bound (PyTorch 2.14's rule).

    >>> gg.clamp(gg.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0)
    tensor([0. , 0.5, 1. ])
    >>> gg.clamp(gg.tensor([1, 5]), max=2.5)
    tensor([1. , 2.5])
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if a.dtype.kind != "f" and (_is_float(min) or _is_float(max)):
        a = a.to(dtype=get_default_dtype())
    return Clamp.apply(a, lo=_bound(min, a), hi=_bound(max, a))


def _is_float(value):
    return isinstance(value, float) or isinstance(value, Tensor) and value.dtype.kind == "f"


def _bound(value, like):
    if isinstance(value, Tensor):
        return value._data.astype(like.dtype, copy=False)  # keeps NumPy from promoting
    return value


@public_op
def maximum(a, b):
    """The elementwise larger of ``a`` and ``b``; ties split the gradient half and half.

    >>> a = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> gg.maximum(a, gg.tensor([2.0, 2.0])).sum().backward()
    >>> a.grad
    tensor([0. , 0.5])
    """
    return binary(Maximum, a, b)


@public_op
def minimum(a, b):
    """The elementwise smaller of ``a`` and ``b``; ties split the gradient half and half.

    >>> gg.minimum(gg.tensor([1.0, 5.0]), 2.0)
    tensor([1., 2.])
    """
    return binary(Minimum, a, b)


@public_op
def where(cond, a=None, b=None):
    """``a`` where ``cond`` holds, else ``b`` (``cond`` is a bool tensor; no gradient).

    ``a`` and ``b`` may be Python numbers; their dtypes promote as in ``a + b``. With
    ``cond`` alone, the indices where it holds: ``gg.nonzero(cond, as_tuple=True)``.

    >>> x = gg.tensor([-1.0, 2.0])
    >>> gg.where(x > 0, x, 0.0)
    tensor([0., 2.])
    >>> gg.where(x > 0)
    (tensor([1]),)
    """
    if a is None and b is None:
        from .scatter import nonzero
        return nonzero(cond, as_tuple=True)
    if a is None or b is None:
        raise TypeError("where(): give both values (input and other), or only the condition")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        if not isinstance(cond, Tensor):
            cond = Tensor(np.asarray(cond))
        a = lift(a, cond)  # where(mask, 1.0, 0) is float32, as a Python float alone is
    a, b = operands(a, b)
    cond_data = cond._data if isinstance(cond, Tensor) else a._backend.xp.asarray(cond)
    if cond_data.dtype.kind != "b":
        raise DTypeError(f"where: expected a bool condition, got {cond_data.dtype}")
    return Where.apply(a, b, cond=cond_data)


@public_op
def masked_fill(a, mask, value):
    """``a`` with ``value`` where ``mask`` is True; the result keeps ``a``'s dtype.

    >>> scores = gg.tensor([[1.0, 2.0, 3.0]])
    >>> gg.masked_fill(scores, gg.tensor([False, False, True]), float('-inf'))
    tensor([[  1.,   2., -inf]])
    """
    if isinstance(mask, Tensor) and mask.dtype.kind != "b":
        raise DTypeError(f"masked_fill: expected a bool mask, got {mask.dtype}")
    value = lift(value, a)
    if value.ndim != 0:
        raise ShapeError(f"masked_fill: the value must be a number or a 0-d tensor, got a "
                         f"tensor of shape {value.shape}")
    if value.dtype != a.dtype:
        value = value.to(dtype=a.dtype)
    return where(mask, value, a)


@public_op
def tril(a, diagonal=0):
    """The lower triangle of the last two dims (on and below ``diagonal``), zeros above.

    >>> import gpugrad as gg
    >>> gg.tril(gg.ones(2, 2)).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    return _triangle("tril", a, diagonal, lower=True)


@public_op
def triu(a, diagonal=0):
    """The upper triangle of the last two dims (on and above ``diagonal``), zeros below.

    >>> gg.triu(gg.ones(3, 3), diagonal=1)
    tensor([[0., 1., 1.],
            [0., 0., 1.],
            [0., 0., 0.]])
    """
    return _triangle("triu", a, diagonal, lower=False)


def _triangle(name, a, diagonal, lower):
    if a.ndim < 2:
        raise ValueError(f"{name}: expected a tensor of at least 2 dims, got shape {a.shape}")
    xp = a._backend.xp
    n, m = a.shape[-2:]
    keep = xp.tri(n, m, diagonal, dtype=bool) if lower else ~xp.tri(n, m, diagonal - 1,
                                                                      dtype=bool)
    return Where.apply(a, a._like(xp.zeros((), dtype=a.dtype)), cond=keep)
