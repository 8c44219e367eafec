"""The fast paths of the eager-mode performance work, each against the formula it replaced
and against PyTorch: fused GELU, the array backward of softmax / log-softmax / layer norm,
the compiled sparse-gradient coalesce and row updates, and graphs that leave no cycles."""
import gc
import math

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.nn.functional.activation import NormalCdf
from gpugrad.sparse import RowSparseGrad

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
APPROXIMATIONS = ["none", "tanh"]


def host(t):
    return t.cpu().numpy()


def t64(array, device="cpu", requires_grad=True):
    return gg.tensor(np.asarray(array, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


def _old_gelu(x, approximate):
    """The composition of Tensor ops that GELU was before it became one op."""
    if approximate == "none":
        return x * NormalCdf.apply(x)
    inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
    return x * 0.5 * (inner.tanh() + 1.0)


def _value_and_grad(fn, x, g):
    x = x.detach().requires_grad_()
    out = fn(x)
    out.backward(g)
    return host(out), host(x.grad)


def _torch_value_and_grad(fn, x, g):
    x = torch.tensor(x, requires_grad=True)
    out = fn(x)
    out.backward(torch.tensor(g))
    return out.detach().numpy(), x.grad.numpy()


# GELU ---------------------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("approximate", APPROXIMATIONS)
def test_gelu_float64_matches_torch_to_1e12(approximate, device, rng):
    x = np.concatenate([rng.standard_normal(200) * 3, [0.0, -1e-30, 1e-8, -8.0, 8.0, -40.0,
                                                        40.0, 1e6, -1e6]])
    g = rng.standard_normal(x.shape)
    ours = _value_and_grad(lambda t: F.gelu(t, approximate=approximate),
                           t64(x, device), gg.tensor(g, device=device))
    theirs = _torch_value_and_grad(
        lambda t: torch.nn.functional.gelu(t, approximate=approximate), x, g)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("approximate", APPROXIMATIONS)
def test_gelu_float32_close_to_torch(approximate, device, rng):
    # float32 erf is a rational approximation (<= 6 ulp): within float32 rounding of torch
    x = np.concatenate([np.linspace(-10, 10, 4001), rng.standard_normal(500) * 4])
    x = x.astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    ours = _value_and_grad(lambda t: F.gelu(t, approximate=approximate),
                           gg.tensor(x, device=device), gg.tensor(g, device=device))
    theirs = _torch_value_and_grad(
        lambda t: torch.nn.functional.gelu(t, approximate=approximate), x, g)
    for a, b in zip(ours, theirs):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-6 * np.abs(g).max())


@needs_torch
@pytest.mark.parametrize("approximate", APPROXIMATIONS)
def test_gelu_non_finite_like_torch(approximate, device):
    x = np.array([-np.inf, np.inf, np.nan, -50.0, 50.0, 0.0])
    with np.errstate(invalid="ignore"):
        ours = _value_and_grad(lambda t: F.gelu(t, approximate=approximate), t64(x, device),
                               gg.ones(6, dtype="float64", device=device))
    theirs = _torch_value_and_grad(
        lambda t: torch.nn.functional.gelu(t, approximate=approximate), x, np.ones(6))
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(np.abs(a), np.abs(b))  # nan where torch has nan


@pytest.mark.parametrize("approximate", APPROXIMATIONS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gelu_matches_the_composition_it_replaced(approximate, dtype, device, rng):
    x = gg.tensor(rng.standard_normal((7, 9)) * 3, dtype=dtype, device=device)
    g = gg.tensor(rng.standard_normal((7, 9)), dtype=dtype, device=device)
    new = _value_and_grad(lambda t: F.gelu(t, approximate=approximate), x, g)
    old = _value_and_grad(lambda t: _old_gelu(t, approximate), x, g)
    tol = 1e-14 if dtype == "float64" else 2e-6
    for a, b in zip(new, old):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("approximate", APPROXIMATIONS)
def test_gelu_gradcheck_double_backward_and_jvp(approximate, device, rng):
    x = t64(rng.standard_normal((3, 4)) * 2, device)
    w = t64(rng.standard_normal((3, 4)), device, requires_grad=False)

    def fn(t):
        return F.gelu(t, approximate=approximate)
    assert gg.gradcheck(fn, [x])
    assert gg.gradcheck(lambda t: gg.grad((fn(t) * w).sum(), t, create_graph=True)[0], [x])
    tangent = t64(rng.standard_normal((3, 4)), device, requires_grad=False)
    _, jvp = gg.func.jvp(fn, (x.detach(),), (tangent,))
    eps = 1e-6
    with gg.no_grad():
        numeric = (host(fn(x + tangent * eps)) - host(fn(x - tangent * eps))) / (2 * eps)
    np.testing.assert_allclose(host(jvp), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("approximate", APPROXIMATIONS)
def test_gelu_float16_and_empty(approximate, device):
    x = gg.tensor([-2.0, 0.5, 3.0], dtype="float16", device=device, requires_grad=True)
    out = F.gelu(x, approximate=approximate)
    out.sum().backward()
    assert out.dtype == np.float16 and x.grad.dtype == np.float16
    ref = host(F.gelu(x.detach().to(dtype="float32"), approximate=approximate))
    np.testing.assert_allclose(host(out).astype(np.float32), ref, rtol=2e-3)
    empty = gg.zeros(0, 5, device=device, requires_grad=True)
    F.gelu(empty, approximate=approximate).sum().backward()
    assert empty.grad.shape == (0, 5)


# softmax, log_softmax ------------------------------------------------------------------

def _softmax_inputs(rng):
    x = rng.standard_normal((4, 6)) * 5
    x[0, 2] = -np.inf          # one masked entry
    x[1, :] = -np.inf          # a fully masked row: NaN, as in PyTorch
    x[2, 3] = 1e30             # a huge value
    x[3, :] = 1e300
    return x


@needs_torch
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_edge_cases_match_torch(name, dim, device, rng):
    x = _softmax_inputs(rng)
    g = rng.standard_normal(x.shape)
    with np.errstate(invalid="ignore"):
        ours = _value_and_grad(lambda t: getattr(F, name)(t, dim=dim), t64(x, device),
                               gg.tensor(g, device=device))
    theirs = _torch_value_and_grad(lambda t: getattr(torch, name)(t, dim=dim), x, g)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_array_backward_matches_tensor_formula(name, device, rng):
    x = t64(rng.standard_normal((3, 5, 4)), device)
    g = t64(rng.standard_normal((3, 5, 4)), device, requires_grad=False)
    fn = getattr(F, name)
    (fast,) = gg.grad(fn(x, dim=1), [x], g)                 # arrays
    (slow,) = gg.grad(fn(x, dim=1), [x], g, create_graph=True)  # Tensor ops
    np.testing.assert_allclose(host(fast), host(slow), rtol=1e-13, atol=1e-14)


# layer_norm -------------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("shape,normalized", [((6, 5), (5,)), ((2, 3, 8), (3, 8)),
                                              ((2, 5000), (5000,)), ((4, 1), (1,))])
def test_layer_norm_matches_torch(shape, normalized, device, rng):
    x = rng.standard_normal(shape) * 3 + 7
    w, b = rng.standard_normal(normalized), rng.standard_normal(normalized)
    g = rng.standard_normal(shape)
    xs = [t64(x, device), t64(w, device), t64(b, device)]
    out = F.layer_norm(xs[0], normalized, xs[1], xs[2], eps=1e-5)
    out.backward(gg.tensor(g, device=device))
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    ref = torch.nn.functional.layer_norm(ts[0], normalized, ts[1], ts[2], eps=1e-5)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in zip(xs, ts):
        np.testing.assert_allclose(host(ours.grad), theirs.grad.numpy(), rtol=1e-9,
                                   atol=1e-10)


def test_layer_norm_array_backward_matches_tensor_formula_and_gradchecks(device, rng):
    x = t64(rng.standard_normal((3, 4, 5)), device)
    g = t64(rng.standard_normal((3, 4, 5)), device, requires_grad=False)
    (fast,) = gg.grad(F.layer_norm(x, (4, 5)), [x], g)
    (slow,) = gg.grad(F.layer_norm(x, (4, 5)), [x], g, create_graph=True)
    np.testing.assert_allclose(host(fast), host(slow), rtol=1e-12, atol=1e-13)
    small = t64(rng.standard_normal((2, 3)), device)
    w = t64(rng.standard_normal((2, 3)), device, requires_grad=False)
    assert gg.gradcheck(lambda t: F.layer_norm(t, (3,)), [small])
    assert gg.gradcheck(
        lambda t: gg.grad((F.layer_norm(t, (3,)) * w).sum(), t, create_graph=True)[0], [small])


def test_layer_norm_float16_keeps_dtype(device):
    x = gg.tensor([[1.0, 2.0, 4.0], [0.0, 0.0, 1.0]], dtype="float16", device=device,
                  requires_grad=True)
    out = F.layer_norm(x, (3,))
    out.backward(gg.ones_like(out))
    assert out.dtype == np.float16 and x.grad.dtype == np.float16
    ref = host(F.layer_norm(x.detach().to(dtype="float32"), (3,)))
    np.testing.assert_allclose(host(out).astype(np.float32), ref, atol=2e-3)


# row-sparse gradients ---------------------------------------------------------------

def _coalesce_reference(indices, values):
    rows = np.unique(indices)
    out = np.zeros((len(rows),) + values.shape[1:], dtype=np.float64)
    np.add.at(out, np.searchsorted(rows, indices), values)
    return rows, out


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize("n,vocab,tail", [(500, 40, (6,)), (0, 10, (3,)), (7, 1000, (2, 3)),
                                          (64, 1, (4,))])
def test_coalesce_sums_duplicates(dtype, n, vocab, tail, device, rng):
    indices = rng.integers(0, vocab, n)
    values = rng.standard_normal((n,) + tail).astype(dtype)
    grad = RowSparseGrad(gg.tensor(indices, device=device)._data,
                         gg.tensor(values, device=device)._data, (vocab,) + tail)
    c = grad.coalesce()
    rows, summed = _coalesce_reference(indices, values.astype(np.float64))
    np.testing.assert_array_equal(gg.Tensor(c.indices).cpu().numpy(), rows)
    got = gg.Tensor(c.values).cpu().numpy()
    assert got.dtype == np.dtype(dtype) and got.shape == summed.shape
    tol = {"float64": 1e-12, "float32": 1e-5, "float16": 2e-2}[dtype]
    np.testing.assert_allclose(got, summed, rtol=tol, atol=tol * max(1, n // max(vocab, 1)))
    dense = host(grad.to_dense())
    assert dense.shape == (vocab,) + tail
    np.testing.assert_allclose(dense[rows], summed, rtol=tol, atol=tol * max(1, n // vocab))


def test_coalesce_int32_indices_and_noncontiguous_values(rng):
    values = rng.standard_normal((6, 8))[:, ::2]
    indices = np.array([3, 1, 3, 3, 0, 1], dtype=np.int32)
    c = RowSparseGrad(indices, values, (5, 4)).coalesce()
    rows, summed = _coalesce_reference(indices, values)
    np.testing.assert_array_equal(c.indices, rows)
    np.testing.assert_allclose(c.values, summed, rtol=1e-14)


@needs_torch
@pytest.mark.parametrize("opt_name,maximize", [("SGD", False), ("SGD", True),
                                               ("SparseAdam", False), ("SparseAdam", True)])
def test_sparse_optimizers_match_torch_with_duplicate_indices(opt_name, maximize, device):
    rng = np.random.default_rng(5)
    weight = rng.standard_normal((30, 4))
    batches = [rng.integers(0, 30, 50) for _ in range(4)] + [np.array([], dtype=np.int64)]
    targets = [rng.standard_normal((len(b), 4)) for b in batches]
    results = []
    for lib in (gg, torch):
        emb = lib.nn.Embedding(30, 4, sparse=True).to(dtype=lib.float64)
        if lib is gg:
            emb = emb.to(device)
        with lib.no_grad():
            emb.weight.copy_(lib.tensor(weight, device=device) if lib is gg
                             else torch.tensor(weight))
        opt = getattr(lib.optim, opt_name)(emb.parameters(), lr=0.05, maximize=maximize)
        for idx, target in zip(batches, targets):
            opt.zero_grad()
            index = lib.tensor(idx, device=device) if lib is gg else torch.tensor(idx)
            tgt = lib.tensor(target, device=device) if lib is gg else torch.tensor(target)
            ((emb(index) - tgt) ** 2).sum().backward()
            opt.step()
        results.append(emb.weight.detach().cpu().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-12)


# graphs and the cyclic garbage collector ----------------------------------------------

def _small_model_step(model, opt, x, y):
    opt.zero_grad()
    loss = F.cross_entropy(F.gelu(F.layer_norm(model(x), (4,))), y)
    loss.backward()
    opt.step()
    return loss.item()


def test_training_steps_leave_no_reference_cycles_and_keep_memory_flat():
    gg.manual_seed(0)
    model = gg.nn.Sequential(gg.nn.Linear(8, 16), gg.nn.ReLU(), gg.nn.Linear(16, 4))
    opt = gg.optim.Adam(model.parameters(), lr=1e-3)
    x = gg.randn(5, 8)
    y = gg.tensor([0, 1, 2, 3, 0])
    for _ in range(5):  # warm-up: optimizer state, compiled kernels
        _small_model_step(model, opt, x, y)
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        before = len(gc.get_objects())
        for _ in range(1000):
            _small_model_step(model, opt, x, y)
        after = len(gc.get_objects())
        unreachable = gc.collect()  # cycles refcounting could not free
    finally:
        if enabled:
            gc.enable()
    assert unreachable == 0
    assert after - before < 50, (before, after)
    assert not gc.garbage


def test_graph_bookkeeping_is_untrackable_tuples():
    x = gg.ones(3, requires_grad=True)
    y = (x * 2.0).tanh()
    node = y.grad_fn
    assert isinstance(node.input_shapes, tuple) and isinstance(node._versions, tuple)
    gc.collect()
    gc.collect()  # a tuple of tuples leaves tracking once its items have
    assert not gc.is_tracked(node.input_shapes) and not gc.is_tracked(node._versions)
    y.backward(gg.ones(3))
    np.testing.assert_allclose(host(x.grad), 2.0 * (1.0 - np.tanh(2.0) ** 2), rtol=1e-6)


def test_in_place_change_of_a_saved_tensor_still_raises():
    x = gg.ones(3, requires_grad=True)
    y = x * 1.0
    z = y * y  # saves y
    with gg.no_grad():
        y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()


@pytest.mark.parametrize("shape,normalized", [((3, 4), (4,)), ((2, 2, 3), (2, 3))])
def test_affine_layer_norm_gradcheck_double_backward_and_jvp(shape, normalized, device, rng):
    x = t64(rng.standard_normal(shape), device)
    w = t64(rng.standard_normal(normalized), device)
    b = t64(rng.standard_normal(normalized), device)
    probe = t64(rng.standard_normal(shape), device, requires_grad=False)

    def fn(x, w, b):
        return F.layer_norm(x, normalized, w, b)
    assert gg.gradcheck(fn, [x, w, b])

    def grads(x, w, b):
        return gg.grad((fn(x, w, b) * probe).sum(), [x, w, b], create_graph=True)
    for i in range(3):
        assert gg.gradcheck(lambda *a: grads(*a)[i], [x, w, b])
    tangents = tuple(t64(rng.standard_normal(t.shape), device, requires_grad=False)
                     for t in (x, w, b))
    primals = tuple(t.detach() for t in (x, w, b))
    _, jvp = gg.func.jvp(fn, primals, tangents)
    eps = 1e-6
    with gg.no_grad():
        plus = fn(*[p + t * eps for p, t in zip(primals, tangents)])
        minus = fn(*[p - t * eps for p, t in zip(primals, tangents)])
    np.testing.assert_allclose(host(jvp), (host(plus) - host(minus)) / (2 * eps), rtol=1e-6,
                               atol=1e-8)


def test_affine_layer_norm_partial_requires_grad_and_empty(device, rng):
    x = t64(rng.standard_normal((0, 4)), device)
    w, b = t64(np.ones(4), device), t64(np.zeros(4), device, requires_grad=False)
    F.layer_norm(x, (4,), w, b).sum().backward()
    assert x.grad.shape == (0, 4) and host(w.grad).tolist() == [0.0] * 4 and b.grad is None
    x = t64(rng.standard_normal((3, 4)), device, requires_grad=False)
    out = F.layer_norm(x, (4,), w, b)
    out.backward(gg.ones_like(out))
    np.testing.assert_allclose(host(w.grad), host(F.layer_norm(x, (4,))).sum(0), atol=1e-12)


def test_affine_layer_norm_forward_over_reverse_hessian(rng):
    w = t64(rng.standard_normal(3), requires_grad=False)
    b = t64(rng.standard_normal(3), requires_grad=False)
    probe = t64(rng.standard_normal((2, 3)), requires_grad=False)

    def scalar(x):
        return (F.layer_norm(x * x, (3,), w, b) * probe).sum()

    def grad_of(x):
        x = x.detach().requires_grad_()
        return host(gg.grad(scalar(x), [x])[0]).ravel()
    x = t64(rng.standard_normal((2, 3)), requires_grad=False)
    hessian = host(gg.func.hessian(scalar, x)).reshape(6, 6)
    eps, cols = 1e-6, []
    for j in range(6):
        step = np.zeros(6)
        step[j] = eps
        step = gg.tensor(step.reshape(2, 3))
        cols.append((grad_of(x + step) - grad_of(x - step)) / (2 * eps))
    np.testing.assert_allclose(hessian, np.stack(cols, axis=1), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_row_updates_check_rows_like_numpy(dtype):
    from gpugrad.optim.sgd import sparse_sgd
    from gpugrad.optim.sparse_adam import sparse_adam
    param = np.ones((4, 2), dtype=dtype)
    sparse_sgd([param], [np.array([-1])], [np.ones((1, 2), dtype=dtype)], lr=0.5)
    assert param[3].tolist() == [0.5, 0.5] and param[:3].min() == 1.0  # -1 is the last row
    for bad in (4, -5):
        with pytest.raises(IndexError):
            sparse_sgd([param], [np.array([bad])], [np.ones((1, 2), dtype=dtype)], lr=0.5)
        with pytest.raises(IndexError):
            sparse_adam([param], [np.array([bad])], [np.ones((1, 2), dtype=dtype)],
                         [np.zeros_like(param)], [np.zeros_like(param)], [1], lr=0.1,
                         beta1=0.9, beta2=0.999, eps=1e-8)
