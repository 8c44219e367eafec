"""gg.compile's static memory plan: ops of a replay on NumPy write into buffers the plan
keeps; replays stay equal to eager steps bit for bit, and no array a caller can hold is
ever a buffer."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.jit import buffers
from gpugrad.nn.functional.linear import Linear
from gpugrad.ops.arithmetic import Add, Div, Mul, Neg, Sub
from gpugrad.ops.linalg import MatMul
from gpugrad.ops.unary import Relu, Tanh

from test_compile import BUILD, _batches, _train, _training_step


def _special(rng, shape, dtype):
    """Random values with NaN, +-inf, -0.0 and 0.0 among them."""
    a = rng.standard_normal(shape).astype(dtype)
    flat = a.reshape(-1)
    flat[:5] = [np.nan, np.inf, -np.inf, -0.0, 0.0]
    return a


UNARY = [Relu, Tanh, Neg]
BINARY = [Add, Sub, Mul, Div]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", UNARY + BINARY, ids=lambda c: c.__name__)
def test_each_elementwise_writer_equals_its_ops_forward(cls, dtype):
    rng = np.random.default_rng(0)
    arrays = [_special(rng, (7, 9), dtype)]
    if cls in BINARY:
        arrays.append(_special(rng, (9,), dtype))  # broadcast against the rows
    out = np.full(np.broadcast_shapes(*(a.shape for a in arrays)), 7.0, dtype)
    with np.errstate(all="ignore"):
        expected = cls.forward(object.__new__(cls), np, *arrays)
        got = buffers.WRITERS[cls](None, np, out, *arrays)
    assert got is out
    np.testing.assert_array_equal(got.view(np.uint8), expected.view(np.uint8))  # bits


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape,bias", [((5, 6), True), ((5, 6), False), ((2, 3, 6), True)])
def test_the_linear_writer_equals_linears_forward(x_shape, bias, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((4, 6)).astype(dtype)
    args = (x, w, rng.standard_normal(4).astype(dtype)) if bias else (x, w)
    expected = Linear.forward(object.__new__(Linear), np, *args)
    out = np.empty_like(expected)
    assert buffers.WRITERS[Linear](None, np, out, *args) is out
    np.testing.assert_array_equal(out.view(np.uint8), expected.view(np.uint8))


@pytest.mark.parametrize("shapes", [((5, 6), (6, 3)), ((2, 5, 6), (6, 3)),
                                    ((2, 5, 6), (2, 6, 3)), ((1, 5, 6), (4, 6, 3))])
def test_the_matmul_writer_equals_matmuls_forward(shapes):
    rng = np.random.default_rng(2)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in shapes)
    expected = MatMul.forward(object.__new__(MatMul), np, a, b)
    out = np.empty_like(expected)
    assert buffers.WRITERS[MatMul](None, np, out, a, b) is out
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("kind", sorted(BUILD))
def test_replays_with_every_op_output_in_buffers_equal_eager(kind, monkeypatch):
    monkeypatch.setattr(buffers, "MIN_BYTES", 0)  # the test models are small
    eager_losses, eager_params, _ = _train(kind, "cpu", compiled=False)
    losses, params, run = _train(kind, "cpu", compiled=True)
    assert run.stats["replay"] == 1 and run.stats["buffers"] > 0
    assert losses == eager_losses
    for p, q in zip(params, eager_params):
        np.testing.assert_array_equal(p, q)


def _big_mlp():
    gg.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def _plan(compiled):
    (variant,) = compiled._variants.values()
    return variant.plan


def test_an_mlp_step_writes_its_activations_into_shared_buffers():
    model = _big_mlp()
    step = gg.compile(_training_step(model, gg.optim.SGD(model.parameters(), lr=0.1)))
    x, y = gg.randn(64, 64), gg.randint(0, 10, (64,))
    for _ in range(3):
        step(x, y)
    plan = _plan(step)
    kinds = {type(plan.code[i][2]) for i in plan.buffers}
    assert {Linear, Relu, MatMul} <= kinds
    distinct = {id(b) for _, b in plan.buffers.values()}
    assert len(distinct) < len(plan.buffers)  # slots that do not overlap share one
    assert step.stats["buffers"] == sum(b.nbytes for b in
                                        {id(b): b for _, b in plan.buffers.values()}.values())


def test_what_a_caller_holds_is_never_overwritten_by_the_next_replay():
    model = _big_mlp()
    opt = gg.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        hidden = model[1](model[0](x))
        logits = model[4](model[3](model[2](hidden)))
        loss = F.cross_entropy(logits, y)
        loss.backward()
        opt.step()
        return loss, logits, hidden.reshape(-1)  # a view of an activation too

    compiled = gg.compile(step)
    x, y = gg.randn(64, 64), gg.randint(0, 10, (64,))
    for _ in range(3):
        held = compiled(x, y)
    grads = [p.grad for p in model.parameters()]
    copies = [t.numpy().copy() for t in held] + [g.numpy().copy() for g in grads]
    compiled(x, y)
    for t, c in zip(list(held) + grads, copies):
        np.testing.assert_array_equal(t.numpy(), c)
    plan = _plan(compiled)
    outputs = {o[1] for o in plan.outputs if o[0] == "slot"}
    assert not outputs & {plan.code[i][6] for i in plan.buffers}


class _Square(gg.autograd.Function):
    """a * a whose backward reads the input from the context, on raw arrays: the replay
    runs that backward whole (a Node), after later ops made outputs of the input's shape."""

    @staticmethod
    def forward(ctx, xp, a):
        ctx.a = a
        return a * a

    @staticmethod
    def backward(ctx, g):
        return g._like(2 * ctx.a * g._data)


