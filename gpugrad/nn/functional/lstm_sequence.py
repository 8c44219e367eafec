"""One LSTM layer-direction over a whole sequence as a single op.

Step by step, the layer records a recurrent matmul, an add and the fused gate op
(``recurrent.LSTMCellPointwise``) per time step, and pays Python dispatch for each of them
in forward and again in backward; at the hidden sizes of character and word models that
dispatch is most of the time. This op runs the time loop on raw arrays in forward, keeping
the pre-activation gates and the states each step started from, and backpropagates through
time on arrays in backward; the recurrent weight's gradient is one matmul over all steps.
Where its result will itself be differentiated (double backward, forward over reverse) the
same loops run on Tensors, and forward-mode tangents follow the loop too.

The gate math is ``recurrent``'s (``_step``, ``_backward_kept``, ``_jvp``), written once
for arrays and Tensors; forward keeps each step's activations, so backward computes no
sigmoid or tanh again.
"""
from ...autograd.function import Function
from ...ops.join import stack
from ._util import differentiating
from .recurrent import _Arrays, _Tensors, _backward_kept, _forward, _jvp, _step


def _order(steps, reverse):
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _run(m, gates, h0, c0, weight, reverse):
    """The forward loop: (stack of h per step in time order + the final c, and per step
    the activations, input h and input c that backward needs)."""
    steps = gates.shape[0] // h0.shape[0]
    per_step = gates.reshape(steps, h0.shape[0], gates.shape[-1])
    kept, hs, cs, outs = ([None] * steps for _ in range(4))
    h, c = h0, c0
    for t in _order(steps, reverse):
        hs[t], cs[t] = h, c
        h, c, kept[t] = _step(m, per_step[t] + h @ weight.T, c)
        outs[t] = h
    return m.stack(outs + [c]), (kept, hs, cs)


def _through_time(m, saved, weight, grad, reverse):
    """Backpropagation through time: gradients of (gates, h0, c0, weight)."""
    kept, hs, cs = saved
    steps = len(kept)
    d_gates = [None] * steps
    dh_carry, dc = None, grad[steps]
    for t in _order(steps, not reverse):
        dh = grad[t] if dh_carry is None else grad[t] + dh_carry
        d_gates[t], dc = _backward_kept(m, kept[t], cs[t], dh, dc)
        dh_carry = d_gates[t] @ weight
    d_z = m.stack(d_gates)
    d_z = d_z.reshape(steps * d_z.shape[1], d_z.shape[2])
    inputs_h = m.stack(hs)
    inputs_h = inputs_h.reshape(d_z.shape[0], inputs_h.shape[2])
    return d_z, dh_carry, dc, d_z.T @ inputs_h


class LSTMSequence(Function):
    """(input gates (T*B, 4H) time-major with both biases folded in, h0 (B, H), c0 (B, H),
    W_hh (4H, H)) -> (T + 1, B, H): h of every step in time order, then the final c.
    ``reverse=True`` runs time backwards (a bidirectional layer's second direction).

    >>> import gpugrad as gg
    >>> out = LSTMSequence.apply(gg.zeros(2, 4), gg.zeros(1, 1), gg.ones(1, 1), gg.zeros(4, 1))
    >>> [round(v, 4) for v in out.reshape(-1).tolist()]  # h1, h2, final c
    [0.2311, 0.1225, 0.25]
    """

    saves_inputs = (0, 1, 2, 3)

    @staticmethod
    def forward(ctx, xp, gates, h0, c0, weight, reverse=False):
        ctx.reverse = reverse
        out, ctx.steps = _run(_Arrays(xp), gates, h0, c0, weight, reverse)
        return out

    @staticmethod
    def backward(ctx, g):
        gates, h0, c0, weight = ctx.saved_tensors
        if differentiating():
            _, saved = _run(_Tensors, gates, h0, c0, weight, ctx.reverse)
            return _through_time(_Tensors, saved, weight, g, ctx.reverse)
        grads = _through_time(_Arrays(g._backend.xp), ctx.steps, weight._data, g._data,
                              ctx.reverse)
        ctx.steps = None  # free the per-step arrays as soon as they were used
        return tuple(map(g._like, grads))

    @staticmethod
    def jvp(ctx, t_gates, t_h0, t_c0, t_weight):
        gates, h0, c0, weight = ctx.inputs
        zero = [x * 0 for x in (gates, h0, c0, weight)]
        t_gates, t_h0, t_c0, t_weight = (z if t is None else t for z, t in
                                         zip(zero, (t_gates, t_h0, t_c0, t_weight)))
        batch = h0.shape[0]
        steps = gates.shape[0] // batch
        per_step = gates.reshape(steps, batch, gates.shape[-1])
        t_per_step = t_gates.reshape(steps, batch, gates.shape[-1])
        h, c, t_h, t_c = h0, c0, t_h0, t_c0
        t_outs = [None] * steps
        for t in _order(steps, ctx.reverse):
            z = per_step[t] + h @ weight.T
            t_z = t_per_step[t] + t_h @ weight.T + h @ t_weight.T
            hc, t_hc = _forward(_Tensors, z, c), _jvp(_Tensors, z, c, t_z, t_c)
            h, c, t_h, t_c = hc[0], hc[1], t_hc[0], t_hc[1]
            t_outs[t] = t_h
        return stack(t_outs + [t_c])
