"""Attention and transformer layers against PyTorch in float64: scaled_dot_product_attention
(forward, gradients of q, k, v and a float mask, double backward, forward mode, dropout),
MultiheadAttention, the encoder/decoder layers and stacks, and nn.Transformer, with torch's
weights loaded through its state_dict."""
import math
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as GF
from gpugrad.ops.errors import DTypeError, ShapeError

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = 1e-10


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    gg.manual_seed(0)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _close(got, want, tol=TOL, equal_nan=False):
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    got = got.cpu().numpy() if isinstance(got, gg.Tensor) else np.asarray(got)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=equal_nan)


def _both(array, requires_grad=False, device="cpu"):
    array = np.asarray(array)
    grad = requires_grad and array.dtype.kind == "f"
    return (torch.tensor(array, requires_grad=grad),
            gg.tensor(array, requires_grad=grad, device=device))


def _inputs(shapes, seed=0, device="cpu"):
    rng = _rng(seed)
    return [_both(rng.standard_normal(s), True, device) for s in shapes]


# ---- scaled_dot_product_attention ---------------------------------------------------------
def _sdpa_case(shapes, mask=None, seed=0, device="cpu", **kwargs):
    """SDPA on the same inputs in both libraries; compares the output and every gradient."""
    rng = _rng(seed)
    pairs = [_both(rng.standard_normal(s), True, device) for s in shapes]
    if mask is not None:
        pairs.append(_both(mask, True, device))
    t_in, g_in = [p[0] for p in pairs], [p[1] for p in pairs]
    out_t = TF.scaled_dot_product_attention(*t_in, **kwargs)
    out_g = GF.scaled_dot_product_attention(*g_in, **kwargs)
    _close(out_g, out_t)
    weight = rng.standard_normal(tuple(out_t.shape))
    (out_t * torch.tensor(weight)).sum().backward()
    (out_g * gg.tensor(weight, device=device)).sum().backward()
    for t, g in zip(t_in, g_in):
        if t.requires_grad:
            assert not np.isnan(g.grad.cpu().numpy()).any()
            _close(g.grad, t.grad)
    return out_g, g_in


B, H, L, S, E, EV = 2, 3, 4, 5, 6, 7
QKV = [(B, H, L, E), (B, H, S, E), (B, H, S, EV)]


def _bool_mask(shape, seed=1):
    mask = _rng(seed).random(shape) > 0.4
    mask[..., 0] = True  # every row keeps a position: the fully masked row is its own test
    return mask


@pytest.mark.parametrize("case", [
    dict(),
    dict(scale=0.37),
    dict(is_causal=True),
    dict(mask=_bool_mask((L, S))),
    dict(mask=_bool_mask((B, 1, L, S))),
    dict(mask=_bool_mask((1, H, 1, S))),
    dict(mask=_rng(2).standard_normal((L, S))),
    dict(mask=_rng(3).standard_normal((B, H, L, S))),
    dict(mask=_rng(4).standard_normal((H, 1, S)), scale=2.0),
], ids=["plain", "scale", "causal", "bool", "bool-batch", "bool-heads", "float",
        "float-full", "float-broadcast"])
def test_sdpa_matches_torch(case, device):
    _sdpa_case(QKV, device=device, **case)


@pytest.mark.parametrize("lengths", [(1, 7), (6, 2), (5, 5)])
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_unequal_lengths(lengths, causal):
    q_len, k_len = lengths
    _sdpa_case([(2, q_len, 3), (2, k_len, 3), (2, k_len, 4)], is_causal=causal)


def test_sdpa_unbatched_and_broadcast_batch():
    _sdpa_case([(L, E), (S, E), (S, EV)])
    _sdpa_case([(1, L, E), (B, S, E), (B, S, EV)])
    _sdpa_case([(B, H, L, E), (1, S, E), (1, S, EV)], mask=_rng(5).standard_normal((S,)))


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_grouped_query_attention(causal, device):
    shapes = [(B, 6, L, E), (B, 2, S, E), (B, 2, S, EV)]
    _sdpa_case(shapes, enable_gqa=True, is_causal=causal, device=device)
    _sdpa_case(shapes, mask=_rng(6).standard_normal((B, 6, L, S)), enable_gqa=True,
               device=device)