def _context_step(model, opt):
    def step(x):
        opt.zero_grad()
        h = model[0](x)
        z = model[1](_Square.apply(h))  # may reuse h's buffer unless the context holds it
        loss = (z * z).sum()
        loss.backward()
        opt.step()
        return loss
    return step


def _context_run(compiled):
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 32), nn.Linear(32, 32))
    step = _context_step(model, gg.optim.SGD(model.parameters(), lr=1e-3))
    run = gg.compile(step) if compiled else step
    x = gg.randn(128, 32)
    return [run(x).item() for _ in range(4)], model[0].weight.numpy().copy()


def test_a_backward_reading_its_context_keeps_the_inputs_buffer():
    (losses, weight), (eager_losses, eager_weight) = _context_run(True), _context_run(False)
    assert losses == eager_losses
    np.testing.assert_array_equal(weight, eager_weight)


def test_without_the_context_rule_the_input_buffer_would_be_reused(monkeypatch):
    """The rule above is needed: without it the replay computes another gradient."""
    monkeypatch.setattr(buffers, "_contexts_read", lambda ins, op_at: ())
    losses, weight = _context_run(True)
    eager_losses, eager_weight = _context_run(False)
    assert losses[:2] == eager_losses[:2]  # the two traced calls run eagerly
    assert not np.array_equal(weight, eager_weight)


def test_small_outputs_and_other_backends_get_no_buffers():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    step = gg.compile(_training_step(model, gg.optim.SGD(model.parameters(), lr=0.1)))
    x, y = gg.randn(3, 4), gg.randint(0, 2, (3,))
    for _ in range(3):
        step(x, y)
    assert _plan(step).buffers == {} and step.stats["buffers"] == 0


@pytest.mark.cuda
def test_cupy_replays_allocate_from_the_pool():
    model = _big_mlp().to("cuda")
    step = gg.compile(_training_step(model, gg.optim.SGD(model.parameters(), lr=0.1)))
    x, y = gg.randn(64, 64).to("cuda"), gg.randint(0, 10, (64,)).to("cuda")
    for _ in range(3):
        step(x, y)
    assert _plan(step).buffers == {}
