"""The CPU fast paths of a transformer step: causal attention's softmax and its backward, and
affine layer norm, by the Numba row loops of ``kernels/_cpu_rows.py``; cross-entropy's
backward from the exponentials its forward kept.

Each is compared with PyTorch in float64, with the generic path it replaces (switched off
by monkeypatching its gate) and by ``gg.gradcheck``; the comparisons with PyTorch also run
on the (simulated) GPUs, where the generic paths run.
"""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.nn.functional import attention, normalization
from gpugrad.kernels import _cpu_rows

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(array, device, grad=True):
    ours = gg.tensor(array, device=device, requires_grad=grad)
    theirs = torch.tensor(array, requires_grad=grad)
    return ours, theirs


def _close(ours, theirs, tol):
    np.testing.assert_allclose(ours.detach().cpu().numpy(), theirs.detach().numpy(),
                               rtol=tol, atol=tol)


SDPA_SHAPES = [((2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6)),   # more keys than queries
               ((2, 6, 4), (2, 3, 4), (2, 3, 2)),            # fewer keys: rows past them
               ((5, 4), (5, 4), (5, 3))]                     # no batch dims


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("shapes", SDPA_SHAPES)
def test_sdpa_matches_torch_float64(shapes, causal, device, rng):
    (q, tq), (k, tk), (v, tv) = (_pair(rng.standard_normal(s), device) for s in shapes)
    g = rng.standard_normal(shapes[0][:-1] + shapes[2][-1:])
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=0.7)
    tout = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=causal, scale=0.7)
    out.backward(gg.tensor(g, device=device))
    tout.backward(torch.tensor(g))
    _close(out, tout, 1e-10)
    for ours, theirs in ((q, tq), (k, tk), (v, tv)):
        _close(ours.grad, theirs.grad, 1e-10)


def test_sdpa_float32_matches_torch(rng):
    shapes = ((4, 4, 64, 32),) * 3
    (q, tq), (k, tk), (v, tv) = (_pair(rng.standard_normal(s).astype(np.float32), "cpu")
                                 for s in shapes)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    tout = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    out.sum().backward()
    tout.sum().backward()
    _close(out, tout, 1e-5)
    for ours, theirs in ((q, tq), (k, tk), (v, tv)):
        _close(ours.grad, theirs.grad, 1e-4)


def _generic_attention(monkeypatch):
    monkeypatch.setattr(attention, "_cpu_rows", lambda *args: False)


def _sdpa_run(shapes, seed, **kwargs):
    rng = np.random.default_rng(seed)
    q, k, v = (gg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes)
    gg.manual_seed(3)
    out = F.scaled_dot_product_attention(q, k, v, **kwargs)
    (out * gg.tensor(rng.standard_normal(out.shape))).sum().backward()
    return [t.detach().numpy() for t in (out, q.grad, k.grad, v.grad)]


@pytest.mark.parametrize("kwargs", [dict(is_causal=True), dict(is_causal=False),
                                    dict(is_causal=True, dropout_p=0.3),
                                    dict(is_causal=False, scale=-0.4)])
def test_sdpa_row_loops_equal_generic_path(kwargs, monkeypatch):
    shapes = ((2, 3, 6, 5), (2, 3, 8, 5), (2, 3, 8, 4))
    calls = []
    real = _cpu_rows.attention_softmax_backward
    monkeypatch.setattr(_cpu_rows, "attention_softmax_backward",
                        lambda *a: calls.append(1) or real(*a))
    fast = _sdpa_run(shapes, 1, **kwargs)
    assert calls, "the row loops did not run"
    _generic_attention(monkeypatch)
    generic = _sdpa_run(shapes, 1, **kwargs)
    assert len(calls) == 1
    for a, b in zip(fast, generic):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("causal", [True, False])
def test_sdpa_row_loops_gradcheck(causal):
    rng = np.random.default_rng(2)
    q, k, v = (gg.tensor(rng.standard_normal(s), requires_grad=True)
               for s in ((2, 4, 3), (2, 5, 3), (2, 5, 2)))
    assert gg.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(
        a, b, c, is_causal=causal), [q, k, v])