def test_sdpa_gqa_needs_the_flag_and_divisible_heads():
    q, k = gg.randn(1, 4, 2, 3), gg.randn(1, 2, 5, 3)
    with pytest.raises(RuntimeError):
        GF.scaled_dot_product_attention(q, k, k)
    with pytest.raises(ShapeError, match="scaled_dot_product_attention"):
        GF.scaled_dot_product_attention(gg.randn(1, 3, 2, 3), k, k, enable_gqa=True)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_row_gives_zeros_like_torch(kind, device):
    """PyTorch (since its safe softmax, 2.5) returns 0 for a row that may attend to nothing,
    with zero gradients; the other rows keep finite gradients."""
    keep = _bool_mask((B, 1, L, S))
    keep[0, 0, 1] = False
    keep[1, 0, 3] = False
    mask = keep if kind == "bool" else np.where(keep, _rng(7).standard_normal(keep.shape),
                                                -np.inf)
    out, inputs = _sdpa_case(QKV, mask=mask, device=device)
    out = out.cpu().numpy()
    assert (out[0, :, 1] == 0).all() and (out[1, :, 3] == 0).all()
    assert (inputs[0].grad.cpu().numpy()[0, :, 1] == 0).all()


def test_sdpa_gradients_pass_gradcheck():
    rng = _rng(8)

    def t64(*shape):
        return gg.tensor(rng.standard_normal(shape), requires_grad=True)

    q, k, v, mask = t64(2, 2, 3), t64(2, 4, 3), t64(2, 4, 2), t64(2, 4)
    assert gg.gradcheck(lambda *a: GF.scaled_dot_product_attention(*a), (q, k, v, mask))
    assert gg.gradcheck(lambda *a: GF.scaled_dot_product_attention(*a, is_causal=True),
                        (q, k, v))
    q4, k4, v4 = t64(1, 4, 2, 3), t64(1, 2, 3, 3), t64(1, 2, 3, 2)
    assert gg.gradcheck(lambda *a: GF.scaled_dot_product_attention(*a, enable_gqa=True),
                        (q4, k4, v4))


@pytest.mark.parametrize("case", ["bool-mask", "float-mask", "causal-gqa"])
def test_sdpa_double_backward_passes_gradcheck(case):
    rng = _rng(9)

    def t64(*shape):
        return gg.tensor(rng.standard_normal(shape), requires_grad=True)

    inputs = [t64(1, 2, 2, 3), t64(1, 1, 4, 3), t64(1, 1, 4, 2)]
    kwargs = {}
    if case == "bool-mask":
        kwargs["attn_mask"] = gg.tensor(np.array([[True, False, True, True], [False] * 4]))
    elif case == "float-mask":
        inputs.append(t64(2, 4))
    else:
        kwargs = dict(is_causal=True, enable_gqa=True)

    def first_grads(*inputs):
        out = GF.scaled_dot_product_attention(*inputs, **kwargs)
        grads = gg.grad((out * out).sum(), list(inputs), create_graph=True)
        return sum((g * g).sum() for g in grads)

    assert gg.gradcheck(first_grads, tuple(inputs))


def test_sdpa_forward_mode_matches_finite_differences():
    rng = _rng(10)
    primals = [gg.tensor(rng.standard_normal(s)) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 2)]]
    mask = gg.tensor(rng.standard_normal((3, 5)))
    tangents = [gg.tensor(rng.standard_normal(p.shape)) for p in primals + [mask]]

    def f(q, k, v, m):
        return GF.scaled_dot_product_attention(q, k, v, m)

    _, tangent = gg.func.jvp(f, tuple(primals + [mask]), tuple(tangents))
    step = 1e-6

    def shifted(sign):
        moved = [p + t * (sign * step) for p, t in zip(primals + [mask], tangents)]
        return f(*moved).numpy()

    _close(tangent, (shifted(1.0) - shifted(-1.0)) / (2 * step), tol=1e-6)


def test_sdpa_dropout_statistics_and_consistent_backward():
    """With q = k = 0 the weights are uniform (1/S) and v = I makes the output the dropped
    weights themselves: each entry 0 or 1 / (S (1 - p)), about a fraction p of zeros."""
    s, p = 50, 0.3
    q, k = gg.zeros(4, 40, 8, dtype=gg.float64), gg.zeros(4, s, 8, dtype=gg.float64)
    v = gg.tensor(np.broadcast_to(np.eye(s), (4, s, s)).copy(), requires_grad=True)
    out = GF.scaled_dot_product_attention(q, k, v, dropout_p=p)
    values = out.numpy()
    kept = values != 0
    assert abs(1 - kept.mean() - p) < 0.02
    np.testing.assert_allclose(values[kept], 1 / (s * (1 - p)))
    weight = _rng(11).standard_normal(out.shape)
    out.backward(gg.tensor(weight))
    # d out / d v = (dropped weights)^T g: the same mask forward applied.
    _close(v.grad, np.swapaxes(values, -1, -2) @ weight)


