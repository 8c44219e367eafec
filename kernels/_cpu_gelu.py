"""Numba ufuncs behind GELU on the NumPy backend; importing this module imports Numba.

Each is one pass over memory with no temporaries, compiled (or loaded from the disk cache,
``cache=True``) on its first call: no eager signatures, so a float32 model never loads the
float64 ufuncs. Do not pass ``out=`` an input: Numba then gives up vectorising the loop
(12x slower).

float64 calls ``math.erf`` (libm, within an ulp or two, which float64 gradchecks need).
float32 uses a rational approximation instead: libm's ``erf`` is a scalar call Numba
cannot vectorise (13 ns per element, against 0.8 ns for the rational form). It is
x * P(x^2) / Q(x^2) on |x| <= 4 (erf rounds to +-1 in float32 beyond), fitted by weighted
least squares for this module: at most 6 ulp (3.7e-7) from erf over float32, about
PyTorch's own float32 accuracy. Its coefficients are float32 globals, so the whole
expression stays in float32 and vectorises.

``exp`` is not computed by the float64 ufuncs: NumPy's SIMD ``exp`` is 2x Numba's scalar
one, so callers pass ``exp(-x^2 / 2)`` in. The float32 gradient takes the vectorised ``exp``
of :mod:`._cpu_exp` inside its one pass (2x faster than three NumPy passes and the ufunc).
"""
import math

import numba
import numpy as np

from ._cpu_exp import exp

_P = [np.float32(c) for c in (1.1283791590559198, 0.19167068825859848, 0.05285230684913595,
                              0.0038033244366244877, 0.0002828315586616108,
                              2.00150106596797e-06)]
_Q = [np.float32(c) for c in (0.5031966205280554, 0.11457400234758733, 0.015045956285497672,
                              0.0011663520901647089, 3.7483205600527536e-05)]
P0, P1, P2, P3, P4, P5 = _P
Q1, Q2, Q3, Q4, Q5 = _Q
ONE32, HALF32, FOUR32 = np.float32(1.0), np.float32(0.5), np.float32(4.0)
RSQRT2_32 = np.float32(1.0 / math.sqrt(2.0))
RSQRT2PI_32 = np.float32(1.0 / math.sqrt(2.0 * math.pi))
RSQRT2 = 1.0 / math.sqrt(2.0)
RSQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
# tanh form: inner = K * (x + C * x^3), d inner / dx = K + 3 K C x^2
TANH_K = math.sqrt(2.0 / math.pi)
TANH_C = 0.044715
TANH_K32, TANH_3KC32 = np.float32(TANH_K), np.float32(3.0 * TANH_K * TANH_C)
MINUS_HALF32 = np.float32(-0.5)


@numba.njit(inline="always")
def _erf32(x):
    c = min(max(x, -FOUR32), FOUR32)
    u = c * c
    num = ((((P5 * u + P4) * u + P3) * u + P2) * u + P1) * u + P0
    den = ((((Q5 * u + Q4) * u + Q3) * u + Q2) * u + Q1) * u + ONE32
    return min(max(c * num / den, -ONE32), ONE32)


@numba.vectorize(cache=True)
def gelu_erf32(x):
    return HALF32 * x * (ONE32 + _erf32(x * RSQRT2_32))


@numba.vectorize(cache=True)
def gelu_erf64(x):
    return 0.5 * x * (1.0 + math.erf(x * RSQRT2))


@numba.vectorize(cache=True)
def gelu_erf_grad32(x, gauss, g):
    """g * (Phi(x) + x * phi(x)), with gauss = exp(-x^2 / 2)."""
    cdf = HALF32 * (ONE32 + _erf32(x * RSQRT2_32))
    return g * (cdf + x * RSQRT2PI_32 * gauss)


@numba.vectorize(cache=True)
def gelu_erf_grad_exp32(x, g):
    """g * (Phi(x) + x * phi(x)) in float32, exp(-x^2 / 2) computed here."""
    cdf = HALF32 * (ONE32 + _erf32(x * RSQRT2_32))
    return g * (cdf + x * RSQRT2PI_32 * exp(MINUS_HALF32 * x * x))


@numba.vectorize(cache=True)
def gelu_erf_grad64(x, gauss, g):
    cdf = 0.5 * (1.0 + math.erf(x * RSQRT2))
    return g * (cdf + x * RSQRT2PI * gauss)


@numba.vectorize(cache=True)
def gelu_tanh_grad32(x, t, g):
    """g * d/dx [x (1 + tanh(inner)) / 2], with t = tanh(inner)."""
    return g * HALF32 * (ONE32 + t + x * (ONE32 - t * t) * (TANH_K32 + TANH_3KC32 * x * x))


@numba.vectorize(cache=True)
def gelu_tanh_grad64(x, t, g):
    return g * 0.5 * (1.0 + t + x * (1.0 - t * t) * (TANH_K + 3.0 * TANH_K * TANH_C * x * x))
