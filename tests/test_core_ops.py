"""Every core op: forward against NumPy, gradient against central differences (float64).

One table drives the tests: each entry names an op, how to build its inputs (shapes chosen
to cover 0-d, broadcasting and non-contiguous inputs), the gpugrad call and the NumPy
reference.
"""
import numpy as np
import pytest

import gpugrad as gg


def _pos(shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def _any(shape):
    return lambda rng: rng.standard_normal(shape)


def _noncontig(shape):
    # A transposed view: strides differ from a fresh array of the same shape.
    return lambda rng: rng.standard_normal(shape[::-1]).T


UNARY = {
    "neg": (lambda t: -t, lambda a: -a, _any),
    "exp": (gg.exp, np.exp, _any),
    "log": (gg.log, np.log, _pos),
    "log1p": (gg.log1p, np.log1p, _pos),
    "sqrt": (gg.sqrt, np.sqrt, _pos),
    "sin": (gg.sin, np.sin, _any),
    "cos": (gg.cos, np.cos, _any),
    "tanh": (gg.tanh, np.tanh, _any),
    "sigmoid": (gg.sigmoid, lambda a: 1 / (1 + np.exp(-a)), _any),
    "relu": (gg.relu, lambda a: np.maximum(a, 0), _any),
    "abs": (gg.abs, np.abs, _any),
    "clamp": (lambda t: t.clamp(-0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), _any),
    "clamp_min": (lambda t: t.clamp(min=0.1), lambda a: np.maximum(a, 0.1), _any),
    "pow_scalar": (lambda t: t ** 3, lambda a: a ** 3, _any),
    "pow_frac": (lambda t: t ** 0.5, lambda a: a ** 0.5, _pos),
    "rpow": (lambda t: 2.0 ** t, lambda a: 2.0 ** a, _any),
    "rsub": (lambda t: 1 - t, lambda a: 1 - a, _any),
    "rdiv": (lambda t: 1 / t, lambda a: 1 / a, _pos),
    "sum_all": (lambda t: t.sum(), lambda a: a.sum(), _any),
    "mean_all": (lambda t: t.mean(), lambda a: a.mean(), _any),
}

# (shape of the unary input) cases: 0-d, vector, matrix, non-contiguous matrix
UNARY_SHAPES = [("0d", _any, ()), ("vec", _any, (5,)), ("mat", _any, (3, 4)),
                ("noncontig", _noncontig, (3, 4))]


def _make(maker, shape, rng, dtype):
    return np.asarray(maker(shape)(rng), dtype=dtype)


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("case", [c[0] for c in UNARY_SHAPES])
def test_unary_forward_and_grad(name, case, device, rng):
    fn, ref, kind = UNARY[name]
    shape = dict((c[0], c[2]) for c in UNARY_SHAPES)[case]
    raw = np.asarray(kind(shape)(rng))
    if case == "noncontig":
        raw = np.asarray(kind(shape[::-1])(rng)).T
    x = gg.tensor(raw, device=device, requires_grad=True)
    np.testing.assert_allclose(fn(x).cpu().numpy(), ref(raw), rtol=1e-12, atol=1e-12)
    assert gg.gradcheck(fn, [x])


BINARY = {
    "add": (lambda a, b: a + b, np.add, _any),
    "sub": (lambda a, b: a - b, np.subtract, _any),
    "mul": (lambda a, b: a * b, np.multiply, _any),
    "div": (lambda a, b: a / b, np.divide, _pos),
    "pow": (lambda a, b: a ** b, np.power, _pos),
    "maximum": (gg.maximum, np.maximum, _any),
    "minimum": (gg.minimum, np.minimum, _any),
    "where": (lambda a, b: gg.where(a > b, a, b * 2),
              lambda a, b: np.where(a > b, a, b * 2), _any),
}

BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), ()),
                    ((), (5,)), ((4,), (2, 3, 4))]


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
def test_binary_forward_and_grad(name, shapes, device, rng):
    fn, ref, kind = BINARY[name]
    ra, rb = np.asarray(kind(shapes[0])(rng)), np.asarray(kind(shapes[1])(rng))
    a = gg.tensor(ra, device=device, requires_grad=True)
    b = gg.tensor(rb, device=device, requires_grad=True)
    out = fn(a, b)
    np.testing.assert_allclose(out.cpu().numpy(), ref(ra, rb), rtol=1e-12)
    assert out.shape == np.broadcast_shapes(ra.shape, rb.shape)
    assert gg.gradcheck(fn, [a, b])