def test_sdpa_dropout_gradients_match_torch_with_the_same_mask(device):
    """The keep-mask read off one call (v = I makes the output the dropped weights) is
    applied by hand in torch; the gradients of q, k and v must agree with it."""
    s, p = 6, 0.4
    rng = _rng(12)
    (qt, qg), (kt, kg) = _inputs([(2, 5, 3), (2, s, 3)], seed=12, device=device)
    eye = gg.tensor(np.broadcast_to(np.eye(s), (2, s, s)).copy(), device=device)
    gg.manual_seed(5)
    keep = GF.scaled_dot_product_attention(qg, kg, eye, dropout_p=p).cpu().numpy() != 0
    vt, vg = _both(rng.standard_normal((2, s, 4)), True, device)
    gg.manual_seed(5)
    out_g = GF.scaled_dot_product_attention(qg, kg, vg, dropout_p=p)
    weights = torch.softmax(qt @ kt.transpose(-1, -2) / math.sqrt(3), dim=-1)
    out_t = (weights * torch.tensor(keep / (1 - p))) @ vt
    _close(out_g, out_t)
    grad = rng.standard_normal(out_t.shape)
    out_t.backward(torch.tensor(grad))
    out_g.backward(gg.tensor(grad, device=device))
    for t, g in ((qt, qg), (kt, kg), (vt, vg)):
        _close(g.grad, t.grad)


def test_sdpa_dropout_is_seeded_and_off_at_zero():
    q, k, v = gg.randn(2, 3, 4), gg.randn(2, 5, 4), gg.randn(2, 5, 4)
    gg.manual_seed(3)
    first = GF.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    gg.manual_seed(3)
    second = GF.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(first, second)
    plain = GF.scaled_dot_product_attention(q, k, v).numpy()
    assert not np.allclose(first, plain)
    zero = GF.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy()
    assert (zero == 0).all()


def test_sdpa_bad_inputs_raise_like_torch():
    q = gg.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="is_causal"):
        GF.scaled_dot_product_attention(q, q, q, gg.ones(3, 3, dtype=gg.bool),
                                        is_causal=True)
    with pytest.raises(ShapeError, match="^scaled_dot_product_attention"):
        GF.scaled_dot_product_attention(q, gg.randn(2, 3, 5), q)
    with pytest.raises(ShapeError, match="^scaled_dot_product_attention"):
        GF.scaled_dot_product_attention(q, q, q, gg.zeros(4, 3))
    with pytest.raises(DTypeError, match="^scaled_dot_product_attention"):
        GF.scaled_dot_product_attention(q, q, q.double())
    with pytest.raises(DTypeError, match="^scaled_dot_product_attention"):
        GF.scaled_dot_product_attention(q, q, q, gg.zeros(3, 3, dtype=gg.int64))
    with pytest.raises(ValueError, match="dropout_p"):
        GF.scaled_dot_product_attention(q, q, q, dropout_p=1.5)
    with pytest.raises(TypeError):
        GF.scaled_dot_product_attention(q, np.ones((2, 3, 4)), q)


def test_sdpa_empty_keys_give_zeros_like_torch():
    _close(GF.scaled_dot_product_attention(gg.randn(3, 4), gg.randn(0, 4), gg.randn(0, 2)),
           np.zeros((3, 2)))


# ---- MultiheadAttention ---------------------------------------------------------------------
def _pair(build):
    """The same module in both libraries, float64, gpugrad holding torch's weights."""
    t_model, g_model = build(torch.nn).double(), build(gg.nn).double()
    assert list(g_model.state_dict()) == list(t_model.state_dict())
    g_model.load_state_dict({k: v.detach().numpy() for k, v in t_model.state_dict().items()})
    return t_model, g_model


