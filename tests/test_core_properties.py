"""Property tests: random small op graphs, analytic against numeric gradients."""
import numpy as np
from hypothesis import given, settings, strategies as st

import gpugrad as gg

UNARY = [lambda t: t.tanh(), lambda t: t.sin(), lambda t: t * t, lambda t: t.sigmoid(),
         lambda t: (t * t + 1).log(), lambda t: t.exp() * 0.1, lambda t: -t]
BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b,
          lambda a, b: a / (b * b + 1), lambda a, b: gg.maximum(a, b * 0.5)]
REDUCE = [lambda t: t.sum(), lambda t: t.mean(), lambda t: (t * t).sum(0).sum(),
          lambda t: t.logsumexp(-1).sum()]


@st.composite
def graphs(draw):
    """A program: each step applies a unary or binary op to earlier values (fan-out and
    diamonds arise naturally when a value is reused)."""
    steps = []
    for i in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            steps.append(("u", draw(st.integers(0, len(UNARY) - 1)),
                          draw(st.integers(0, i + 1))))
        else:
            steps.append(("b", draw(st.integers(0, len(BINARY) - 1)),
                          draw(st.integers(0, i + 1)), draw(st.integers(0, i + 1))))
    return steps, draw(st.integers(0, len(REDUCE) - 1))


def run(program, x, y):
    steps, reducer = program
    values = [x, y]
    for step in steps:
        if step[0] == "u":
            values.append(UNARY[step[1]](values[step[2]]))
        else:
            values.append(BINARY[step[1]](values[step[2]], values[step[3]]))
    return REDUCE[reducer](values[-1])


@settings(max_examples=40, deadline=None)
@given(graphs(), st.integers(0, 2**31 - 1))
def test_random_graphs_match_numeric_gradients(program, seed):
    rng = np.random.default_rng(seed)
    x = gg.tensor(rng.uniform(-1, 1, (2, 3)), requires_grad=True)
    y = gg.tensor(rng.uniform(-1, 1, (3,)), requires_grad=True)  # broadcasts against x
    assert gg.gradcheck(lambda a, b: run(program, a, b), [x, y])
