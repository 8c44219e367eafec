"""The pointwise gate math of one LSTM or GRU step, forward and backward, one kernel each.

One thread per hidden unit of one row, (N, H) threads in all. Forward writes the new state
and the gate activations (LSTM i, f, g, o; GRU r, z, n), which backward reads instead of
evaluating sigmoid and tanh again. Layouts are PyTorch's: LSTM gates (N, 4H) in the order
i, f, g, o; GRU gates (N, 3H) in the order r, z, n, given as the input projection
W_i x + b_i and the hidden projection W_h h + b_h separately (n needs r * (W_hn h + b_hn)).
"""
import math

from . import _launch

cuda = None  # numba.cuda, bound by the first launch (see _launch.kernel_factory)


@_launch.kernel_factory
def _kernels(acc):
    @cuda.jit(device=True)
    def sigmoid(x):
        # exp of a non-positive number only: no overflow for either sign.
        e = math.exp(-abs(x))
        if x >= 0:
            return acc(1) / (acc(1) + e)
        return e / (acc(1) + e)

    @cuda.jit
    def lstm_forward(gates, c, out, acts):
        k = cuda.grid(1)
        size = c.shape[1]
        if k >= c.size:
            return
        row, col = k // size, k % size
        i = sigmoid(acc(gates[row, col]))
        f = sigmoid(acc(gates[row, size + col]))
        g = math.tanh(acc(gates[row, 2 * size + col]))
        o = sigmoid(acc(gates[row, 3 * size + col]))
        c_new = f * c[row, col] + i * g
        out[0, row, col] = o * math.tanh(c_new)
        out[1, row, col] = c_new
        acts[row, col] = i
        acts[row, size + col] = f
        acts[row, 2 * size + col] = g
        acts[row, 3 * size + col] = o

    @cuda.jit
    def lstm_backward(acts, c, grad, d_gates, dc):
        k = cuda.grid(1)
        one = acc(1)  # a bare 1 would promote float32 math to float64
        size = c.shape[1]
        if k >= c.size:
            return
        row, col = k // size, k % size
        i = acc(acts[row, col])
        f = acc(acts[row, size + col])
        g = acc(acts[row, 2 * size + col])
        o = acc(acts[row, 3 * size + col])
        c_old = acc(c[row, col])
        dh = acc(grad[0, row, col])
        t = math.tanh(f * c_old + i * g)
        d_c = grad[1, row, col] + dh * o * (one - t * t)
        d_gates[row, col] = d_c * g * i * (one - i)
        d_gates[row, size + col] = d_c * c_old * f * (one - f)
        d_gates[row, 2 * size + col] = d_c * i * (one - g * g)
        d_gates[row, 3 * size + col] = dh * t * o * (one - o)
        dc[row, col] = d_c * f

    @cuda.jit
    def gru_forward(x_gates, h_gates, h, out, acts):
        k = cuda.grid(1)
        size = h.shape[1]
        if k >= h.size:
            return
        row, col = k // size, k % size
        r = sigmoid(acc(x_gates[row, col]) + h_gates[row, col])
        z = sigmoid(acc(x_gates[row, size + col]) + h_gates[row, size + col])
        n = math.tanh(acc(x_gates[row, 2 * size + col]) + r * h_gates[row, 2 * size + col])
        out[row, col] = n + z * (h[row, col] - n)
        acts[row, col] = r
        acts[row, size + col] = z
        acts[row, 2 * size + col] = n

    @cuda.jit
    def gru_backward(acts, h_gates, h, grad, dx_gates, dh_gates, dh):
        k = cuda.grid(1)
        one = acc(1)  # a bare 1 would promote float32 math to float64
        size = h.shape[1]
        if k >= h.size:
            return
        row, col = k // size, k % size
        r = acc(acts[row, col])
        z = acc(acts[row, size + col])
        n = acc(acts[row, 2 * size + col])
        g = acc(grad[row, col])
        dn = g * (one - z) * (one - n * n)
        dr = dn * h_gates[row, 2 * size + col] * r * (one - r)
        dz = g * (h[row, col] - n) * z * (one - z)
        dx_gates[row, col] = dr
        dx_gates[row, size + col] = dz
        dx_gates[row, 2 * size + col] = dn
        dh_gates[row, col] = dr
        dh_gates[row, size + col] = dz
        dh_gates[row, 2 * size + col] = dn * r
        dh[row, col] = g * z

    return lstm_forward, lstm_backward, gru_forward, gru_backward


