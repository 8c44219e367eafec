"""Arithmetic ops: + - * / ** // % fmod and negation, with broadcasting."""
from ..autograd.function import Function
from ..dtypes import get_default_dtype
from ._util import _scalar_dtype, add_tangents, binary, operands
from .errors import DTypeError, IntegerDivisionByZero, public_op
from .select import masked_fill


class Add(Function):
    @staticmethod
    def forward(ctx, xp, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g

    @staticmethod
    def backward_arrays(ctx, xp, g):
        return g, g

    @staticmethod
    def jvp(ctx, ta, tb):
        return add_tangents(ta, tb)


class Sub(Function):
    @staticmethod
    def forward(ctx, xp, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)

    @staticmethod
    def backward_arrays(ctx, xp, g):
        return g, (-g if ctx.next[1] is not None else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        return add_tangents(ta, -tb if tb is not None else None)


class Mul(Function):
    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, a, b):
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)

    @staticmethod
    def backward_arrays(ctx, xp, g):
        a, b = ctx.saved_arrays()
        if g.dtype is not a.dtype or g.dtype is not b.dtype:
            return NotImplemented  # backward's Tensor ops promote first
        need_a, need_b = ctx.next
        return (g * b if need_a is not None else None), (g * a if need_b is not None else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.inputs
        return add_tangents(ta * b if ta is not None else None,
                            a * tb if tb is not None else None)


class Div(Function):
    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, a, b):
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g / b if need_a else None), (-g * a / (b * b) if need_b else None)

    @staticmethod
    def backward_arrays(ctx, xp, g):
        a, b = ctx.saved_arrays()
        if g.dtype is not a.dtype or g.dtype is not b.dtype:
            return NotImplemented  # backward's Tensor ops promote first
        need_a, need_b = ctx.next
        return ((g / b if need_a is not None else None),
                (-g * a / (b * b) if need_b is not None else None))

    @staticmethod
    def jvp(ctx, ta, tb):
        b = ctx.inputs[1]
        return add_tangents(ta / b if ta is not None else None,
                            -tb * ctx.output / b if tb is not None else None)


class Neg(Function):
    @staticmethod
    def forward(ctx, xp, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g

    @staticmethod
    def backward_arrays(ctx, xp, g):
        return -g

    @staticmethod
    def jvp(ctx, t):
        return -t


class PowScalar(Function):
    """``a ** p`` for a constant exponent ``p``."""

    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, a, p):
        ctx.p = p
        return a ** p

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        p = ctx.p
        if p == 2:
            return g * 2 * a
        if p == 0:
            return g * 0  # not 0 * a ** -1, which is nan at a == 0 (PyTorch gives 0)
        return g * p * a ** (p - 1)

    @staticmethod
    def backward_arrays(ctx, xp, g):
        (a,) = ctx.saved_arrays()
        if g.dtype is not a.dtype:
            return NotImplemented  # backward's Tensor ops promote first
        p = ctx.p
        if p == 2:
            return g * 2 * a  # 2 and 0 are exact in every float type: no constant needed
        if p == 0:
            return g * 0
        # ``g * p`` lifts p to a 0-d array of g's dtype first, as Tensor ops do
        return g * xp.asarray(p, dtype=g.dtype) * a ** (p - 1)

    @staticmethod
    def jvp(ctx, t):
        (a,) = ctx.inputs
        if ctx.p == 2:
            return t * 2 * a
        if ctx.p == 0:
            return t * 0
        return t * ctx.p * a ** (ctx.p - 1)


class Pow(Function):
    saves_inputs = (0, 1)
    saves_output = True

    @staticmethod
    def forward(ctx, xp, a, b):
        return a ** b

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = g * _base_derivative(a, b) if need_a else None
        gb = None
        if need_b:
            # d(a^b)/db = a^b log a; PyTorch's convention takes 0 where a == 0.
            log_a = masked_fill(a, a == 0, 1).log()
            gb = g * out * log_a
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.inputs
        da = ta * _base_derivative(a, b) if ta is not None else None
        db = None
        if tb is not None:
            db = tb * ctx.output * masked_fill(a, a == 0, 1).log()  # 0 at a == 0, as backward
        return add_tangents(da, db)


