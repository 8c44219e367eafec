"""Elementwise ops, one namespace over the three families that define them:
``arithmetic`` (+ - * / ** // %), ``unary`` (exp, log, tanh, relu, floor, ...) and ``select``
(clamp, maximum/minimum, where, tril/triu)."""
from .arithmetic import (Add, Div, FloorDivide, Fmod, Mul, Neg, Pow, PowScalar, Remainder, Sub,
                         add, div, floor_divide, fmod, mul, neg, pow, remainder, sub)
from .select import (Clamp, Maximum, Minimum, Where, clamp, masked_fill, maximum, minimum,
                     tril, triu, where)
from .unary import (Abs, Ceil, Cos, Erf, Exp, Exp2, Expm1, Floor, Log, Log1p, Log2, Log10,
                    Reciprocal, Relu, Round, Rsqrt, Sigmoid, SigmoidBackward, Sin, Sqrt, Tanh,
                    TanhBackward, Trunc, abs, ceil, cos, erf, exp, exp2, expm1, floor, log, log1p,
                    log2, log10, reciprocal, relu, round, rsqrt, sigmoid, sin, sqrt, square,
                    tanh, trunc)

__all__ = [
    "Add", "Sub", "Mul", "Div", "Neg", "Pow", "PowScalar", "FloorDivide", "Remainder", "Fmod",
    "Exp", "Exp2", "Expm1", "Log", "Log1p", "Log2", "Log10", "Sqrt", "Rsqrt", "Reciprocal",
    "Erf", "Sin", "Cos", "Tanh", "TanhBackward", "Sigmoid", "SigmoidBackward", "Relu", "Abs",
    "Floor", "Ceil", "Round", "Trunc", "Clamp", "Maximum", "Minimum", "Where",
    "add", "sub", "mul", "div", "neg", "pow", "floor_divide", "remainder", "fmod", "exp",
    "exp2", "expm1", "log", "log1p", "log2", "log10", "sqrt", "rsqrt", "reciprocal", "square",
    "erf", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "floor", "ceil", "round", "trunc",
    "clamp", "maximum", "minimum", "where", "masked_fill", "tril", "triu",
]
