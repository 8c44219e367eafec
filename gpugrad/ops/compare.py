"""Comparisons, logical and bitwise ops, isclose/allclose/equal. They have no gradient, so
they skip the graph."""
from ._util import lift
from ..autograd.recording import record
from ..tensor import Tensor
from .errors import DTypeError, ShapeError, not_a_tensor, public_op


def _compare(name, a, b):
    if not isinstance(a, Tensor):
        a = lift(a, b)
    elif not isinstance(b, Tensor):
        b = lift(b, a)
    if a._device is not b._device:
        raise RuntimeError(f"{name}: expected all tensors on one device, found {a._device} "
                           f"and {b._device}")
    try:
        out = a._like(_ufunc(a._backend.xp, a._data, b._data, name=name))
    except ValueError as err:
        raise ValueError(f"{name}: {err} (input shapes {a.shape}, {b.shape})") from None
    record(_ufunc, (a, b), out, name=name)  # gg.compile: no Function, so say it
    return out


def _unary(name, a):
    out = a._like(_ufunc(a._backend.xp, a._data, name=name))
    record(_ufunc, (a,), out, name=name)
    return out


def _ufunc(xp, *arrays, name):
    return xp.asarray(getattr(xp, name)(*arrays))


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


@public_op
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True where ``|input - other| <= atol + rtol * |other|`` (and where both are the same
    infinity, or both NaN with ``equal_nan``); the two must have one dtype, as in PyTorch.

    >>> gg.isclose(gg.tensor([1.0, 1.1]), gg.tensor([1.0 + 1e-7, 1.0]))
    tensor([ True, False])
    """
    if not isinstance(other, Tensor):
        other = lift(other, input, "isclose")
    if not isinstance(input, Tensor):
        input = lift(input, other, "isclose")
    if input.dtype != other.dtype:
        raise DTypeError(f"isclose: {input.dtype} did not match {other.dtype}")
    if input._device is not other._device:
        raise RuntimeError(f"isclose: expected all tensors on one device, found "
                           f"{input._device} and {other._device}")
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be non-negative, got {rtol} and {atol}")
    xp = input._backend.xp
    if input.dtype.kind == "b":
        return _compare("equal", input, other)
    a, b = input._data, other._data
    if input.dtype.kind != "f":
        a, b = a.astype(xp.float64), b.astype(xp.float64)  # |a - b| must not wrap around
    try:
        out = xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    except ValueError as err:
        raise ShapeError(f"isclose: {err} (input shapes {input.shape}, {other.shape})") from None
    return input._like(xp.asarray(out))


@public_op
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True (a Python bool) if ``isclose`` holds everywhere.

    >>> gg.allclose(gg.tensor([1.0, 2.0]), gg.tensor([1.0, 2.0 + 1e-6]))
    True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


@public_op
def equal(input, other):
    """True (a Python bool) if the two tensors have one shape and equal elements (dtypes
    promote, so ``1 == 1.0``).

    >>> gg.equal(gg.tensor([1, 2]), gg.tensor([1.0, 2.0])), gg.equal(gg.ones(2), gg.ones(3))
    (True, False)
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("equal", input, "input")
    if not isinstance(other, Tensor):
        raise not_a_tensor("equal", other, "other")
    if input.shape != other.shape:
        return False
    return bool(_compare("equal", input, other)._data.all())