def test_sdpa_double_backward_matches_torch():
    """A gradient that will be differentiated again leaves the row loops for Tensor ops."""
    rng = np.random.default_rng(4)
    pairs = [_pair(rng.standard_normal(s), "cpu") for s in ((2, 4, 3), (2, 4, 3), (2, 4, 2))]
    (q, tq), (k, tk), (v, tv) = pairs
    gq, = gg.autograd.grad(F.scaled_dot_product_attention(q, k, v, is_causal=True).sum(), q,
                           create_graph=True)
    tgq, = torch.autograd.grad(TF.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
                               .sum(), tq, create_graph=True)
    (gq * gq).sum().backward()
    (tgq * tgq).sum().backward()
    for ours, theirs in pairs:
        _close(ours.grad, theirs.grad, 1e-10)


def test_sdpa_nan_and_inf_rows_like_torch():
    q = np.ones((1, 3, 2))
    q[0, 1, 0] = np.nan
    k = np.ones((1, 3, 2))
    k[0, 2, 1] = -np.inf
    v = np.arange(6.0).reshape(1, 3, 2)
    for causal in (True, False):
        ours = F.scaled_dot_product_attention(gg.tensor(q), gg.tensor(k), gg.tensor(v),
                                              is_causal=causal)
        theirs = TF.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k),
                                                 torch.tensor(v), is_causal=causal)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), equal_nan=True)


def test_attention_softmax_kernel_float32_matches_float64():
    rng = np.random.default_rng(5)
    scores = rng.standard_normal((3, 7, 9)) * 4
    exact = scores.copy()
    _cpu_rows.attention_softmax(exact, 0.3, True)
    single = scores.astype(np.float32)
    _cpu_rows.attention_softmax(single, np.float32(0.3), True)
    np.testing.assert_allclose(single, exact, rtol=1e-6, atol=1e-7)
    assert np.all(np.triu(exact[0], 1) == 0)
    np.testing.assert_allclose(exact.sum(-1), 1.0, rtol=1e-14)


# ---- layer norm --------------------------------------------------------------------------
@pytest.mark.parametrize("shape, normalized", [((4, 6, 8), (8,)), ((3, 4, 5), (4, 5)),
                                               ((7,), (7,))])
def test_layer_norm_matches_torch_float64(shape, normalized, device, rng):
    (x, tx), (w, tw), (b, tb) = (_pair(rng.standard_normal(s), device)
                                 for s in (shape, normalized, normalized))
    g = rng.standard_normal(shape)
    out = F.layer_norm(x, normalized, w, b, eps=1e-4)
    tout = TF.layer_norm(tx, normalized, tw, tb, eps=1e-4)
    out.backward(gg.tensor(g, device=device))
    tout.backward(torch.tensor(g))
    _close(out, tout, 1e-10)
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        _close(ours.grad, theirs.grad, 1e-10)


def test_layer_norm_float32_matches_torch(rng):
    (x, tx), (w, tw), (b, tb) = (_pair(rng.standard_normal(s).astype(np.float32) + 3, "cpu")
                                 for s in ((32, 64, 128), (128,), (128,)))
    out = F.layer_norm(x, (128,), w, b)
    tout = TF.layer_norm(tx, (128,), tw, tb)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    _close(out, tout, 1e-5)
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        _close(ours.grad, theirs.grad, 2e-3)


def _layer_norm_run(x_shape, normalized, only_x=False):
    rng = np.random.default_rng(6)
    x = gg.tensor(rng.standard_normal(x_shape), requires_grad=True)
    w = gg.tensor(rng.standard_normal(normalized), requires_grad=not only_x)
    b = gg.tensor(rng.standard_normal(normalized), requires_grad=not only_x)
    out = F.layer_norm(x, normalized, w, b)
    (out * gg.tensor(rng.standard_normal(x_shape))).sum().backward()
    return [t.numpy() for t in (out.detach(), x.grad) + (() if only_x else (w.grad, b.grad))]


