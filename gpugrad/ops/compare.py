"""Comparisons, logical and bitwise ops. They have no gradient, so they skip the graph."""
from ._util import lift
from ..tensor import Tensor
from .errors import public_op


def _compare(name, a, b):
    if not isinstance(a, Tensor):
        a = lift(a, b)
    elif not isinstance(b, Tensor):
        b = lift(b, a)
    if a._device is not b._device:
        raise RuntimeError(f"{name}: expected all tensors on one device, found {a._device} "
                           f"and {b._device}")
    try:
        out = getattr(a._backend.xp, name)(a._data, b._data)
    except ValueError as err:
        raise ValueError(f"{name}: {err} (input shapes {a.shape}, {b.shape})") from None
    return a._like(a._backend.xp.asarray(out))


def _unary(name, a):
    return a._like(a._backend.xp.asarray(getattr(a._backend.xp, name)(a._data)))


@public_op
def eq(a, b):
    """Elementwise ``a == b`` as a bool tensor.

    >>> a, b = gg.tensor([1, 2, 3]), gg.tensor([3, 2, 1])
    >>> gg.eq(a, b)
    tensor([False,  True, False])
    >>> a == 2
    tensor([False,  True, False])
    """
    return _compare("equal", a, b)


@public_op
def ne(a, b):
    """Elementwise ``a != b`` as a bool tensor.

    >>> a, b = gg.tensor([1, 2, 3]), gg.tensor([3, 2, 1])
    >>> gg.ne(a, b)
    tensor([ True, False,  True])
    """
    return _compare("not_equal", a, b)


@public_op
def lt(a, b):
    """Elementwise ``a < b`` as a bool tensor.

    >>> a, b = gg.tensor([1, 2, 3]), gg.tensor([3, 2, 1])
    >>> gg.lt(a, b)
    tensor([ True, False, False])
    """
    return _compare("less", a, b)


@public_op
def le(a, b):
    """Elementwise ``a <= b`` as a bool tensor.

    >>> a, b = gg.tensor([1, 2, 3]), gg.tensor([3, 2, 1])
    >>> gg.le(a, b)
    tensor([ True,  True, False])
    """
    return _compare("less_equal", a, b)


@public_op
def gt(a, b):
    """Elementwise ``a > b`` as a bool tensor.

    >>> a, b = gg.tensor([1, 2, 3]), gg.tensor([3, 2, 1])
    >>> gg.gt(a, b)
    tensor([False, False,  True])
    """
    return _compare("greater", a, b)


@public_op
def ge(a, b):
    """Elementwise ``a >= b`` as a bool tensor.

    >>> a, b = gg.tensor([1, 2, 3]), gg.tensor([3, 2, 1])
    >>> gg.ge(a, b)
    tensor([False,  True,  True])
    """
    return _compare("greater_equal", a, b)


@public_op
def logical_and(a, b):
    """Elementwise logical and (nonzero is True), as a bool tensor.

    >>> gg.logical_and(gg.tensor([True, True, False]), gg.tensor([1, 0, 1]))
    tensor([ True, False, False])
    """
    return _compare("logical_and", a, b)


@public_op
def logical_or(a, b):
    """Elementwise logical or (nonzero is True), as a bool tensor.

    >>> gg.logical_or(gg.tensor([True, False, False]), gg.tensor([0, 0, 2]))
    tensor([ True, False,  True])
    """
    return _compare("logical_or", a, b)


@public_op
def logical_not(a):
    """Elementwise logical not (zero becomes True), as a bool tensor.

    >>> gg.logical_not(gg.tensor([0.0, 1.5]))
    tensor([ True, False])
    """
    return _unary("logical_not", a)


@public_op
def bitwise_and(a, b):
    """``a & b``: logical on bool tensors, bitwise on integer ones (as in PyTorch)."""
    return _compare("bitwise_and", a, b)


@public_op
def bitwise_or(a, b):
    return _compare("bitwise_or", a, b)


@public_op
def bitwise_xor(a, b):
    return _compare("bitwise_xor", a, b)


@public_op
def bitwise_not(a):
    """``~a``: logical not of a bool tensor, bitwise not (``-a - 1``) of an integer one."""
    return _unary("invert", a)


@public_op
def sign(a):
    """-1, 0 or 1 by the sign of each element, in ``a``'s dtype; no gradient.

    >>> gg.sign(gg.tensor([-2.5, 0.0, 3.0]))
    tensor([-1.,  0.,  1.])
    """
    if a.dtype.kind == "b":
        return a._like(a._data.copy())  # NumPy has no bool sign; PyTorch's is the identity
    return _unary("sign", a)


@public_op
def isfinite(a):
    """True where the value is neither infinite nor NaN.

    >>> gg.isfinite(gg.tensor([1.0, float('inf'), float('nan')]))
    tensor([ True, False, False])
    """
    return _unary("isfinite", a)


@public_op
def isnan(a):
    """True where the value is NaN.

    >>> gg.isnan(gg.tensor([1.0, float('nan')]))
    tensor([False,  True])
    """
    return _unary("isnan", a)
