"""Fused kernels against the generic CuPy code of the ops that call them, as
``(name, generic, fused, tolerance)`` cases: ``benchmarks/kernels.py`` times them at training
sizes and ``gpugrad-selftest`` checks them at small ones. ``cp`` is CuPy (real or simulated):
the inputs are drawn with ``cp.random.standard_normal(..., dtype=float32)``.
"""
from . import attention, rnn


def recurrent_cases(cp, n=256, size=1024):
    """The LSTM/GRU gate kernels against the ops' generic CuPy path (recurrent.py)."""
    from gpugrad.nn.functional import recurrent
    m, f32 = recurrent._Arrays(cp), cp.float32
    gates = cp.random.standard_normal((n, 4 * size), dtype=f32)
    c = cp.random.standard_normal((n, size), dtype=f32)
    grad = cp.random.standard_normal((2, n, size), dtype=f32)
    _, acts = rnn.lstm_forward(gates, c)
    yield (f"lstm_forward N={n} H={size}", lambda: recurrent._forward(m, gates, c),
           lambda: rnn.lstm_forward(gates, c)[0], 1e-5)
    yield (f"lstm_backward N={n} H={size}",
           lambda: recurrent._backward(m, gates, c, grad[0], grad[1]),
           lambda: rnn.lstm_backward(acts, c, grad), 1e-4)
    x_gates, h_gates = (cp.random.standard_normal((n, 3 * size), dtype=f32) for _ in "xh")
    h, gh = grad[0], grad[1]
    _, (rz, n_gate) = recurrent._gru_forward(m, x_gates, h_gates, h)
    _, gru_acts = rnn.gru_forward(x_gates, h_gates, h)
    yield (f"gru_forward N={n} H={size}",
           lambda: recurrent._gru_forward(m, x_gates, h_gates, h)[0],
           lambda: rnn.gru_forward(x_gates, h_gates, h)[0], 1e-5)
    yield (f"gru_backward N={n} H={size}",
           lambda: recurrent._gru_backward(m, rz, n_gate, h_gates, h, gh),
           lambda: rnn.gru_backward(gru_acts, h_gates, h, gh), 1e-4)


def attention_cases(cp, heads=32, length=1024, dim=64):
    """The flash attention kernels against the op's generic CuPy path (attention.py): the
    generic one keeps the (L, S) weights, the kernels only a logsumexp per row."""
    from gpugrad.nn.functional import attention as sdpa
    f32 = cp.float32
    q, k, v, g = (cp.random.standard_normal((heads, length, dim), dtype=f32) for _ in "qkvg")
    scale = dim ** -0.5

    def generic_probs():
        scores = (q @ k.swapaxes(-1, -2)) * scale
        return sdpa._masked_softmax(cp, sdpa._apply_mask(cp, scores, None, True))
    probs = generic_probs()

    def generic_backward():
        d_probs = g @ v.swapaxes(-1, -2)
        d_scores = probs * (d_probs - (d_probs * probs).sum(-1, keepdims=True))
        return (d_scores @ k) * scale, (d_scores.swapaxes(-1, -2) @ q) * scale, \
            probs.swapaxes(-1, -2) @ g
    out, lse = attention.attention_forward(q, k, v, causal=True, scale=scale)
    yield (f"attention_forward BH={heads} L={length} D={dim} causal",
           lambda: generic_probs() @ v,
           lambda: attention.attention_forward(q, k, v, causal=True, scale=scale)[0], 1e-3)
    yield (f"attention_backward BH={heads} L={length} D={dim} causal", generic_backward,
           lambda: attention.attention_backward(g, q, k, v, out, lse, causal=True,
                                                scale=scale), 1e-3)
