"""The flash attention kernels (kernels/attention.py) against the generic path of
``F.scaled_dot_product_attention``.

On the CPU the op's kernel branch is forced onto NumPy arrays, which the launchers run in
Numba's CUDA simulator (see conftest.py); each test runs the op once on the generic path and
once forced, checks that the launchers really ran (or, for the cases that must stay generic,
did not), and compares the output and every gradient. The ``cuda`` tests run the op on
(simulated) CuPy devices through its own dispatch. Sizes are tiny: the simulator runs each
GPU thread as a Python thread.
"""

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.kernels import attention

pytestmark = [
    pytest.mark.kernels,
    # The simulator runs dropout's uint64 hash on NumPy scalars, which warn when they wrap.
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
]

LAUNCHERS = ("attention_forward", "attention_backward")
TOL = {np.float32: 2e-5, np.float64: 1e-12}
CUDA_DEVICES = ["cuda"] + (["cuda:1"] if gg.cuda.device_count() > 1 else [])


@pytest.fixture
def forced(force_kernels, monkeypatch):
    """Context manager: inside it NumPy arrays take the kernel branches; it yields a Counter
    of launcher calls (see conftest.py). Blocks have 8 rows here, so that L = 17 spans three
    query tiles (and S = 17 two key tiles of STAGE = 16 in float64)."""
    monkeypatch.setattr(attention, "QUERY_ROWS", 8)
    return force_kernels({name: (attention, name) for name in LAUNCHERS})


def _arrays(shapes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


def _run(fn, arrays, device="cpu", seed=1):
    """fn's output and the gradients of its float inputs for a random cotangent (NumPy)."""
    inputs = [gg.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in arrays]
    out = fn(*inputs)
    cotangent = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    out.backward(gg.tensor(cotangent, device=device))
    return [out.cpu().numpy()] + [t.grad.cpu().numpy() for t in inputs if t.requires_grad]


def _check(forced, fn, arrays, fused=True, dtype=np.float64):
    want = _run(fn, arrays)
    with forced() as calls:
        got = _run(fn, arrays)
    expected = {name: 1 for name in LAUNCHERS} if fused else {}
    assert {name: calls[name] for name in LAUNCHERS if calls[name]} == expected
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=TOL[dtype], atol=TOL[dtype])
    return got


B, H, L, S, D = 2, 2, 17, 13, 5


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("lengths", [(L, S), (5, 17), (17, 17), (1, 9)])
def test_flash_kernels_match_generic_path(forced, causal, lengths):
    n_q, n_k = lengths
    arrays = _arrays([(B, H, n_q, D), (B, H, n_k, D), (B, H, n_k, 4)])
    _check(forced, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal),
           arrays)


def test_flash_kernels_with_scale_head_dims_and_3d_inputs(forced):
    arrays = _arrays([(3, 9, 8), (3, 11, 8), (3, 11, 6)], seed=2)
    _check(forced, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3), arrays)
    arrays = _arrays([(1, 2, 4, 128), (1, 2, 3, 128), (1, 2, 3, 128)], seed=3)
    _check(forced, lambda q, k, v: F.scaled_dot_product_attention(q, k, v), arrays)


def test_flash_kernels_in_float32(forced):
    arrays = _arrays([(1, 2, 9, 4), (1, 2, 40, 4), (1, 2, 40, 3)], np.float32, seed=4)
    _check(forced, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
           arrays, dtype=np.float32)


@pytest.mark.parametrize("causal", [False, True])
def test_flash_kernels_grouped_query_attention(forced, causal):
    arrays = _arrays([(2, 4, 7, 4), (2, 2, 9, 4), (2, 2, 9, 5)], seed=5)
    _check(forced, lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, is_causal=causal, enable_gqa=True), arrays)


# mask shapes against scores (B, H, L, S) = (2, 2, 17, 13): shared, per batch, per head,
# per batch and head, a key-padding row, and one that needs copying over the heads
MASK_SHAPES = [(L, S), (B, 1, L, S), (1, H, L, S), (B, H, L, S), (B, 1, 1, S), (S,),
               (B, 1, L, 1)]


@pytest.mark.parametrize("shape", MASK_SHAPES)
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_flash_kernels_with_broadcast_masks(forced, shape, kind):
    q, k, v, noise = _arrays([(B, H, L, D), (B, H, S, D), (B, H, S, 3), shape], seed=6)
    mask = noise > -0.8 if kind == "bool" else noise
    _check(forced, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, gg.tensor(mask)),
           [q, k, v])


def test_broadcast_mask_layouts():
    lead = (B, H)
    for shape, rows, inner in [((L, S), 1, 1), ((B, 1, L, S), B, H), ((1, H, L, S), H, 1),
                               ((B, H, L, S), B * H, 1), ((S,), 1, 1)]:
        mask, got_inner = attention.broadcast_mask(np.zeros(shape), lead)
        assert (mask.shape[0], got_inner) == (rows, inner)
    mask, inner = attention.broadcast_mask(np.arange(6.0).reshape(2, 1, 3, 1, 1), (2, 4, 3))
    assert mask.shape == (24, 1, 1) and inner == 1  # copied: not one run of full dims
    np.testing.assert_array_equal(mask.reshape(2, 4, 3), np.broadcast_to(
        np.arange(6.0).reshape(2, 1, 3), (2, 4, 3)))


def test_fully_masked_rows_give_zeros_and_zero_gradients(forced):
    q, k, v = _arrays([(1, 2, 6, 4), (1, 2, 5, 4), (1, 2, 5, 4)], seed=7)
    keep = np.ones((6, 5), bool)
    keep[2] = False
    got = _check(forced, lambda q, k, v: F.scaled_dot_product_attention(q, k, v,
                                                                         gg.tensor(keep)),
                 [q, k, v])
    assert not got[0][:, :, 2].any() and not got[1][:, :, 2].any()


