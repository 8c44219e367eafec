"""``exp`` that Numba can vectorise, for the CPU loops of ``kernels/_cpu_*.py``; importing
this module imports Numba.

Numba calls libm's scalar ``expf`` (no SIMD ``exp`` without Intel's SVML), 1.5-2 ns per
element here, which made the softmax of cross-entropy and GELU's gradient cheaper on NumPy's
SIMD ``exp``. :func:`exp` of a float32 is instead Cephes' ``expf`` written in float32
arithmetic: x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-7 polynomial and 2^n built
from its exponent bits, which LLVM turns into 8-wide AVX2 code (0.3 ns per element). It is
within 2 ulp of the true value for arguments in [-87.3, 88] (tested); below it gives 0 (the
true value is below float32's smallest normal number), above it +inf, and NaN stays NaN.
Every caller passes arguments <= 0 (shifted softmax scores, -x^2 / 2). A float64 argument
takes ``math.exp``: float64 is for gradchecks, where accuracy is the point.
"""
import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

LOG2E = np.float32(1.4426950408889634)
LN2_HI, LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)
LOWEST, HIGHEST = np.float32(-87.33654), np.float32(88.0)
HALF, ONE, ZERO = np.float32(0.5), np.float32(1.0), np.float32(0.0)
INF = np.float32(np.inf)
C0, C1, C2, C3, C4, C5 = (np.float32(c) for c in (
    1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
    5.0000001201e-1))


@intrinsic
def _pow2(typingctx, n):
    """2^n for an integral float32 n in [-126, 127], built from its bits. One 32-bit
    conversion, add and shift, so loops vectorise (an int64 conversion has no AVX2
    instruction, and Numba's int32 arithmetic would widen to int64)."""
    if n != types.float32:
        return None

    def codegen(context, builder, signature, args):
        word = ir.IntType(32)
        bits = builder.fptosi(args[0], word)
        bits = builder.shl(builder.add(bits, ir.Constant(word, 127)), ir.Constant(word, 23))
        return builder.bitcast(bits, ir.FloatType())
    return types.float32(n), codegen


def exp(x):
    """e ** x: the vectorisable float32 form, or ``math.exp`` of a float64 (in Numba code
    only; plain Python calls get ``math.exp``).

    >>> round(exp(1.0), 6)
    2.718282
    """
    return math.exp(x)


@numba.njit(inline="always")
def _exp32(x):
    c = min(max(x, LOWEST), HIGHEST)
    n = np.floor(c * LOG2E + HALF)
    r = c - n * LN2_HI - n * LN2_LO
    p = (((((C0 * r + C1) * r + C2) * r + C3) * r + C4) * r + C5) * r * r + r + ONE
    e = p * _pow2(n)
    if x < LOWEST:
        e = ZERO
    if x > HIGHEST:
        e = INF
    if x != x:
        e = x
    return e


@overload(exp, inline="always")
def _exp_overload(x):
    if x == types.float32:
        return lambda x: _exp32(x)
    return lambda x: math.exp(x)