def _elementwise(kernel, n, *args):
    threads = _launch.ELEMENTWISE_THREADS
    _launch.launch(kernel, _launch.blocks_for(n, threads), threads, *args)


def _gates(gates, state, count):
    """Both C-contiguous, gates (N, count * H) against state (N, H), or ValueError."""
    gates, state = _launch.check_2d(gates), _launch.check_2d(state)
    if gates.shape != (state.shape[0], count * state.shape[1]):
        raise ValueError(f"expected gates of shape (N, {count}H) for a state (N, H), got "
                         f"{gates.shape} and {state.shape}")
    return gates, state


def lstm_forward(gates, c):
    """One LSTM step's gate math: (stack([h', c']) (2, N, H), activations (N, 4H)).

    >>> import numpy as np
    >>> out, acts = lstm_forward(np.zeros((1, 4)), np.ones((1, 1)))
    >>> out.ravel().round(4), acts  # h' = 0.5 tanh(0.5), c' = 0.5
    (array([0.2311, 0.5   ]), array([[0.5, 0.5, 0. , 0.5]]))
    """
    gates, c = _gates(gates, c, 4)
    out = _launch.empty(gates, (2,) + c.shape)
    acts = _launch.empty(gates, gates.shape)
    _elementwise(_kernels(gates.dtype)[0], c.size, gates, c, out, acts)
    return out, acts


def lstm_backward(acts, c, grad):
    """(d gates (N, 4H), d c (N, H)) of :func:`lstm_forward` for ``grad`` = d stack([h', c']).

    >>> import numpy as np
    >>> _, acts = lstm_forward(np.zeros((1, 4)), np.ones((1, 1)))
    >>> d_gates, dc = lstm_backward(acts, np.ones((1, 1)), np.array([[[0.0]], [[1.0]]]))
    >>> d_gates, dc  # c' = f c + i g: only f (through c = 1) and g (through i) matter
    (array([[0.  , 0.25, 0.5 , 0.  ]]), array([[0.5]]))
    """
    acts, c = _gates(acts, c, 4)
    grad = _launch.contiguous(grad)
    d_gates = _launch.empty(acts, acts.shape)
    dc = _launch.empty(acts, c.shape)
    _elementwise(_kernels(acts.dtype)[1], c.size, acts, c, grad, d_gates, dc)
    return d_gates, dc


def gru_forward(x_gates, h_gates, h):
    """One GRU step's gate math: (h' (N, H), activations r, z, n (N, 3H)).

    >>> import numpy as np
    >>> out, acts = gru_forward(np.zeros((1, 3)), np.zeros((1, 3)), np.ones((1, 1)))
    >>> out, acts  # z = 0.5, n = 0: h' = 0.5 h
    (array([[0.5]]), array([[0.5, 0.5, 0. ]]))
    """
    x_gates, h = _gates(x_gates, h, 3)
    h_gates, _ = _gates(h_gates, h, 3)
    out = _launch.empty(x_gates, h.shape)
    acts = _launch.empty(x_gates, x_gates.shape)
    _elementwise(_kernels(x_gates.dtype)[2], h.size, x_gates, h_gates, h, out, acts)
    return out, acts


def gru_backward(acts, h_gates, h, grad):
    """(d x_gates (N, 3H), d h_gates (N, 3H), d h (N, H)) of :func:`gru_forward`.

    >>> import numpy as np
    >>> _, acts = gru_forward(np.zeros((1, 3)), np.zeros((1, 3)), np.ones((1, 1)))
    >>> dx, dhg, dh = gru_backward(acts, np.zeros((1, 3)), np.ones((1, 1)), np.ones((1, 1)))
    >>> dx, dhg, dh
    (array([[0.  , 0.25, 0.5 ]]), array([[0.  , 0.25, 0.25]]), array([[0.5]]))
    """
    acts, h = _gates(acts, h, 3)
    h_gates, _ = _gates(h_gates, h, 3)
    grad = _launch.check_2d(grad)
    dx_gates = _launch.empty(acts, acts.shape)
    dh_gates = _launch.empty(acts, acts.shape)
    dh = _launch.empty(acts, h.shape)
    _elementwise(_kernels(acts.dtype)[3], h.size, acts, h_gates, h, grad, dx_gates,
                 dh_gates, dh)
    return dx_gates, dh_gates, dh