def test_float_mask_gradient_takes_the_generic_backward(forced):
    q, k, v, mask = _arrays([(1, 2, 6, 4), (1, 2, 5, 4), (1, 2, 5, 4), (2, 6, 5)], seed=8)

    def run():
        inputs = [gg.tensor(a, requires_grad=True) for a in (q, k, v, mask)]
        out = F.scaled_dot_product_attention(*inputs)
        (out * gg.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape))).sum().backward()
        return [out.numpy()] + [t.grad.numpy() for t in inputs]
    want = run()
    with forced() as calls:
        got = run()
    assert dict(calls) == {"attention_forward": 1}
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_dropout_and_broadcast_batches_stay_generic(forced):
    arrays = _arrays([(2, 5, 4), (2, 6, 4), (2, 6, 4)], seed=9)

    def dropped(q, k, v):
        gg.manual_seed(3)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    _check(forced, dropped, arrays, fused=False)
    arrays = _arrays([(2, 5, 4), (1, 6, 4), (1, 6, 4)], seed=10)
    _check(forced, lambda q, k, v: F.scaled_dot_product_attention(q, k, v), arrays,
           fused=False)


def test_double_backward_and_jvp_after_the_fused_forward(forced):
    q, k, v = _arrays([(1, 2, 5, 3), (1, 2, 6, 3), (1, 2, 6, 2)], seed=11)
    rng = np.random.default_rng(12)
    c, u, t = rng.standard_normal((1, 2, 5, 2)), rng.standard_normal(q.shape), \
        rng.standard_normal(q.shape)

    def second_order():
        x = gg.tensor(q, requires_grad=True)
        kt, vt = gg.tensor(k), gg.tensor(v)

        def fn(x):
            return F.scaled_dot_product_attention(x, kt, vt, is_causal=True)
        (g,) = gg.grad((fn(x) * gg.tensor(c)).sum(), [x], create_graph=True)
        (hv,) = gg.grad((g * gg.tensor(u)).sum(), [x])
        _, jv = gg.func.jvp(fn, (x.detach(),), (gg.tensor(t),))
        return hv.numpy(), jv.numpy()
    want = second_order()
    with forced() as calls:
        got = second_order()
    assert calls["attention_forward"] >= 1
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_launchers_match_the_generic_path(xp, host, dtype, monkeypatch):
    """The launchers alone, on NumPy and (marked cuda) CuPy arrays."""
    monkeypatch.setattr(attention, "QUERY_ROWS", 8)
    q, k, v = _arrays([(4, 11, 4), (2, 17, 4), (2, 17, 3)], dtype, seed=13)
    keep = np.random.default_rng(14).random((2, 1, 17)) > 0.3
    mask, inner = attention.broadcast_mask(keep[:, None], (2, 2))  # per batch
    args = dict(mask=xp.asarray(mask), inner=inner, causal=True, scale=0.6)
    out, lse = attention.attention_forward(*map(xp.asarray, (q, k, v)), **args)
    want = _run(lambda q, k, v: F.scaled_dot_product_attention(
        q.reshape(2, 2, 11, 4), k.reshape(2, 1, 17, 4), v.reshape(2, 1, 17, 3),
        gg.tensor(keep[:, None]) & gg.tensor(np.tri(11, 17, dtype=bool)), scale=0.6,
        enable_gqa=True).reshape(4, 11, 3), [q, k, v], seed=0)
    cot = np.random.default_rng(0).standard_normal((4, 11, 3)).astype(dtype)  # _run's
    grads = attention.attention_backward(xp.asarray(cot), *map(xp.asarray, (q, k, v)), out,
                                         lse, **args)
    for got, expected in zip((out,) + grads, want, strict=True):
        assert got.dtype == dtype
        np.testing.assert_allclose(host(got), expected, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.cuda
@pytest.mark.parametrize("device", CUDA_DEVICES)
@pytest.mark.parametrize("case", ["plain", "causal_gqa", "bool_mask", "float_mask"])
def test_cuda_attention_runs_the_kernels_and_matches_cpu(forced, device, case, monkeypatch):
    pytest.importorskip("cupy")
    if gg.cuda.is_simulated():
        # Simulated devices take the generic path unless told otherwise; here the kernels
        # run in Numba's simulator on their arrays, through the op's own dispatch.
        gg.backends.device._load_cupy()
        monkeypatch.setattr(gg.backends.device, "_kernels_ready", True)
    q, k, v, noise = _arrays([(2, 2, 9, 4), (2, 2, 11, 4), (2, 2, 11, 3), (2, 1, 9, 11)],
                             seed=15)
    kwargs = {"plain": {}, "causal_gqa": dict(is_causal=True, enable_gqa=True),
              "bool_mask": dict(attn_mask=noise > -0.5), "float_mask": dict(attn_mask=noise)}
    kwargs = dict(kwargs[case])
    if case == "causal_gqa":
        k, v = k[:, :1], v[:, :1]

    def fn(q, k, v, device=device):
        extra = dict(kwargs)
        if "attn_mask" in extra:
            extra["attn_mask"] = gg.tensor(extra["attn_mask"], device=device)
        return F.scaled_dot_product_attention(q, k, v, **extra)
    want = _run(lambda *a: fn(*a, device="cpu"), [q, k, v])
    forced.calls.clear()
    got = _run(fn, [q, k, v], device=device)
    assert {name: forced.calls[name] for name in LAUNCHERS} == {name: 1 for name in LAUNCHERS}
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