@pytest.mark.parametrize("only_x", [False, True])
def test_layer_norm_row_loops_equal_generic_path(only_x, monkeypatch):
    calls = []
    real = _cpu_rows.layer_norm_backward
    monkeypatch.setattr(_cpu_rows, "layer_norm_backward", lambda *a: calls.append(1) or real(*a))
    fast = _layer_norm_run((5, 3, 6), (3, 6), only_x)
    assert calls, "the row loops did not run"
    monkeypatch.setattr(normalization, "_cpu_rows", lambda *args: False)
    generic = _layer_norm_run((5, 3, 6), (3, 6), only_x)
    assert len(calls) == 1
    for a, b in zip(fast, generic):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_layer_norm_row_loops_gradcheck_and_double_backward():
    rng = np.random.default_rng(7)
    x, w, b = (gg.tensor(rng.standard_normal(s), requires_grad=True)
               for s in ((3, 4, 5), (5,), (5,)))
    assert gg.gradcheck(lambda a, c, d: F.layer_norm(a, (5,), c, d), [x, w, b])
    tx, tw, tb = (torch.tensor(t.detach().numpy(), requires_grad=True) for t in (x, w, b))
    gx, = gg.autograd.grad((F.layer_norm(x, (5,), w, b) ** 3).sum(), x, create_graph=True)
    tgx, = torch.autograd.grad((TF.layer_norm(tx, (5,), tw, tb) ** 3).sum(), tx,
                               create_graph=True)
    (gx * gx).sum().backward()
    (tgx * tgx).sum().backward()
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        _close(ours.grad, theirs.grad, 1e-9)


def test_layer_norm_forward_mode_matches_torch():
    rng = np.random.default_rng(8)
    x, w, b, t = (rng.standard_normal(s) for s in ((3, 5), (5,), (5,), (3, 5)))
    _, tangent = gg.func.jvp(lambda a: F.layer_norm(a, (5,), gg.tensor(w), gg.tensor(b)),
                             (gg.tensor(x),), (gg.tensor(t),))
    _, ttangent = torch.func.jvp(lambda a: TF.layer_norm(a, (5,), torch.tensor(w),
                                                         torch.tensor(b)),
                                 (torch.tensor(x),), (torch.tensor(t),))
    _close(tangent, ttangent, 1e-10)


def test_layer_norm_kernels_match_numpy_formulas():
    rng = np.random.default_rng(9)
    x, g = rng.standard_normal((11, 6)), rng.standard_normal((11, 6))
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    out, mean, rstd = np.empty_like(x), np.empty(11), np.empty(11)
    _cpu_rows.layer_norm_forward(x, w, b, 1e-5, out, mean, rstd)
    gx, gw, gb = np.empty_like(x), np.zeros(6), np.zeros(6)
    _cpu_rows.layer_norm_backward(g, x, w, mean, rstd, gx, gw, gb)
    xhat = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    dxhat = g * w
    expected_gx = (dxhat - dxhat.mean(1, keepdims=True)
                   - xhat * (dxhat * xhat).mean(1, keepdims=True)) / np.sqrt(
                       x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out, xhat * w + b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx, expected_gx, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(gw, (g * xhat).sum(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb, g.sum(0), rtol=1e-12, atol=1e-12)


# ---- cross-entropy -----------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [dict(), dict(ignore_index=2), dict(label_smoothing=0.2),
                                    dict(reduction="sum"), dict(weight="w")])
def test_cross_entropy_matches_torch_float64(kwargs, device, rng):
    logits, tlogits = _pair(rng.standard_normal((9, 5)) * 3, device)
    target = rng.integers(0, 5, 9)
    if kwargs.get("weight") == "w":
        w = rng.random(5) + 0.5
        kwargs = dict(weight=gg.tensor(w, device=device)), dict(weight=torch.tensor(w))
    else:
        kwargs = kwargs, kwargs
    loss = F.cross_entropy(logits, gg.tensor(target, device=device), **kwargs[0])
    tloss = TF.cross_entropy(tlogits, torch.tensor(target), **kwargs[1])
    loss.backward()
    tloss.backward()
    _close(loss, tloss, 1e-10)
    _close(logits.grad, tlogits.grad, 1e-10)