def _outputs_and_grads(t_model, g_model, t_call, g_call, seed=0):
    """Runs both calls, compares the outputs, then the gradients of a random weighting of
    the first output w.r.t. the parameters (and whatever inputs the calls made)."""
    out_t, out_g = t_call(), g_call()
    first_t = out_t[0] if isinstance(out_t, tuple) else out_t
    first_g = out_g[0] if isinstance(out_g, tuple) else out_g
    _close(first_g, first_t)
    if isinstance(out_t, tuple) and out_t[1] is not None:
        _close(out_g[1], out_t[1])
    elif isinstance(out_t, tuple):
        assert out_g[1] is None
    weight = _rng(seed).standard_normal(tuple(first_t.shape))
    (first_t * torch.tensor(weight)).sum().backward()
    (first_g * gg.tensor(weight)).sum().backward()
    for (name, p_t), (name_g, p_g) in zip(t_model.named_parameters(),
                                          g_model.named_parameters()):
        assert name == name_g
        _close(p_g.grad, p_t.grad)


def _seq_shape(batch_first, length, batch, features):
    return (batch, length, features) if batch_first else (length, batch, features)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dims", [dict(), dict(kdim=3, vdim=5)], ids=["packed", "kdim-vdim"])
@pytest.mark.parametrize("need_weights, average", [(True, True), (True, False),
                                                   (False, True)])
def test_mha_matches_torch(batch_first, dims, need_weights, average):
    t_mha, g_mha = _pair(lambda nn: nn.MultiheadAttention(8, 2, batch_first=batch_first,
                                                          **dims))
    shapes = [_seq_shape(batch_first, 4, 3, 8), _seq_shape(batch_first, 6, 3, dims.get("kdim", 8)),
              _seq_shape(batch_first, 6, 3, dims.get("vdim", 8))]
    (qt, qg), (kt, kg), (vt, vg) = _inputs(shapes)
    padding_t, padding_g = _both(_rng(1).random((3, 6)) > 0.7)
    mask_t, mask_g = _both(_rng(2).random((4, 6)) > 0.8)
    kwargs = dict(need_weights=need_weights, average_attn_weights=average)
    _outputs_and_grads(
        t_mha, g_mha,
        lambda: t_mha(qt, kt, vt, key_padding_mask=padding_t, attn_mask=mask_t, **kwargs),
        lambda: g_mha(qg, kg, vg, key_padding_mask=padding_g, attn_mask=mask_g, **kwargs))
    for t, g in ((qt, qg), (kt, kg), (vt, vg)):
        _close(g.grad, t.grad)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_self_attention_float_masks_3d(need_weights):
    t_mha, g_mha = _pair(lambda nn: nn.MultiheadAttention(6, 3, bias=False))
    (xt, xg), = _inputs([(5, 2, 6)])
    mask_t, mask_g = _both(_rng(3).standard_normal((2 * 3, 5, 5)))
    padding_t, padding_g = _both(np.where(_rng(4).random((2, 5)) > 0.7, -np.inf, 0.0))
    _outputs_and_grads(
        t_mha, g_mha,
        lambda: t_mha(xt, xt, xt, padding_t, need_weights, mask_t),
        lambda: g_mha(xg, xg, xg, padding_g, need_weights, mask_g))
    _close(xg.grad, xt.grad)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched(need_weights):
    t_mha, g_mha = _pair(lambda nn: nn.MultiheadAttention(4, 2, kdim=3, vdim=3,
                                                          batch_first=True))
    (qt, qg), (kt, kg) = _inputs([(5, 4), (7, 3)])
    padding_t, padding_g = _both(np.arange(7) > 4)
    _outputs_and_grads(t_mha, g_mha,
                       lambda: t_mha(qt, kt, kt, padding_t, need_weights=need_weights),
                       lambda: g_mha(qg, kg, kg, padding_g, need_weights=need_weights))
    out, weights = g_mha(qg, kg, kg, padding_g, average_attn_weights=False)
    assert out.shape == (5, 4) and weights.shape == (2, 5, 7)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_is_causal_hint_with_its_mask(need_weights):
    t_mha, g_mha = _pair(lambda nn: nn.MultiheadAttention(4, 2))
    (xt, xg), = _inputs([(5, 2, 4)])
    mask_t = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    mask_g = gg.nn.Transformer.generate_square_subsequent_mask(5, dtype=gg.float64)
    _outputs_and_grads(
        t_mha, g_mha,
        lambda: t_mha(xt, xt, xt, attn_mask=mask_t, is_causal=True, need_weights=need_weights),
        lambda: g_mha(xg, xg, xg, attn_mask=mask_g, is_causal=True, need_weights=need_weights))
    with pytest.raises(RuntimeError, match="attn_mask"):
        g_mha(xg, xg, xg, is_causal=True)


