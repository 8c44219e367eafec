"""One LSTM or GRU layer-direction over a whole sequence as a single op (``LSTMSequence``,
``GRUSequence``).

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
sigmoid or tanh again. On NumPy float32 and float64 a step is instead one BLAS call into a
preallocated buffer and one call of a Numba kernel (``kernels/_cpu_rnn.py``) that does the
gate math in one pass and writes straight into whole-sequence buffers (``_run_cpu``,
``_through_time_cpu``): the NumPy path pays about ten array calls and as many temporaries
per step.
"""
import numpy as np

from ...autograd.function import Function
from ...ops.join import stack
from ._util import differentiating
from .recurrent import (_Arrays, _Tensors, _backward_kept, _forward, _grads_as, _gru_backward,
                        _gru_forward, _gru_jvp, _jvp, _step)


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


def _cpu_kernels(xp, gates, *arrays):
    """``kernels/_cpu_rnn`` where its kernels take these arrays (NumPy, all float32 or all
    float64, at least one step), else None."""
    dtypes = {a.dtype for a in (gates,) + arrays}
    if (xp is not np or len(dtypes) != 1 or dtypes.pop() not in (np.float32, np.float64)
            or gates.shape[0] == 0):
        return None
    from ...kernels import _cpu_rnn  # imports Numba: on first use only
    return _cpu_rnn


def _run_cpu(kernels, gates, h0, c0, weight, reverse):
    """``_run`` with the Numba kernels: the output, and (activations, tanh(c'), c and h
    each step started from), each (T, B, .) in time order."""
    batch, size = h0.shape
    steps = gates.shape[0] // batch
    x = np.ascontiguousarray(gates).reshape(steps, batch, 4 * size)
    w_t = weight.T
    out = np.empty((steps + 1, batch, size), dtype=x.dtype)
    acts = np.empty_like(x)
    tc = np.empty((steps, batch, size), dtype=x.dtype)
    cs = np.empty_like(tc)
    z = np.empty((batch, 4 * size), dtype=x.dtype)
    order = _order(steps, reverse)
    h = np.ascontiguousarray(h0)
    cs[order[0]] = c0
    for k, t in enumerate(order):
        np.matmul(h, w_t, out=z)
        c_out = cs[order[k + 1]] if k + 1 < steps else out[steps]
        kernels.lstm_forward_step(x[t], z, cs[t], out[t], c_out, acts[t], tc[t])
        h = out[t]
    # the h each step started from, for dW_hh; copied, as the output may change in place
    return out, (acts, tc, cs, _inputs_h(out[:steps], h0, reverse))


def _through_time_cpu(kernels, saved, weight, grad, reverse):
    """``_through_time`` with the Numba kernels."""
    acts, tc, cs, hs = saved
    steps, batch, size = tc.shape
    grad = np.ascontiguousarray(grad, dtype=tc.dtype)
    weight = np.ascontiguousarray(weight)
    d_gates = np.empty_like(acts)
    dh = np.zeros((batch, size), dtype=tc.dtype)
    dc = grad[steps].copy()
    for t in _order(steps, not reverse):
        kernels.lstm_backward_step(acts[t], tc[t], cs[t], grad[t], dh, dc, d_gates[t])
        np.matmul(d_gates[t], weight, out=dh)
    d_z = d_gates.reshape(steps * batch, 4 * size)
    return d_z, dh, dc, d_z.T @ hs.reshape(steps * batch, size)


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
        ctx.kernels = _cpu_kernels(xp, gates, h0, c0, weight)
        if ctx.kernels is not None:
            out, ctx.steps = _run_cpu(ctx.kernels, gates, h0, c0, weight, reverse)
        else:
            out, ctx.steps = _run(_Arrays(xp), gates, h0, c0, weight, reverse)
        # bfloat16 arrays promote to float32 on the way (NumPy mixes them with its floats)
        return out.astype(xp.result_type(gates, h0, c0, weight), copy=False)

    @staticmethod
    def backward(ctx, g):
        gates, h0, c0, weight = ctx.saved_tensors
        if differentiating():
            _, saved = _run(_Tensors, gates, h0, c0, weight, ctx.reverse)
            return _grads_as(ctx.saved_tensors,
                             _through_time(_Tensors, saved, weight, g, ctx.reverse))
        if ctx.kernels is not None:
            grads = _through_time_cpu(ctx.kernels, ctx.steps, weight._data, g._data,
                                      ctx.reverse)
        else:
            grads = _through_time(_Arrays(g._backend.xp), ctx.steps, weight._data, g._data,
                                  ctx.reverse)
        ctx.steps = None  # free the per-step arrays as soon as they were used
        return _grads_as(ctx.saved_tensors, grads)

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