class FloorDivide(Function):
    """``a // b``, rounding toward -inf. Piecewise constant: its gradient is zero (as for
    ``floor(a / b)``; PyTorch itself has no derivative for floor_divide and raises)."""

    @staticmethod
    def forward(ctx, xp, a, b):
        return xp.floor_divide(a, b)

    @staticmethod
    def backward(ctx, g):
        zero = g._like(g._backend.xp.zeros_like(g._data))
        need_a, need_b = ctx.needs_input_grad
        return (zero if need_a else None), (zero if need_b else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        out = ctx.output
        return out._like(out._backend.xp.zeros_like(out._data))


class Remainder(Function):
    """``a - b * floor(a / b)``: the result takes the sign of ``b`` (Python's ``%``)."""

    saves_inputs = (0, 1)
    op, rounding = "remainder", "floor"

    @staticmethod
    def forward(ctx, xp, a, b):
        return getattr(xp, ctx.op)(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g if need_a else None), (-g * _quotient(ctx, a, b) if need_b else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.inputs
        return add_tangents(ta, -tb * _quotient(ctx, a, b) if tb is not None else None)


class Fmod(Remainder):
    """``a - b * trunc(a / b)``: the result takes the sign of ``a`` (C's fmod)."""

    op, rounding = "fmod", "trunc"


def _quotient(ctx, a, b):
    """The rounded quotient: a constant of the graph, as its own gradient is zero a.e."""
    return a._like(getattr(a._backend.xp, ctx.rounding)(a._data / b._data))


def _base_derivative(a, b):
    """d(a^b)/da = b a^(b-1), taken as 0 where b == 0 (PyTorch): 0 * 0^-1 would be nan."""
    return masked_fill(b * a ** (b - 1), b == 0, 0)


@public_op
def add(a, b):
    """``a + b`` with broadcasting.

    >>> import gpugrad as gg
    >>> gg.add(gg.tensor([1.0, 2.0]), 1).tolist()
    [2.0, 3.0]
    """
    return binary(Add, a, b)


@public_op
def sub(a, b):
    """``a - b`` with broadcasting.

    >>> gg.sub(gg.tensor([[1.0], [2.0]]), gg.tensor([1.0, 2.0]))
    tensor([[ 0., -1.],
            [ 1.,  0.]])
    """
    return binary(Sub, a, b)


@public_op
def mul(a, b):
    """``a * b`` with broadcasting; a Python int keeps an integer tensor's dtype.

    >>> gg.mul(gg.tensor([1, 2]), 3)
    tensor([3, 6])
    >>> gg.mul(gg.tensor([1, 2]), 0.5)
    tensor([0.5, 1. ])
    """
    return binary(Mul, a, b)


@public_op
def div(a, b, *, rounding_mode=None):
    """True division: integer and bool operands give float32, as in PyTorch. With
    ``rounding_mode='trunc'`` or ``'floor'`` the quotient is rounded toward zero or down
    (integers then stay integers; the gradient is zero).

    >>> gg.div(gg.tensor([1, 3]), 2)
    tensor([0.5, 1.5])
    >>> gg.tensor([7.0]) / gg.tensor([2.0])
    tensor([3.5])
    >>> gg.div(gg.tensor([7, -7]), 2, rounding_mode="trunc")
    tensor([ 3, -3])
    """
    if rounding_mode is not None:
        return _rounded_div(a, b, rounding_mode)
    a, b = operands(a, b, "div")
    if a.dtype.kind != "f":  # Tensor.dtype: bfloat16 arrays say "V"
        dtype = get_default_dtype()
        a, b = a.to(dtype=dtype), b.to(dtype=dtype)
    return Div.apply(a, b)


@public_op
def neg(a):
    """``-a``.

    >>> gg.neg(gg.tensor([1, -2]))
    tensor([-1,  2])
    """
    return Neg.apply(a)


@public_op
def pow(a, b):
    """``a ** b``; a Python-number exponent uses the cheaper constant-exponent op.

    >>> gg.pow(gg.tensor([2.0, 3.0]), 2)
    tensor([4., 9.])
    >>> gg.pow(2.0, gg.tensor([3.0]))
    tensor([8.])
    >>> gg.pow(gg.tensor([4]), 0.5)
    tensor([2.])
    """
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        dtype = _scalar_dtype(b, a.dtype)  # int ** 0.5 is float32, bool ** 2 int64
        return PowScalar.apply(a if dtype == a.dtype else a.to(dtype=dtype), p=b)
    return binary(Pow, a, b)


@public_op
def floor_divide(a, b):
    """``a // b``, rounded toward -inf (PyTorch's floor_divide).

    >>> import gpugrad as gg
    >>> (gg.tensor([7, -7]) // 2).tolist()
    [3, -4]
    """
    a, b = operands(a, b, "floor_divide")
    if a._data.dtype.kind == "b":
        raise DTypeError("floor_divide: not implemented for bool tensors")
    _check_divisor("floor_divide", b)
    return FloorDivide.apply(a, b)


@public_op
def remainder(a, b):
    """``a % b`` with the sign of ``b``, as Python's ``%`` and PyTorch's remainder.

    >>> import gpugrad as gg
    >>> (gg.tensor([5, -5]) % 3).tolist()
    [2, 1]
    """
    a, b = operands(a, b, "remainder")
    if a._data.dtype.kind == "b":
        raise DTypeError("remainder: not implemented for bool tensors")
    _check_divisor("remainder", b)
    return Remainder.apply(a, b)


@public_op
def fmod(a, b):
    """The remainder with the sign of ``a`` (C's fmod).

    >>> import gpugrad as gg
    >>> gg.fmod(gg.tensor([5.0, -5.0]), 3).tolist()
    [2.0, -2.0]
    """
    a, b = operands(a, b, "fmod")
    if a._data.dtype.kind == "b":
        raise DTypeError("fmod: not implemented for bool tensors")
    _check_divisor("fmod", b)
    return Fmod.apply(a, b)


def _rounded_div(a, b, mode):
    if mode == "floor":
        return floor_divide(a, b)
    if mode != "trunc":
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{mode}'")
    a, b = operands(a, b, "div")
    if a.dtype.kind == "f":
        from .unary import trunc
        return trunc(Div.apply(a, b))
    if a._data.dtype.kind == "b":
        raise DTypeError("div: rounding_mode='trunc' is not implemented for bool tensors")
    _check_divisor("div", b)
    x, y = a._data, b._data
    q = x // y  # rounds down: one too low where the exact quotient is negative, not whole
    q = q + ((q * y != x) & ((x < 0) != (y < 0)))
    return a._like(a._backend.xp.asarray(q, dtype=x.dtype))


def _check_divisor(name, b):
    """Integers have no result for division by zero: PyTorch raises where NumPy gives 0.
    (Floats give inf or nan, as IEEE says.) One host sync, for integer divisors only."""
    if b._data.dtype.kind in "iu" and not b._data.all():
        raise IntegerDivisionByZero(f"{name}: integer division by zero (divisor of shape "
                                    f"{b.shape} holds a 0)")
