"""The pointwise half of one LSTM step as a single op.

Given the pre-activation gates (N, 4H) (input and hidden projections plus biases, in
PyTorch's order i, f, g, o) and the cell state c (N, H), one op yields h' and c' stacked as
(2, N, H). Built from Tensor ops the same step records about a dozen graph nodes, so a
sequence loop pays Python dispatch for each of them in forward and backward; fused, it pays
once. The math is written once (``_forward``, ``_backward``, ``_jvp``) against a small
namespace, run on raw arrays in the fast path and on Tensors where the result will itself
be differentiated (double backward, forward over reverse).
"""
from ...autograd.function import Function
from ...ops.join import cat, stack
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


def _activations(m, gates):
    size = gates.shape[-1] // 4
    return (m.sigmoid(gates[:, :size]), m.sigmoid(gates[:, size:2 * size]),
            m.tanh(gates[:, 2 * size:3 * size]), m.sigmoid(gates[:, 3 * size:]))


def _forward(m, gates, c):
    i, f, g, o = _activations(m, gates)
    c_new = f * c + i * g
    return m.stack([o * m.tanh(c_new), c_new])


def _backward(m, gates, c, dh, dc_out):
    i, f, g, o = _activations(m, gates)
    t = m.tanh(f * c + i * g)
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
        return _forward(_Arrays(xp), gates, c)

    @staticmethod
    def backward(ctx, g):
        gates, c = ctx.saved_tensors
        if differentiating():
            return _backward(_Tensors, gates, c, g[0], g[1])
        m = _Arrays(g._backend.xp)
        d_gates, d_c = _backward(m, gates._data, c._data, g._data[0], g._data[1])
        return g._like(d_gates), g._like(d_c)

    @staticmethod
    def jvp(ctx, t_gates, t_c):
        gates, c = ctx.inputs
        if t_gates is None:
            t_gates = gates * 0
        if t_c is None:
            t_c = c * 0
        return _jvp(_Tensors, gates, c, t_gates, t_c)