# ---- GRU ------------------------------------------------------------------------------
def _inputs_h(out, h0, reverse):
    """The h each step started from, (T, B, H) in time order, from the outputs (T, B, H)."""
    first = h0.reshape(1, *h0.shape)
    return np.concatenate([out[1:], first] if reverse else [first, out[:-1]])


def _gru_run(m, gates, h0, weight, bias, reverse):
    """The GRU forward loop: (stack of h per step, per step (activations, hidden gates, h
    the step started from))."""
    batch = h0.shape[0]
    steps = gates.shape[0] // batch
    per_step = gates.reshape(steps, batch, gates.shape[-1])
    outs, kept = [None] * steps, [None] * steps
    h = h0
    for t in _order(steps, reverse):
        hidden = h @ weight.T + bias
        h_new, acts = _gru_forward(m, per_step[t], hidden, h)
        kept[t] = (acts, hidden, h)
        outs[t] = h = h_new
    return m.stack(outs), kept


def _gru_through_time(m, kept, weight, grad, reverse):
    """GRU backpropagation through time: gradients of (gates, h0, weight, bias)."""
    steps = len(kept)
    d_x, d_hidden = [None] * steps, [None] * steps
    carry = None
    for t in _order(steps, not reverse):
        (rz, n), hidden, h = kept[t]
        g = grad[t] if carry is None else grad[t] + carry
        d_x[t], d_hidden[t], direct = _gru_backward(m, rz, n, hidden, h, g)
        carry = direct + d_hidden[t] @ weight
    d_x, d_hidden = m.stack(d_x), m.stack(d_hidden)
    rows = steps * d_x.shape[1]
    d_x = d_x.reshape(rows, d_x.shape[2])
    d_hidden = d_hidden.reshape(rows, d_hidden.shape[2])
    inputs_h = m.stack([k[2] for k in kept])
    inputs_h = inputs_h.reshape(rows, inputs_h.shape[2])
    return d_x, carry, d_hidden.T @ inputs_h, d_hidden.sum(0)


def _gru_run_cpu(kernels, gates, h0, weight, bias, reverse):
    """``_gru_run`` with the Numba kernels: the output and (activations, W_hn h + b_hn,
    h each step started from), each (T, B, .) in time order."""
    batch, size = h0.shape
    steps = gates.shape[0] // batch
    x = np.ascontiguousarray(gates).reshape(steps, batch, 3 * size)
    w_t, bias = weight.T, np.ascontiguousarray(bias)
    out = np.empty((steps, batch, size), dtype=x.dtype)
    acts = np.empty_like(x)
    hn = np.empty_like(out)
    hidden = np.empty((batch, 3 * size), dtype=x.dtype)
    h = np.ascontiguousarray(h0)
    for t in _order(steps, reverse):
        np.matmul(h, w_t, out=hidden)
        kernels.gru_forward_step(x[t], hidden, bias, h, out[t], acts[t], hn[t])
        h = out[t]
    # copied, as the output may change in place before backward
    return out, (acts, hn, _inputs_h(out, h0, reverse))