def test_mha_bias_kv_and_zero_attn():
    t_mha, g_mha = _pair(lambda nn: nn.MultiheadAttention(6, 2, add_bias_kv=True,
                                                          add_zero_attn=True))
    assert list(g_mha.state_dict()) == ["in_proj_weight", "in_proj_bias", "bias_k", "bias_v",
                                        "out_proj.weight", "out_proj.bias"]
    (qt, qg), (kt, kg) = _inputs([(3, 2, 6), (4, 2, 6)])
    padding_t, padding_g = _both(np.array([[0.0, 0.0, -np.inf, 0.0]] * 2))
    for need_weights in (True, False):
        _outputs_and_grads(
            t_mha, g_mha,
            lambda: t_mha(qt, kt, kt, padding_t, need_weights, torch.zeros(3, 4).double()),
            lambda: g_mha(qg, kg, kg, padding_g, need_weights, gg.zeros(3, 4).double()))
        t_mha.zero_grad()
        g_mha.zero_grad()


def test_mha_fully_masked_query_matches_torch_on_both_paths():
    """A query every key is hidden from: NaN through the explicit weights (need_weights),
    0 through scaled_dot_product_attention, in PyTorch and here."""
    t_mha, g_mha = _pair(lambda nn: nn.MultiheadAttention(4, 2))
    (xt, xg), = _inputs([(3, 2, 4)])
    mask = np.zeros((3, 3), bool)
    mask[1] = True
    mask_t, mask_g = _both(mask)
    with torch.no_grad(), np.errstate(invalid="ignore"):
        for need_weights in (True, False):
            out_t, _ = t_mha(xt, xt, xt, attn_mask=mask_t, need_weights=need_weights)
            out_g, _ = g_mha(xg, xg, xg, attn_mask=mask_g, need_weights=need_weights)
            _close(out_g, out_t, equal_nan=True)


def test_mha_warns_like_torch_for_mixed_mask_types():
    mha = gg.nn.MultiheadAttention(4, 2)
    x = gg.randn(3, 2, 4)
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        mha(x, x, x, key_padding_mask=gg.zeros(2, 3, dtype=gg.bool), attn_mask=gg.zeros(3, 3))
    with pytest.raises(TypeError, match="attn_mask"):
        mha(x, x, x, attn_mask=gg.zeros(3, 3, dtype=gg.int64))


def test_mha_train_mode_with_zero_dropout_and_default_init():
    t_mha, g_mha = _pair(lambda nn: nn.MultiheadAttention(4, 2, dropout=0.0).train())
    (xt, xg), = _inputs([(3, 2, 4)])
    _outputs_and_grads(t_mha, g_mha, lambda: t_mha(xt, xt, xt), lambda: g_mha(xg, xg, xg))
    fresh = gg.nn.MultiheadAttention(4, 2)
    assert (fresh.in_proj_bias.numpy() == 0).all() and (fresh.out_proj.bias.numpy() == 0).all()
    bound = math.sqrt(6 / (4 + 12))  # xavier_uniform_ of the (12, 4) packed weight
    assert np.abs(fresh.in_proj_weight.numpy()).max() <= bound


def test_mha_dropout_in_train_mode_only():
    mha = gg.nn.MultiheadAttention(4, 1, dropout=0.5).double()
    x = gg.randn(6, 2, 4, dtype=gg.float64)
    _, weights = mha(x, x, x, average_attn_weights=False)
    assert (weights.numpy() == 0).any()
    mha.eval()
    _, weights = mha(x, x, x)
    np.testing.assert_allclose(weights.sum(-1).numpy(), 1.0)


def test_mha_state_dict_layout_and_repr_match_torch():
    for kwargs in (dict(), dict(kdim=3), dict(vdim=5, bias=False), dict(add_bias_kv=True)):
        t_mha = torch.nn.MultiheadAttention(8, 4, **kwargs)
        g_mha = gg.nn.MultiheadAttention(8, 4, **kwargs)
        assert list(g_mha.state_dict()) == list(t_mha.state_dict())
        assert ({k: tuple(v.shape) for k, v in g_mha.state_dict().items()}
                == {k: tuple(v.shape) for k, v in t_mha.state_dict().items()})
        assert repr(g_mha) == repr(t_mha)


