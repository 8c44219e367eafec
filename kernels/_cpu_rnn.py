"""Numba loops behind the LSTM and GRU sequence ops on the NumPy backend; importing this
module imports Numba.

One call per time step does a step's whole gate math in one pass over memory, writing into
buffers the op allocated once for the sequence; the recurrent matmul stays with BLAS.
Compiled on first call per signature and cached on disk (``cache=True``).

float64 calls libm's ``exp`` and ``tanh`` (float64 gradchecks need them). float32 does not:
Numba cannot vectorise a loop that calls libm, and scalar ``expf``/``tanhf`` lose to NumPy's
SIMD ones by 2x to 8x. :mod:`._cpu_exp`'s ``exp`` (2^n * P(r), 2^n built from its bits)
vectorises; sigmoid and tanh come out within 3 ulp (the tests check it). They are built from it the way ``Sigmoid.forward``
builds sigmoid (exp(-|x|), so nothing overflows); tanh takes its odd Taylor polynomial
below |x| = 0.5, where (1 - e) / (1 + e) would cancel. Every float division sits in a
function compiled with ``error_model="numpy"``: Python's zero-division check would stop
the loops from vectorising.
"""
import math

import numba
import numpy as np
from numba import types
from numba.extending import overload

from ._cpu_exp import exp

F = np.float32
ONE, HALF = F(1.0), F(0.5)
# tanh(x) = x (1 + x^2 T1 + x^4 T2 + ...), its Taylor series, to x^17: 1e-8 relative at 0.5
T1, T2, T3, T4, T5, T6, T7, T8 = (F(c) for c in (
    -1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075,
    -929569 / 638512875, 6404582 / 10854718875))
SMALL = F(0.5)


def _sigmoid(x):
    """1 / (1 + exp(-x)) of a float32 or float64 scalar (in Numba only)."""


def _tanh(x):
    """tanh of a float32 or float64 scalar (in Numba only)."""


@overload(_sigmoid)
def _sigmoid_impl(x):
    if x == types.float32:
        def sigmoid32(x):
            e = exp(-abs(x))
            s = ONE / (ONE + e)
            return s if x >= 0 else e * s
        return sigmoid32

    def sigmoid64(x):
        e = math.exp(-abs(x))
        s = 1.0 / (1.0 + e)
        return s if x >= 0 else e * s
    return sigmoid64


@overload(_tanh)
def _tanh_impl(x):
    if x == types.float32:
        def tanh32(x):
            a = abs(x)
            e = exp(-(a + a))
            big = (ONE - e) / (ONE + e)
            u = a * a
            small = a * (((((((((T8 * u + T7) * u + T6) * u + T5) * u + T4) * u + T3) * u
                              + T2) * u + T1) * u) + ONE)
            t = small if a < SMALL else big
            return t if x >= 0 else -t
        return tanh32
    return lambda x: math.tanh(x)


def _one(x):
    """1 in the type of the scalar ``x`` (in Numba only): a bare ``1`` would turn float32
    arithmetic into float64."""


@overload(_one)
def _one_impl(x):
    if x == types.float32:
        return lambda x: ONE
    return lambda x: 1.0


@numba.njit(cache=True, error_model="numpy")
def sigmoid_array(x, out):
    """``out[...] = sigmoid(x)``, float32 or float64 (the kernels' scalar sigmoid).

    >>> out = np.empty(3, np.float32)
    >>> sigmoid_array(np.array([-1e4, 0, 2], np.float32), out)
    >>> [round(float(v), 4) for v in out]
    [0.0, 0.5, 0.8808]
    """
    flat, res = x.reshape(-1), out.reshape(-1)
    for k in range(flat.size):
        res[k] = _sigmoid(flat[k])


