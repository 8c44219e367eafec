"""Elementwise ops, one namespace over the three families that define them:
``arithmetic`` (+ - * / **), ``unary`` (exp, log, tanh, relu, ...) and ``select`` (clamp,
maximum/minimum, where)."""
from .arithmetic import Add, Div, Mul, Neg, Pow, PowScalar, Sub, add, div, mul, neg, pow, sub
from .select import (Clamp, Maximum, Minimum, Where, clamp, masked_fill, maximum, minimum,
                     where)
from .unary import (Abs, Cos, Exp, Log, Log1p, Relu, Sigmoid, SigmoidBackward, Sin, Sqrt, Tanh,
                    TanhBackward, abs, cos, exp, log, log1p, relu, sigmoid, sin, sqrt, tanh)

__all__ = [
    "Add", "Sub", "Mul", "Div", "Neg", "Pow", "PowScalar", "Exp", "Log", "Log1p", "Sqrt",
    "Sin", "Cos", "Tanh", "TanhBackward", "Sigmoid", "SigmoidBackward", "Relu", "Abs",
    "Clamp", "Maximum", "Minimum", "Where",
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "log1p", "sqrt", "sin", "cos",
    "tanh", "sigmoid", "relu", "abs", "clamp", "maximum", "minimum", "where", "masked_fill",
]
