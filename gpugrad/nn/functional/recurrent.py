"""The pointwise half of one LSTM or GRU step, each as a single op.

LSTM: given the pre-activation gates (N, 4H) (input and hidden projections plus biases, in
PyTorch's order i, f, g, o) and the cell state c (N, H), one op yields h' and c' stacked as
(2, N, H). GRU: given the input projection W_i x + b_i (N, 3H), the hidden projection
W_h h + b_h (N, 3H) (order r, z, n; kept apart because n needs r * (W_hn h + b_hn)) and h,
one op yields h' = (1 - z) * n + z * h. Built from Tensor ops the same step records about a
dozen graph nodes, so a sequence loop pays Python dispatch for each of them in forward and
backward; fused, it pays once. The math is written once (``_forward``, ``_backward``,
``_jvp`` and their ``_gru_`` twins) against a small namespace, run on raw arrays in the fast
path and on Tensors where the result will itself be differentiated (double backward, forward
over reverse). On CuPy arrays with the kernels on, forward and backward are one kernel each
(``kernels/rnn.py``); forward keeps the gate activations for backward then.
"""
from ... import cuda
from ...autograd.function import Function
from ...ops.join import cat, stack
from ...kernels import rnn as rnn_kernels
from ...ops.unary import Sigmoid
from ._util import differentiating


class _Arrays:
    """The namespace of the fast path: NumPy or CuPy arrays."""

    def __init__(self, xp):
        self.xp = xp

    def sigmoid(self, x):
        return Sigmoid.forward(None, self.xp, x)

    def tanh(self, x):
        return self.xp.tanh(x)

    def cat(self, parts):
        return self.xp.concatenate(parts, axis=-1)

    def stack(self, parts):
        return self.xp.stack(parts)


class _Tensors:
    """The namespace of the differentiable path: Tensors and their recorded ops."""

    sigmoid = staticmethod(lambda x: x.sigmoid())
    tanh = staticmethod(lambda x: x.tanh())
    cat = staticmethod(lambda parts: cat(parts, -1))
    stack = staticmethod(stack)


def _grads_as(inputs, grads):
    """Each gradient (array or Tensor) as a Tensor of its input's dtype. Inputs of mixed
    dtypes (under autocast, low-precision gates beside a float32 state) get gradients of
    their own dtypes, as in PyTorch."""
    out = []
    for x, g in zip(inputs, grads):
        if g is None or not hasattr(g, "_data"):
            g = x._like(g) if g is not None else None
        out.append(g if g is None or g.dtype == x.dtype else g.to(dtype=x.dtype))
    return tuple(out)


def _activations(m, gates):
    size = gates.shape[-1] // 4
    # One sigmoid over all four blocks (the g block's is unused): one call, not three.
    s = m.sigmoid(gates)
    return (s[:, :size], s[:, size:2 * size], m.tanh(gates[:, 2 * size:3 * size]),
            s[:, 3 * size:])


def _step(m, gates, c):
    """(h', c', what ``_backward_kept`` needs) of one step."""
    i, f, g, o = _activations(m, gates)
    c_new = f * c + i * g
    t = m.tanh(c_new)
    return o * t, c_new, (i, f, g, o, t)


def _forward(m, gates, c):
    h, c_new, _ = _step(m, gates, c)
    return m.stack([h, c_new])


def _backward(m, gates, c, dh, dc_out):
    i, f, g, o = _activations(m, gates)
    return _backward_kept(m, (i, f, g, o, m.tanh(f * c + i * g)), c, dh, dc_out)


def _backward_kept(m, kept, c, dh, dc_out):
    """Gradients of (gates, c) from the activations ``_step`` kept."""
    i, f, g, o, t = kept
    dc = dc_out + dh * o * (1 - t * t)
    d_gates = m.cat([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g),
                     dh * t * o * (1 - o)])
    return d_gates, dc * f


def _jvp(m, gates, c, t_gates, t_c):
    i, f, g, o = _activations(m, gates)
    size = c.shape[-1]
    ti, tf, tg, to = (t_gates[:, k * size:(k + 1) * size] for k in range(4))
    c_new = f * c + i * g
    dc = (f * (1 - f) * tf) * c + f * t_c + (i * (1 - i) * ti) * g + i * ((1 - g * g) * tg)
    t = m.tanh(c_new)
    dh = (o * (1 - o) * to) * t + o * (1 - t * t) * dc
    return m.stack([dh, dc])


def _fused(xp, *arrays):
    """Do the kernels of ``kernels/rnn.py`` take this step? CuPy arrays of one dtype."""
    return cuda.use_kernels(xp, *arrays) and len({a.dtype for a in arrays}) == 1