@numba.njit(cache=True, error_model="numpy")
def tanh_array(x, out):
    """``out[...] = tanh(x)``, float32 or float64 (the kernels' scalar tanh).

    >>> out = np.empty(3)
    >>> tanh_array(np.array([-np.inf, 0.0, 0.5]), out)
    >>> out.round(4).tolist()
    [-1.0, 0.0, 0.4621]
    """
    flat, res = x.reshape(-1), out.reshape(-1)
    for k in range(flat.size):
        res[k] = _tanh(flat[k])


# ---- LSTM: gates in PyTorch's order i, f, g, o ------------------------------------------
@numba.njit(cache=True, error_model="numpy")
def lstm_forward_step(x, z, c, h_out, c_out, acts, tc):
    """One step from input gates ``x`` and recurrent gates ``z`` (B, 4H) and cell ``c``
    (B, H): writes h' into ``h_out``, c' into ``c_out``, the activations i, f, g, o into
    ``acts`` (B, 4H) and tanh(c') into ``tc``.

    >>> x, z, c = np.zeros((1, 4)), np.zeros((1, 4)), np.ones((1, 1))
    >>> h, c_new, tc, acts = np.empty((1, 1)), np.empty((1, 1)), np.empty((1, 1)), np.empty((1, 4))
    >>> lstm_forward_step(x, z, c, h, c_new, acts, tc)
    >>> round(float(h[0, 0]), 4), float(c_new[0, 0]), acts.tolist()  # h' = 0.5 tanh(0.5)
    (0.2311, 0.5, [[0.5, 0.5, 0.0, 0.5]])
    """
    # Row by row, one short loop per quantity: loops over 1-d views with few arrays each
    # vectorise; one loop doing it all does not (too many arrays that might overlap).
    size = c.shape[1]
    for b in range(c.shape[0]):
        x_row, z_row, a_row = x[b], z[b], acts[b]
        for j in range(2 * size):
            a_row[j] = _sigmoid(x_row[j] + z_row[j])
        for j in range(2 * size, 3 * size):
            a_row[j] = _tanh(x_row[j] + z_row[j])
        for j in range(3 * size, 4 * size):
            a_row[j] = _sigmoid(x_row[j] + z_row[j])
        c_row, c_new, t_row, h_row = c[b], c_out[b], tc[b], h_out[b]
        for j in range(size):
            c_new[j] = a_row[size + j] * c_row[j] + a_row[j] * a_row[2 * size + j]
        for j in range(size):
            t_row[j] = _tanh(c_new[j])
        for j in range(size):
            h_row[j] = a_row[3 * size + j] * t_row[j]


@numba.njit(cache=True, error_model="numpy")
def lstm_backward_step(acts, tc, c, grad_h, dh_carry, dc, d_gates):
    """Gradients of one step: from the activations and tanh(c') forward kept, the cell
    ``c`` the step started from, dL/dh' = ``grad_h + dh_carry`` and dL/dc' = ``dc``, writes
    dL/d gates into ``d_gates`` (B, 4H) and dL/dc into ``dc`` (in place).

    >>> acts, tc, c = np.array([[0.5, 0.5, 0.0, 0.5]]), np.zeros((1, 1)), np.ones((1, 1))
    >>> dc, d_gates = np.ones((1, 1)), np.empty((1, 4))
    >>> lstm_backward_step(acts, tc, c, np.zeros((1, 1)), np.zeros((1, 1)), dc, d_gates)
    >>> d_gates.tolist(), dc.tolist()  # dc' = 1: d f = c f (1 - f), d g = i, dc = f
    ([[0.0, 0.25, 0.5, 0.0]], [[0.5]])
    """
    size = c.shape[1]
    for b in range(c.shape[0]):
        for j in range(size):
            i, f, g, o = (acts[b, j], acts[b, size + j], acts[b, 2 * size + j],
                          acts[b, 3 * size + j])
            t, u = tc[b, j], _one(i)
            dh = grad_h[b, j] + dh_carry[b, j]
            d = dc[b, j] + dh * o * (u - t * t)
            d_gates[b, j] = d * g * i * (u - i)
            d_gates[b, size + j] = d * c[b, j] * f * (u - f)
            d_gates[b, 2 * size + j] = d * i * (u - g * g)
            d_gates[b, 3 * size + j] = dh * t * o * (u - o)
            dc[b, j] = d * f


