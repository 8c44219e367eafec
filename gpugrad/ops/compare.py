"""Comparisons, logical and bitwise ops. They have no gradient, so they skip the graph."""
from ._util import lift
from ..tensor import Tensor


def _compare(name, a, b):
    if not isinstance(a, Tensor):
        a = lift(a, b)
    elif not isinstance(b, Tensor):
        b = lift(b, a)
    if a._device is not b._device:
        raise RuntimeError(f"{name}: expected all tensors on one device, found {a._device} "
                           f"and {b._device}")
    try:
        out = getattr(a._backend.xp, name)(a.data, b.data)
    except ValueError as err:
        raise ValueError(f"{name}: {err} (input shapes {a.shape}, {b.shape})") from None
    return a._like(a._backend.xp.asarray(out))


def _unary(name, a):
    return a._like(a._backend.xp.asarray(getattr(a._backend.xp, name)(a.data)))


def eq(a, b):
    """Elementwise ``a == b`` as a bool tensor."""
    return _compare("equal", a, b)


def ne(a, b):
    return _compare("not_equal", a, b)


def lt(a, b):
    return _compare("less", a, b)


def le(a, b):
    return _compare("less_equal", a, b)


def gt(a, b):
    return _compare("greater", a, b)


def ge(a, b):
    return _compare("greater_equal", a, b)


def logical_and(a, b):
    return _compare("logical_and", a, b)


def logical_or(a, b):
    return _compare("logical_or", a, b)


def logical_not(a):
    return _unary("logical_not", a)


def bitwise_and(a, b):
    """``a & b``: logical on bool tensors, bitwise on integer ones (as in PyTorch)."""
    return _compare("bitwise_and", a, b)


def bitwise_or(a, b):
    return _compare("bitwise_or", a, b)


def bitwise_xor(a, b):
    return _compare("bitwise_xor", a, b)


def bitwise_not(a):
    """``~a``: logical not of a bool tensor, bitwise not (``-a - 1``) of an integer one."""
    return _unary("invert", a)


def sign(a):
    if a.dtype.kind == "b":
        return a._like(a.data.copy())  # NumPy has no bool sign; PyTorch's is the identity
    return _unary("sign", a)


def isfinite(a):
    return _unary("isfinite", a)


def isnan(a):
    return _unary("isnan", a)