def test_cross_entropy_gradcheck_and_float32(rng):
    logits = gg.tensor(rng.standard_normal((6, 4)), requires_grad=True)
    target = gg.tensor(rng.integers(0, 4, 6))
    assert gg.gradcheck(lambda x: F.cross_entropy(x, target, label_smoothing=0.1), [logits])
    x32, t32 = _pair(rng.standard_normal((64, 1000)).astype(np.float32) * 5, "cpu")
    target = rng.integers(0, 1000, 64)
    F.cross_entropy(x32, gg.tensor(target)).backward()
    TF.cross_entropy(t32, torch.tensor(target)).backward()
    assert x32.grad.dtype == gg.float32
    _close(x32.grad, t32.grad, 1e-7)


def test_cross_entropy_row_loops_equal_generic_path(monkeypatch):
    from gpugrad.nn.functional import loss as loss_module
    rng = np.random.default_rng(10)
    logits = rng.standard_normal((7, 6)) * 4
    logits[2] = -np.inf     # ignored below: 0 loss, 0 gradient
    logits[3, 1] = np.inf   # nan, as NumPy's shifted formula gives
    target = gg.tensor([0, 5, 2, 1, 3, 3, 4])

    def run(**kwargs):
        x = gg.tensor(logits, requires_grad=True)
        out = F.cross_entropy(x, target, ignore_index=2, reduction="none", **kwargs)
        out.backward(gg.ones(7, dtype=gg.float64))
        return out.detach().numpy(), x.grad.numpy()
    for kwargs in (dict(), dict(label_smoothing=0.3)):
        fast = run(**kwargs)
        with monkeypatch.context() as patch:
            patch.setattr(loss_module, "_cpu_rows", lambda *args: False)
            generic = run(**kwargs)
        for a, b in zip(fast, generic):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True)
        assert np.isnan(fast[0][3]) and fast[0][2] == 0


# ---- GELU and the vectorised exp ---------------------------------------------------------
def test_gelu_float32_gradient_matches_torch_float64(rng):
    x = (rng.standard_normal((64, 33)) * 4).astype(np.float32)
    x[0, :6] = [0.0, -0.0, 30.0, -30.0, 1e-30, -9.0]
    g = rng.standard_normal(x.shape).astype(np.float32)
    ours = gg.tensor(x, requires_grad=True)
    F.gelu(ours).backward(gg.tensor(g))
    expected = torch.ops.aten.gelu_backward(torch.tensor(g, dtype=torch.float64),
                                            torch.tensor(x, dtype=torch.float64)).numpy()
    assert ours.grad.dtype == gg.float32
    np.testing.assert_allclose(ours.grad.numpy(), expected, rtol=2e-6, atol=1e-6)


def test_exp32_within_two_ulp_and_special_values():
    import numba
    from gpugrad.kernels._cpu_exp import exp

    @numba.njit
    def apply(x, out):
        for i in range(x.size):
            out[i] = exp(x[i])
    x = np.concatenate([np.linspace(-87.3, 88.0, 400_001),
                        [-np.inf, np.inf, np.nan, -100.0, 89.0, 0.0, -1e-30]]).astype(np.float32)
    out = np.empty_like(x)
    apply(x, out)
    finite = np.isfinite(x) & (x >= -87.3) & (x <= 88.0)
    exact = np.exp(x[finite].astype(np.float64))
    ulps = np.abs(out[finite] - exact) / np.spacing(exact.astype(np.float32))
    assert ulps.max() <= 2.0
    np.testing.assert_array_equal(out[~finite][:5], [0.0, np.inf, np.nan, 0.0, np.inf])
    assert exp(1.0) == np.exp(1.0)  # plain Python: math.exp


def test_layer_norm_bad_eps_raises_like_torch():
    x, w = gg.ones(2, 3), gg.ones(3)
    with pytest.raises(TypeError):
        TF.layer_norm(torch.ones(2, 3), (3,), torch.ones(3), torch.ones(3), eps="small")
    with pytest.raises(TypeError):
        F.layer_norm(x, (3,), w, w, eps="small")