# ---- GRU: gates in PyTorch's order r, z, n ----------------------------------------------
@numba.njit(cache=True, error_model="numpy")
def gru_forward_step(x, hg, bias, h, h_out, acts, hn):
    """One step from input gates ``x`` = W_ih x + b_ih and ``hg`` = W_hh h (B, 3H), the
    hidden bias ``bias`` (3H,) and ``h`` (B, H): writes h' into ``h_out``, the activations
    r, z, n into ``acts`` (B, 3H) and W_hn h + b_hn into ``hn`` (B, H).

    >>> x, hg, bias, h = np.zeros((1, 3)), np.zeros((1, 3)), np.zeros(3), np.ones((1, 1))
    >>> h_out, acts, hn = np.empty((1, 1)), np.empty((1, 3)), np.empty((1, 1))
    >>> gru_forward_step(x, hg, bias, h, h_out, acts, hn)
    >>> h_out.tolist(), acts.tolist()  # h' = (1 - z) n + z h with z = 0.5, n = 0
    ([[0.5]], [[0.5, 0.5, 0.0]])
    """
    size = h.shape[1]
    for b in range(h.shape[0]):
        x_row, g_row, a_row, n_row = x[b], hg[b], acts[b], hn[b]
        for j in range(2 * size):
            a_row[j] = _sigmoid(x_row[j] + g_row[j] + bias[j])
        for j in range(size):
            n_row[j] = g_row[2 * size + j] + bias[2 * size + j]
        for j in range(size):
            a_row[2 * size + j] = _tanh(x_row[2 * size + j] + a_row[j] * n_row[j])
        h_row, o_row = h[b], h_out[b]
        for j in range(size):
            n = a_row[2 * size + j]
            o_row[j] = n + a_row[size + j] * (h_row[j] - n)


@numba.njit(cache=True, error_model="numpy")
def gru_backward_step(acts, hn, h, grad_h, dh_mm, dh_direct, d_x, d_hg):
    """Gradients of one step: from the activations and W_hn h + b_hn forward kept, the
    ``h`` the step started from and dL/dh' = ``grad_h + dh_mm + dh_direct``, writes
    dL/d input gates into ``d_x``, dL/d (W_hh h + b_hh) into ``d_hg`` (B, 3H) and the
    direct part of dL/dh, dL/dh' * z, into ``dh_direct`` (in place).

    >>> acts, hn, h = np.array([[0.5, 0.5, 0.0]]), np.zeros((1, 1)), np.ones((1, 1))
    >>> d_x, d_hg, direct = np.empty((1, 3)), np.empty((1, 3)), np.zeros((1, 1))
    >>> gru_backward_step(acts, hn, h, np.ones((1, 1)), np.zeros((1, 1)), direct, d_x, d_hg)
    >>> d_x.tolist(), d_hg.tolist(), direct.tolist()
    ([[0.0, 0.25, 0.5]], [[0.0, 0.25, 0.25]], [[0.5]])
    """
    size = h.shape[1]
    for b in range(h.shape[0]):
        for j in range(size):
            r, z, n = acts[b, j], acts[b, size + j], acts[b, 2 * size + j]
            u = _one(r)
            g = grad_h[b, j] + dh_mm[b, j] + dh_direct[b, j]
            dn = g * (u - z) * (u - n * n)
            dz = g * (h[b, j] - n) * z * (u - z)
            dr = dn * hn[b, j] * r * (u - r)
            d_x[b, j], d_x[b, size + j], d_x[b, 2 * size + j] = dr, dz, dn
            d_hg[b, j], d_hg[b, size + j], d_hg[b, 2 * size + j] = dr, dz, dn * r
            dh_direct[b, j] = g * z
