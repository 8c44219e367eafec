"""``LSTMSequence``: a whole LSTM layer-direction as one op, against the step-by-step
composite it replaces (values, every gradient, double backward, jvp) and by float64
gradcheck; and the layers take it exactly where it applies."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn.functional.lstm_sequence import LSTMSequence
from gpugrad.nn.functional.recurrent import LSTMCellPointwise


def _inputs(device, steps=4, batch=3, hidden=2, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(steps * batch, 4 * hidden), (batch, hidden), (batch, hidden),
              (4 * hidden, hidden)]
    return [gg.tensor(rng.standard_normal(s), dtype=gg.float64, device=device,
                      requires_grad=True) for s in shapes]


def _composite(gates, h0, c0, weight, reverse=False):
    """The same computation one recorded step at a time (the layers' other path)."""
    batch = h0.shape[0]
    steps = gates.shape[0] // batch
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    h, c, outs = h0, c0, [None] * steps
    for t in order:
        hc = LSTMCellPointwise.apply(gates[t * batch:(t + 1) * batch] + h @ weight.T, c)
        h, c = hc[0], hc[1]
        outs[t] = h
    return gg.stack(outs + [c])


@pytest.mark.parametrize("reverse", [False, True])
def test_values_and_gradients_equal_the_composite(device, reverse):
    inputs = _inputs(device)
    seed = gg.tensor(np.random.default_rng(1).standard_normal((5, 3, 2)), device=device)
    got = LSTMSequence.apply(*inputs, reverse=reverse)
    want = _composite(*inputs, reverse=reverse)
    np.testing.assert_allclose(got.cpu().numpy(), want.cpu().numpy(), rtol=1e-13, atol=1e-14)
    g_got = gg.grad((got * seed).sum(), inputs)
    g_want = gg.grad((want * seed).sum(), inputs)
    for a, b in zip(g_got, g_want):
        np.testing.assert_allclose(a.cpu().numpy(), b.cpu().numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck_first_and_second_order(device, reverse):
    inputs = _inputs(device, steps=3, batch=2, hidden=2)
    fn = lambda *xs: LSTMSequence.apply(*xs, reverse=reverse)  # noqa: E731
    assert gg.gradcheck(fn, tuple(inputs))
    # Second order: the gradient of a weighted sum of the first-order gradients.
    first = lambda *xs: sum((g * g).sum() for g in gg.grad(  # noqa: E731
        fn(*xs).tanh().sum(), xs, create_graph=True))
    assert gg.gradcheck(first, tuple(inputs))


@pytest.mark.parametrize("reverse", [False, True])
def test_jvp_equals_the_composite(device, reverse):
    inputs = [x.detach() for x in _inputs(device)]
    tangents = [x.detach() for x in _inputs(device, seed=2)]
    _, got = gg.func.jvp(lambda *xs: LSTMSequence.apply(*xs, reverse=reverse), inputs,
                         tangents)
    _, want = gg.func.jvp(lambda *xs: _composite(*xs, reverse=reverse), inputs, tangents)
    np.testing.assert_allclose(got.cpu().numpy(), want.cpu().numpy(), rtol=1e-12, atol=1e-13)


def _ops_in_graph(out):
    seen, stack, names = set(), [out.grad_fn], []
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(type(node).__name__)
        stack.extend(getattr(node, "next", None) or [])
    return names


def test_layers_use_it_for_equal_lengths_only(device):
    lstm = gg.nn.LSTM(3, 4, num_layers=2, bidirectional=True).to(device)
    x = gg.randn(5, 2, 3, device=device)
    names = _ops_in_graph(lstm(x)[0].sum())
    assert names.count("LSTMSequence") == 4 and "LSTMCellPointwise" not in names
    packed = gg.nn.utils.rnn.pack_padded_sequence(x, gg.tensor([5, 3]))
    names = _ops_in_graph(lstm(packed)[0].data.sum())
    assert "LSTMSequence" not in names and "LSTMCellPointwise" in names
    projected = gg.nn.LSTM(3, 4, proj_size=2).to(device)
    assert "LSTMSequence" not in _ops_in_graph(projected(x)[0].sum())