# ---- transformer layers -------------------------------------------------------------------
def _silu(x):
    return x * x.sigmoid()  # a callable activation both libraries can run


ACTIVATIONS = {"relu": "relu", "gelu": "gelu", "callable": _silu}


def _layer_masks(length, batch, seed):
    rng = _rng(seed)
    causal = np.triu(np.full((length, length), -np.inf), 1)
    padding = rng.random((batch, length)) > 0.75
    padding[:, 0] = False
    return causal, padding


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
@pytest.mark.parametrize("train", [False, True])
def test_encoder_layer_matches_torch(norm_first, activation, train):
    act = ACTIVATIONS[activation]
    t_layer, g_layer = _pair(lambda nn: nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0 if train else 0.1, activation=act, norm_first=norm_first))
    t_layer.train(train)
    g_layer.train(train)
    (xt, xg), = _inputs([(5, 3, 8)])
    causal, padding = _layer_masks(5, 3, 1)
    mask_t, mask_g = _both(causal)
    pad_t, pad_g = _both(np.where(padding, -np.inf, 0.0))
    _outputs_and_grads(
        t_layer, g_layer,
        lambda: t_layer(xt, src_mask=mask_t, src_key_padding_mask=pad_t),
        lambda: g_layer(xg, src_mask=mask_g, src_key_padding_mask=pad_g))
    _close(xg.grad, xt.grad)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
@pytest.mark.parametrize("train", [False, True])
def test_decoder_layer_matches_torch(norm_first, activation, train):
    act = ACTIVATIONS[activation]
    t_layer, g_layer = _pair(lambda nn: nn.TransformerDecoderLayer(
        8, 2, 16, dropout=0.0 if train else 0.1, activation=act, norm_first=norm_first,
        batch_first=True))
    t_layer.train(train)
    g_layer.train(train)
    (xt, xg), (mt, mg) = _inputs([(3, 4, 8), (3, 6, 8)])
    causal, _ = _layer_masks(4, 3, 2)
    mask_t, mask_g = _both(causal)
    memory_pad_t, memory_pad_g = _both(np.array([[False] * 5 + [True]] * 3))
    _outputs_and_grads(
        t_layer, g_layer,
        lambda: t_layer(xt, mt, tgt_mask=mask_t, memory_key_padding_mask=memory_pad_t,
                        tgt_is_causal=True),
        lambda: g_layer(xg, mg, tgt_mask=mask_g, memory_key_padding_mask=memory_pad_g,
                        tgt_is_causal=True))
    _close(xg.grad, xt.grad)
    _close(mg.grad, mt.grad)


def test_encoder_layer_inference_matches_torch_fast_path():
    """Under no_grad in eval mode PyTorch runs its fused C++ encoder layer; same numbers."""
    t_layer, g_layer = _pair(lambda nn: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True))
    t_layer.eval()
    g_layer.eval()
    (xt, xg), = _inputs([(3, 5, 8)])
    padding = np.array([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]])
    pad_t, pad_g = _both(padding)
    with torch.no_grad():
        out_t = t_layer(xt, src_key_padding_mask=pad_t)
    with gg.no_grad():
        out_g = g_layer(xg, src_key_padding_mask=pad_g)
    _close(out_g, out_t)


@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_and_decoder_stacks_match_torch(batch_first):
    def build(nn):
        encoder_layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0,
                                                   batch_first=batch_first)
        decoder_layer = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0,
                                                   batch_first=batch_first)
        model = nn.Module()
        model.encoder = nn.TransformerEncoder(encoder_layer, 2, nn.LayerNorm(8),
                                              enable_nested_tensor=False)
        model.decoder = nn.TransformerDecoder(decoder_layer, 3)
        return model

    t_model, g_model = _pair(build)
    assert "encoder.layers.1.self_attn.in_proj_weight" in g_model.state_dict()
    (st, sg), (tt, tg) = _inputs([_seq_shape(batch_first, 5, 2, 8),
                                  _seq_shape(batch_first, 4, 2, 8)])
    causal_t = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    causal_g = gg.nn.Transformer.generate_square_subsequent_mask(5, dtype=gg.float64)

    def run(model, src, tgt, causal):
        memory = model.encoder(src, mask=causal)  # detected as causal: is_causal=None
        return model.decoder(tgt, memory)

    _outputs_and_grads(t_model, g_model, lambda: run(t_model, st, tt, causal_t),
                       lambda: run(g_model, sg, tg, causal_g))
    _close(sg.grad, st.grad)
    _close(tg.grad, tt.grad)