def _gru_through_time_cpu(kernels, saved, weight, grad, reverse):
    """``_gru_through_time`` with the Numba kernels."""
    acts, hn, hs = saved
    steps, batch, size = hs.shape
    grad = np.ascontiguousarray(grad, dtype=hs.dtype)
    weight = np.ascontiguousarray(weight)
    d_x, d_hidden = np.empty_like(acts), np.empty_like(acts)
    dh_mm, dh_direct = np.zeros((batch, size), hs.dtype), np.zeros((batch, size), hs.dtype)
    for t in _order(steps, not reverse):
        kernels.gru_backward_step(acts[t], hn[t], hs[t], grad[t], dh_mm, dh_direct, d_x[t],
                                  d_hidden[t])
        np.matmul(d_hidden[t], weight, out=dh_mm)
    d_hidden = d_hidden.reshape(steps * batch, 3 * size)
    return (d_x.reshape(steps * batch, 3 * size), dh_mm + dh_direct,
            d_hidden.T @ hs.reshape(steps * batch, size), d_hidden.sum(0))


class GRUSequence(Function):
    """(input gates (T*B, 3H) time-major, W_ih x + b_ih; h0 (B, H); W_hh (3H, H);
    b_hh (3H,)) -> (T, B, H): h of every step in time order (PyTorch's r, z, n; see
    ``GRUCellPointwise``). ``reverse=True`` runs time backwards.

    >>> import gpugrad as gg
    >>> out = GRUSequence.apply(gg.zeros(2, 3), gg.ones(1, 1), gg.zeros(3, 1), gg.zeros(3))
    >>> out.reshape(-1).tolist()  # z = 0.5, n = 0: h halves each step
    [0.5, 0.25]
    """

    saves_inputs = (0, 1, 2, 3)

    @staticmethod
    def forward(ctx, xp, gates, h0, weight, bias, reverse=False):
        ctx.reverse = reverse
        ctx.kernels = _cpu_kernels(xp, gates, h0, weight, bias)
        if ctx.kernels is not None:
            out, ctx.steps = _gru_run_cpu(ctx.kernels, gates, h0, weight, bias, reverse)
            return out
        out, ctx.steps = _gru_run(_Arrays(xp), gates, h0, weight, bias, reverse)
        return out.astype(xp.result_type(gates, h0, weight, bias), copy=False)

    @staticmethod
    def backward(ctx, g):
        gates, h0, weight, bias = ctx.saved_tensors
        if differentiating():
            _, kept = _gru_run(_Tensors, gates, h0, weight, bias, ctx.reverse)
            return _grads_as(ctx.saved_tensors,
                             _gru_through_time(_Tensors, kept, weight, g, ctx.reverse))
        if ctx.kernels is not None:
            grads = _gru_through_time_cpu(ctx.kernels, ctx.steps, weight._data, g._data,
                                          ctx.reverse)
        else:
            grads = _gru_through_time(_Arrays(g._backend.xp), ctx.steps, weight._data,
                                      g._data, ctx.reverse)
        ctx.steps = None  # free the per-step arrays as soon as they were used
        return _grads_as(ctx.saved_tensors, grads)

    @staticmethod
    def jvp(ctx, t_gates, t_h0, t_weight, t_bias):
        inputs = ctx.inputs
        gates, h0, weight, bias = inputs
        t_gates, t_h0, t_weight, t_bias = (x * 0 if t is None else t for x, t in
                                           zip(inputs, (t_gates, t_h0, t_weight, t_bias)))
        batch = h0.shape[0]
        steps = gates.shape[0] // batch
        per_step = gates.reshape(steps, batch, gates.shape[-1])
        t_per_step = t_gates.reshape(steps, batch, gates.shape[-1])
        h, t_h = h0, t_h0
        t_outs = [None] * steps
        for t in _order(steps, ctx.reverse):
            hidden = h @ weight.T + bias
            t_hidden = t_h @ weight.T + h @ t_weight.T + t_bias
            h_new, _ = _gru_forward(_Tensors, per_step[t], hidden, h)
            t_h = _gru_jvp(_Tensors, per_step[t], hidden, h, t_per_step[t], t_hidden, t_h)
            h = h_new
            t_outs[t] = t_h
        return stack(t_outs)