REDUCTIONS = {
    "sum": (lambda t, d, k: t.sum(d, keepdim=k), lambda a, d, k: a.sum(d, keepdims=k)),
    "mean": (lambda t, d, k: t.mean(d, keepdim=k), lambda a, d, k: a.mean(d, keepdims=k)),
    "var": (lambda t, d, k: t.var(d, keepdim=k), lambda a, d, k: a.var(d, ddof=1, keepdims=k)),
    "std": (lambda t, d, k: t.std(d, keepdim=k), lambda a, d, k: a.std(d, ddof=1, keepdims=k)),
    "amax": (lambda t, d, k: gg.amax(t, d, k), lambda a, d, k: a.max(d, keepdims=k)),
    "amin": (lambda t, d, k: gg.amin(t, d, k), lambda a, d, k: a.min(d, keepdims=k)),
    "logsumexp": (lambda t, d, k: t.logsumexp(d, keepdim=k),
                  lambda a, d, k: np.log(np.exp(a).sum(d, keepdims=k))),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_reduction_forward_and_grad(name, dim, keepdim, device, rng):
    fn, ref = REDUCTIONS[name]
    if name == "logsumexp" and dim is None:
        dim = (0, 1, 2)
    raw = rng.standard_normal((2, 3, 4))
    x = gg.tensor(raw, device=device, requires_grad=True)
    np.testing.assert_allclose(fn(x, dim, keepdim).cpu().numpy(), ref(raw, dim, keepdim),
                               rtol=1e-12)
    assert gg.gradcheck(lambda t: fn(t, dim, keepdim), [x])


def test_max_along_dim_returns_values_and_indices(device):
    x = gg.tensor([[1.0, 5.0, 5.0], [7.0, 2.0, 3.0]], device=device, requires_grad=True)
    values, indices = x.max(1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    values.sum().backward()
    # Along a dim the gradient goes to the returned index only (the first of tied maxima).
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    assert x.min(0, keepdim=True).indices.shape == (1, 3)


def test_max_over_all_shares_ties_evenly(device):
    x = gg.tensor([3.0, 1.0, 3.0], device=device, requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [0.5, 0.0, 0.5]


def test_nondifferentiable_points_match_pytorch(device):
    x = gg.tensor([-1.0, 0.0, 2.0], device=device, requires_grad=True)
    x.relu().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]  # relu'(0) = 0
    x.grad = None
    x.abs().sum().backward()
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]  # abs'(0) = 0
    x.grad = None
    x.clamp(0.0, 2.0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]  # 0 at the bounds, as in PyTorch 2.14
    a = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    b = gg.tensor([1.0, 3.0], device=device, requires_grad=True)
    gg.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 0.0] and b.grad.tolist() == [0.5, 1.0]