@pytest.mark.parametrize("batch_first, norm_first", [(False, False), (True, True)])
def test_transformer_end_to_end_matches_torch(batch_first, norm_first):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's enable_nested_tensor advice
        t_model, g_model = _pair(lambda nn: nn.Transformer(
            8, 2, 2, 2, 16, dropout=0.0, activation="gelu", batch_first=batch_first,
            norm_first=norm_first))
    (st, sg), (tt, tg) = _inputs([_seq_shape(batch_first, 6, 2, 8),
                                  _seq_shape(batch_first, 4, 2, 8)])
    tgt_mask_t = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    tgt_mask_g = gg.nn.Transformer.generate_square_subsequent_mask(4, dtype=gg.float64)
    src_pad_t, src_pad_g = _both(np.array([[0.0] * 6, [0.0] * 4 + [-np.inf] * 2]))
    tgt_pad_t, tgt_pad_g = _both(np.array([[0.0] * 4, [0.0] * 3 + [-np.inf]]))
    _outputs_and_grads(
        t_model, g_model,
        lambda: t_model(st, tt, tgt_mask=tgt_mask_t, src_key_padding_mask=src_pad_t,
                        tgt_key_padding_mask=tgt_pad_t, memory_key_padding_mask=src_pad_t),
        lambda: g_model(sg, tg, tgt_mask=tgt_mask_g, src_key_padding_mask=src_pad_g,
                        tgt_key_padding_mask=tgt_pad_g, memory_key_padding_mask=src_pad_g))
    _close(sg.grad, st.grad)
    _close(tg.grad, tt.grad)


def test_transformer_unbatched_and_input_checks():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_model, g_model = _pair(lambda nn: nn.Transformer(4, 2, 1, 1, 8, dropout=0.0))
    (st, sg), (tt, tg) = _inputs([(5, 4), (3, 4)])
    _outputs_and_grads(t_model, g_model, lambda: t_model(st, tt), lambda: g_model(sg, tg))
    with pytest.raises(RuntimeError, match="batch number"):
        g_model(gg.randn(5, 2, 4).double(), gg.randn(3, 3, 4).double())
    with pytest.raises(RuntimeError, match="d_model"):
        g_model(gg.randn(5, 2, 3).double(), gg.randn(3, 2, 3).double())
    with pytest.raises(RuntimeError, match="relu/gelu"):
        gg.nn.TransformerEncoderLayer(4, 2, activation="tanh")


def test_state_dict_keys_and_repr_match_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        builds = [
            lambda nn: nn.TransformerEncoderLayer(8, 2, 16, bias=False),
            lambda nn: nn.TransformerDecoderLayer(8, 2, 16, activation=nn.GELU()),
            lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2),
            lambda nn: nn.Transformer(8, 2, 2, 1, 16, layer_norm_eps=1e-6),
        ]
        for build in builds:
            t_model, g_model = build(torch.nn), build(gg.nn)
            assert list(g_model.state_dict()) == list(t_model.state_dict())
            assert ({k: tuple(v.shape) for k, v in g_model.state_dict().items()}
                    == {k: tuple(v.shape) for k, v in t_model.state_dict().items()})
            assert repr(g_model) == repr(t_model)


def test_transformer_default_init_is_xavier_uniform():
    model = gg.nn.Transformer(8, 2, 1, 1, 16)
    weight = model.encoder.layers[0].linear1.weight.numpy()  # (16, 8)
    bound = math.sqrt(6 / (16 + 8))
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.8 * bound


@pytest.mark.parametrize("size", [1, 4])
def test_generate_square_subsequent_mask_matches_torch(size):
    got = gg.nn.Transformer.generate_square_subsequent_mask(size)
    want = torch.nn.Transformer.generate_square_subsequent_mask(size)
    assert got.dtype == gg.float32
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    got64 = gg.nn.Transformer.generate_square_subsequent_mask(size, dtype=gg.float64)
    assert got64.dtype == gg.float64