class LSTMCellPointwise(Function):
    """(gates (N, 4H), c (N, H)) -> stack([h', c']) of one LSTM step, as one op.

    >>> import gpugrad as gg
    >>> out = LSTMCellPointwise.apply(gg.zeros(1, 4), gg.ones(1, 1))
    >>> [round(v, 4) for v in out.reshape(-1).tolist()]  # h' = 0.5 tanh(0.5), c' = 0.5
    [0.2311, 0.5]
    """

    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, gates, c):
        ctx.acts = None
        if _fused(xp, gates, c):
            out, ctx.acts = rnn_kernels.lstm_forward(gates, c)
            return out
        return _forward(_Arrays(xp), gates, c)

    @staticmethod
    def backward(ctx, g):
        gates, c = ctx.saved_tensors
        if differentiating():
            return _grads_as((gates, c), _backward(_Tensors, gates, c, g[0], g[1]))
        if ctx.acts is not None:
            return tuple(map(g._like, rnn_kernels.lstm_backward(ctx.acts, c._data, g._data)))
        m = _Arrays(g._backend.xp)
        return _grads_as((gates, c), _backward(m, gates._data, c._data, g._data[0],
                                               g._data[1]))

    @staticmethod
    def jvp(ctx, t_gates, t_c):
        gates, c = ctx.inputs
        if t_gates is None:
            t_gates = gates * 0
        if t_c is None:
            t_c = c * 0
        return _jvp(_Tensors, gates, c, t_gates, t_c)


# ---- GRU ------------------------------------------------------------------------------
def _gru_activations(m, x_gates, h_gates):
    size = x_gates.shape[-1] // 3
    rz = m.sigmoid(x_gates[:, :2 * size] + h_gates[:, :2 * size])
    n = m.tanh(x_gates[:, 2 * size:] + rz[:, :size] * h_gates[:, 2 * size:])
    return rz, n


def _gru_forward(m, x_gates, h_gates, h):
    rz, n = _gru_activations(m, x_gates, h_gates)
    return n + rz[:, h.shape[-1]:] * (h - n), (rz, n)  # (1 - z) * n + z * h


def _gru_backward(m, rz, n, h_gates, h, g):
    size = h.shape[-1]
    r, z = rz[:, :size], rz[:, size:]
    dn = g * (1 - z) * (1 - n * n)
    # d r and d z before the sigmoid, side by side as rz is
    d_rz = m.cat([dn * h_gates[:, 2 * size:], g * (h - n)]) * rz * (1 - rz)
    return m.cat([d_rz, dn]), m.cat([d_rz, dn * r]), g * z


def _gru_jvp(m, x_gates, h_gates, h, t_x, t_h_gates, t_h):
    rz, n = _gru_activations(m, x_gates, h_gates)
    size = h.shape[-1]
    r, z = rz[:, :size], rz[:, size:]
    t_rz = rz * (1 - rz) * (t_x[:, :2 * size] + t_h_gates[:, :2 * size])
    t_r, t_z = t_rz[:, :size], t_rz[:, size:]
    t_n = (1 - n * n) * (t_x[:, 2 * size:] + t_r * h_gates[:, 2 * size:]
                         + r * t_h_gates[:, 2 * size:])
    return t_n + t_z * (h - n) + z * (t_h - t_n)


class GRUCellPointwise(Function):
    """(x_gates (N, 3H), h_gates (N, 3H), h (N, H)) -> h' of one GRU step, as one op.

    ``x_gates`` is W_ih x + b_ih, ``h_gates`` W_hh h + b_hh, both in PyTorch's order r, z, n:
    r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r * h_n),
    h' = (1 - z) * n + z * h.

    >>> import gpugrad as gg
    >>> GRUCellPointwise.apply(gg.zeros(1, 3), gg.zeros(1, 3), gg.ones(1, 1)).tolist()
    [[0.5]]
    """

    saves_inputs = (0, 1, 2)

    @staticmethod
    def forward(ctx, xp, x_gates, h_gates, h):
        # Backward reads the activations forward kept: (rz, n), or the kernel's (N, 3H).
        if _fused(xp, x_gates, h_gates, h):
            ctx.fused = True
            out, ctx.acts = rnn_kernels.gru_forward(x_gates, h_gates, h)
            return out
        ctx.fused = False
        out, ctx.acts = _gru_forward(_Arrays(xp), x_gates, h_gates, h)
        return out

    @staticmethod
    def backward(ctx, g):
        x_gates, h_gates, h = ctx.saved_tensors
        if differentiating():
            rz, n = _gru_activations(_Tensors, x_gates, h_gates)
            return _grads_as((x_gates, h_gates, h),
                             _gru_backward(_Tensors, rz, n, h_gates, h, g))
        if ctx.fused:
            grads = rnn_kernels.gru_backward(ctx.acts, h_gates._data, h._data, g._data)
        else:
            grads = _gru_backward(_Arrays(g._backend.xp), *ctx.acts, h_gates._data, h._data,
                                  g._data)
        return _grads_as((x_gates, h_gates, h), grads)

    @staticmethod
    def jvp(ctx, t_x, t_h_gates, t_h):
        x_gates, h_gates, h = ctx.inputs
        t_x = x_gates * 0 if t_x is None else t_x
        t_h_gates = h_gates * 0 if t_h_gates is None else t_h_gates
        t_h = h * 0 if t_h is None else t_h
        return _gru_jvp(_Tensors, x_gates, h_gates, h, t_x, t_h_gates, t_h)