SHAPE_OPS = {
    "reshape": lambda t: t.reshape(4, 6),
    "view_neg1": lambda t: t.view(-1, 3),
    "flatten": lambda t: t.flatten(1),
    "transpose": lambda t: t.transpose(0, 2),
    "permute": lambda t: t.permute(2, 0, 1),
    "T": lambda t: t.T,
    "unsqueeze": lambda t: t.unsqueeze(1),
    "squeeze": lambda t: t[:, :1].squeeze(1),
    "expand": lambda t: t[:, :1].expand(2, 3, 4),
    "slice": lambda t: t[1:, ::2, -1],
    "int_array_repeated": lambda t: t[:, [0, 0, 2]],
    "mask": lambda t: t[t > 0],
    "ellipsis_none": lambda t: t[..., None, 1],
    "cat": lambda t: gg.cat([t, t * 2], dim=1),
    "stack": lambda t: gg.stack([t, t.sin()], dim=-1),
    "split": lambda t: t.split([1, 3], dim=2)[1],
    "chunk": lambda t: t.chunk(2, dim=1)[1],
    "clone": lambda t: t.clone(),
    "to_dtype_roundtrip": lambda t: t.to(gg.float32).to(gg.float64) * 1,
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_and_index_ops_grad(name, device, rng):
    x = gg.tensor(rng.standard_normal((2, 3, 4)), device=device, requires_grad=True)
    if name == "to_dtype_roundtrip":
        out = SHAPE_OPS[name](x)
        out.sum().backward()
        assert x.grad.dtype == np.float64 and np.all(x.grad.cpu().numpy() == 1)
        return
    assert gg.gradcheck(SHAPE_OPS[name], [x])


def test_shape_ops_forward_against_numpy(rng):
    raw = rng.standard_normal((2, 3, 4))
    x = gg.tensor(raw)
    assert np.array_equal(x.permute(2, 0, 1).numpy(), raw.transpose(2, 0, 1))
    assert np.array_equal(x[:, [0, 0, 2]].numpy(), raw[:, [0, 0, 2]])
    assert np.array_equal(x[x > 0].numpy(), raw[raw > 0])
    assert np.array_equal(gg.cat([x, x], 1).numpy(), np.concatenate([raw, raw], 1))
    assert [p.shape for p in x.split(2, dim=2)] == [(2, 3, 2), (2, 3, 2)]
    assert [p.shape for p in x.chunk(2, dim=1)] == [(2, 2, 4), (2, 1, 4)]


MATMUL_SHAPES = [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                 ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 5))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_forward_and_grad(shapes, device, rng):
    ra, rb = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    a = gg.tensor(ra, device=device, requires_grad=True)
    b = gg.tensor(rb, device=device, requires_grad=True)
    np.testing.assert_allclose((a @ b).cpu().numpy(), ra @ rb, rtol=1e-12)
    assert gg.gradcheck(lambda p, q: p @ q, [a, b])


def test_diamond_graph_sums_gradients(device):
    # b feeds two nodes; its gradient is the sum over both paths.
    a = gg.tensor(2.0, device=device, requires_grad=True, dtype=gg.float64)
    b = gg.tensor(1.0, device=device, requires_grad=True, dtype=gg.float64)
    assert gg.gradcheck(lambda p, q: (p + q) * (q + 1), [a, b])
    x = gg.tensor([0.3, -0.7], dtype=gg.float64, device=device, requires_grad=True)
    assert gg.gradcheck(lambda t: t.exp() * t.sin() + t.exp() / (t * t + 1), [x])


def test_second_order_gradients(device):
    x = gg.tensor([0.5, -1.2, 2.0], dtype=gg.float64, device=device, requires_grad=True)

    def first(t):
        (g,) = gg.grad((t.tanh() * t.exp()).sum(), [t], create_graph=True)
        return g
    assert gg.gradcheck(first, [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_fast_path_keeps_wheres_edges(dtype):
    """The CPU backward multiplies by the mask when the gradient is finite: 0 at out == 0,
    and 0 (not NaN) under a zero where the incoming gradient is inf or NaN."""
    x = gg.tensor(np.array([[-1.0, 0.0, 2.0, 3.0]], dtype), requires_grad=True)
    x.relu().backward(gg.tensor(np.array([[np.inf, 5.0, np.nan, -2.0]], dtype)))
    np.testing.assert_array_equal(x.grad.numpy(), np.array([[0, 0, np.nan, -2]], dtype))
    values = np.random.default_rng(0).standard_normal((40, 30)).astype(dtype)
    grad = np.random.default_rng(1).standard_normal((30, 40)).astype(dtype).T
    x = gg.tensor(values, requires_grad=True)
    x.relu().backward(gg.tensor(grad))  # a transposed (non-contiguous) gradient
    np.testing.assert_array_equal(x.grad.numpy(), np.where(values > 0, grad, 0))
    x = gg.tensor([-1.0, 2.0], dtype=gg.float64, requires_grad=True)
    (g,) = gg.grad((x.relu() ** 2).sum(), [x], create_graph=True)  # the graph path
    assert gg.grad(g.sum(), [x])[0].tolist() == [0.0, 2.0]
