"""The Numba kernels of ``kernels/_cpu_rnn.py`` against the NumPy reference path (float32 and
float64), the layers that use them against PyTorch with identical weights and by float64
gradcheck, and the recurrent layers' autocast policy against PyTorch's."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.kernels import _cpu_rnn
from gpugrad.nn.functional import lstm_sequence
from gpugrad.nn.functional.lstm_sequence import GRUSequence, LSTMSequence
from gpugrad.nn.functional.recurrent import (GRUCellPointwise, _Arrays, _backward_kept,
                                             _gru_backward, _gru_forward, _step)
from test_lstm_sequence import _ops_in_graph  # same folder: on pytest's path

torch = pytest.importorskip("torch")

DTYPES = [np.float32, np.float64]
# float32: the kernels' sigmoid and tanh are within 3 ulp, NumPy's within 2
TOL = {np.float32: dict(rtol=2e-6, atol=2e-6), np.float64: dict(rtol=1e-13, atol=1e-14)}


def _special_points(dtype):
    grid = np.linspace(-100, 100, 400_001)
    tiny = np.logspace(-30, 1, 2000)
    return np.concatenate([grid, tiny, -tiny, [0.0, -0.0, 0.5, -0.5, 87.0, -87.0, 88.5,
                                               -88.5, 1e30, -1e30, np.inf, -np.inf]]
                          ).astype(dtype)


def _ulps(got, want, dtype):
    return np.abs(got - want) / np.spacing(np.abs(want).astype(dtype)).astype(np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_tanh_are_accurate(dtype):
    x = _special_points(dtype)
    exact = x.astype(np.float64)
    with np.errstate(over="ignore"):
        want = {"sigmoid": 1.0 / (1.0 + np.exp(-exact)), "tanh": np.tanh(exact)}
    for name, fn in (("sigmoid", _cpu_rnn.sigmoid_array), ("tanh", _cpu_rnn.tanh_array)):
        got = np.empty_like(x)
        fn(x, got)
        assert got.dtype == dtype
        if dtype == np.float64:
            np.testing.assert_allclose(got, want[name], rtol=1e-15, atol=1e-300)
            continue
        normal = np.abs(x) < 87  # below e^-87 the float32 sigmoid rounds to 0, not subnormal
        assert _ulps(got, want[name], dtype)[normal].max() <= 3, name
        np.testing.assert_allclose(got[~normal], want[name][~normal], rtol=0, atol=2e-38)
    assert got[-1] == -1 and got[-2] == 1  # tanh(-inf), tanh(inf)
    nan = np.array([np.nan], dtype)
    for fn in (_cpu_rnn.sigmoid_array, _cpu_rnn.tanh_array):
        fn(nan, got[:1])
        assert np.isnan(got[0])  # a NaN shows, as in PyTorch, rather than turning into 0


def _step_arrays(dtype, batch=5, size=7, seed=0):
    rng = np.random.default_rng(seed)
    x, z = (3 * rng.standard_normal((batch, 4 * size)).astype(dtype) for _ in range(2))
    c, grad_h, dh_carry, dc = (rng.standard_normal((batch, size)).astype(dtype)
                               for _ in range(4))
    return x, z, c, grad_h, dh_carry, dc


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_step_kernels_equal_the_numpy_path(dtype):
    x, z, c, grad_h, dh_carry, dc = _step_arrays(dtype)
    h_out, c_out, tc = (np.empty_like(c) for _ in range(3))
    acts = np.empty_like(x)
    _cpu_rnn.lstm_forward_step(x, z, c, h_out, c_out, acts, tc)
    m = _Arrays(np)
    h_want, c_want, kept = _step(m, x + z, c)
    for got, want in ((h_out, h_want), (c_out, c_want), (tc, kept[4]),
                      (acts, np.concatenate(kept[:4], axis=1))):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, **TOL[dtype])
    d_gates = np.empty_like(x)
    dc_got = dc.copy()
    _cpu_rnn.lstm_backward_step(acts, tc, c, grad_h, dh_carry, dc_got, d_gates)
    d_gates_want, dc_want = _backward_kept(m, kept, c, grad_h + dh_carry, dc)
    np.testing.assert_allclose(d_gates, d_gates_want, **TOL[dtype])
    np.testing.assert_allclose(dc_got, dc_want, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_gru_step_kernels_equal_the_numpy_path(dtype):
    rng = np.random.default_rng(4)
    batch, size = 5, 7
    x, hg = (2 * rng.standard_normal((batch, 3 * size)).astype(dtype) for _ in range(2))
    bias = rng.standard_normal(3 * size).astype(dtype)
    h, grad_h, dh_mm, dh_direct = (rng.standard_normal((batch, size)).astype(dtype)
                                   for _ in range(4))
    h_out, hn = np.empty_like(h), np.empty_like(h)
    acts = np.empty_like(x)
    _cpu_rnn.gru_forward_step(x, hg, bias, h, h_out, acts, hn)
    m = _Arrays(np)
    h_want, (rz, n) = _gru_forward(m, x, hg + bias, h)
    for got, want in ((h_out, h_want), (acts, np.concatenate([rz, n], axis=1)),
                      (hn, (hg + bias)[:, 2 * size:])):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, **TOL[dtype])
    d_x, d_hg = np.empty_like(x), np.empty_like(x)
    direct = dh_direct.copy()
    _cpu_rnn.gru_backward_step(acts, hn, h, grad_h, dh_mm, direct, d_x, d_hg)
    want = _gru_backward(m, rz, n, hg + bias, h, grad_h + dh_mm + dh_direct)
    for got, w in zip((d_x, d_hg, direct), want):
        np.testing.assert_allclose(got, w, **TOL[dtype])


OPS = {"LSTM": (LSTMSequence, 4), "GRU": (GRUSequence, 3)}


def _sequence_inputs(dtype, steps=6, batch=3, size=4, seed=0, mode="LSTM", device="cpu"):
    rng = np.random.default_rng(seed)
    gates = OPS[mode][1] * size
    shapes = [(steps * batch, gates), (batch, size)]
    shapes += [(batch, size), (gates, size)] if mode == "LSTM" else [(gates, size), (gates,)]
    return [gg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True,
                      device=device) for s in shapes]


def _gru_composite(gates, h0, weight, bias, reverse=False):
    """GRUSequence one recorded step at a time (the layers' other path)."""
    batch = h0.shape[0]
    steps = gates.shape[0] // batch
    h, outs = h0, [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        h = GRUCellPointwise.apply(gates[t * batch:(t + 1) * batch], h @ weight.T + bias, h)
        outs[t] = h
    return gg.stack(outs)


@pytest.mark.parametrize("reverse", [False, True])
def test_gru_sequence_equals_the_composite(device, reverse):
    inputs = _sequence_inputs(np.float64, mode="GRU", device=device)
    got = GRUSequence.apply(*inputs, reverse=reverse)
    want = _gru_composite(*inputs, reverse=reverse)
    np.testing.assert_allclose(got.cpu().numpy(), want.cpu().numpy(), rtol=1e-13, atol=1e-14)
    seed = gg.tensor(np.random.default_rng(1).standard_normal(got.shape), device=device)
    for a, b in zip(gg.grad((got * seed).sum(), inputs), gg.grad((want * seed).sum(), inputs)):
        np.testing.assert_allclose(a.cpu().numpy(), b.cpu().numpy(), rtol=1e-12, atol=1e-13)
    tangents = [x.detach() for x in _sequence_inputs(np.float64, seed=2, mode="GRU",
                                                      device=device)]
    plain = [x.detach() for x in inputs]
    _, t_got = gg.func.jvp(lambda *xs: GRUSequence.apply(*xs, reverse=reverse), plain,
                           tangents)
    _, t_want = gg.func.jvp(lambda *xs: _gru_composite(*xs, reverse=reverse), plain, tangents)
    np.testing.assert_allclose(t_got.cpu().numpy(), t_want.cpu().numpy(), rtol=1e-12,
                               atol=1e-13)


@pytest.mark.parametrize("reverse", [False, True])
def test_gru_sequence_gradcheck_first_and_second_order(device, reverse):
    inputs = _sequence_inputs(np.float64, steps=3, batch=2, size=2, mode="GRU",
                              device=device)
    fn = lambda *xs: GRUSequence.apply(*xs, reverse=reverse)  # noqa: E731
    assert gg.gradcheck(fn, tuple(inputs))
    first = lambda *xs: sum((g * g).sum() for g in gg.grad(  # noqa: E731
        fn(*xs).tanh().sum(), xs, create_graph=True))
    assert gg.gradcheck(first, tuple(inputs))


def _sequence(inputs, reverse, seed, mode="LSTM"):
    out = OPS[mode][0].apply(*inputs, reverse=reverse)
    weight = np.random.default_rng(seed).standard_normal(out.shape).astype(out.numpy().dtype)
    grads = gg.grad((out * gg.tensor(weight)).sum(), inputs)
    return [out.detach().numpy()] + [g.numpy() for g in grads]


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reverse", [False, True])
def test_sequence_kernel_path_equals_the_numpy_path(mode, dtype, reverse, monkeypatch):
    inputs = _sequence_inputs(dtype, mode=mode)
    got = _sequence(inputs, reverse, 1, mode)
    monkeypatch.setattr(lstm_sequence, "_cpu_kernels", lambda *a: None)
    want = _sequence(inputs, reverse, 1, mode)
    for a, b in zip(got, want):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **TOL[dtype])


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_sequence_kernel_path_takes_non_contiguous_inputs(mode, monkeypatch):
    """Gates, states and weight as strided views (a transposed weight, every other row)."""
    inputs = [x.detach() for x in _sequence_inputs(np.float64, mode=mode)]
    strided = []
    for x in inputs:
        if x.ndim == 2:
            wide = gg.zeros(x.shape[1], 2 * x.shape[0], dtype=x.dtype)
            wide[:, ::2] = x.T
            x = wide[:, ::2].T  # the same values, neither C- nor F-contiguous
        strided.append(x.requires_grad_(True))
    got = _sequence(strided, False, 1, mode)
    monkeypatch.setattr(lstm_sequence, "_cpu_kernels", lambda *a: None)
    want = _sequence([x.detach().clone().requires_grad_(True) for x in inputs], False, 1, mode)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, **TOL[np.float64])


def test_sequence_uses_the_kernels_for_float32_and_float64_only():
    for dtype in (np.float32, np.float64):
        assert lstm_sequence._cpu_kernels(np, np.zeros(1, dtype)) is _cpu_rnn
    assert lstm_sequence._cpu_kernels(np, np.zeros(1, np.float16)) is None
    assert lstm_sequence._cpu_kernels(np, np.zeros(1), np.zeros(1, np.float32)) is None
    # float16 still runs (on the NumPy path) and returns float16
    out = LSTMSequence.apply(*(t.detach().to(gg.float16) for t in _sequence_inputs(np.float32)))
    assert out.dtype == gg.float16


def test_gru_layers_use_the_sequence_op_for_equal_lengths_only():
    gru = gg.nn.GRU(3, 4, num_layers=2, bidirectional=True)
    x = gg.randn(5, 2, 3)
    names = _ops_in_graph(gru(x)[0].sum())
    assert names.count("GRUSequence") == 4 and "GRUCellPointwise" not in names
    packed = gg.nn.utils.rnn.pack_padded_sequence(x, gg.tensor([5, 3]))
    names = _ops_in_graph(gru(packed)[0].data.sum())
    assert "GRUSequence" not in names and "GRUCellPointwise" in names
    no_bias = gg.nn.GRU(3, 4, bias=False)  # runs with a zero hidden bias
    assert "GRUSequence" in _ops_in_graph(no_bias(x)[0].sum())


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_layer_gradcheck_float64(mode):
    gg.manual_seed(0)
    layer = getattr(gg.nn, mode)(3, 2, num_layers=2, bidirectional=True, dtype=gg.float64)
    x = gg.randn(4, 2, 3, dtype=gg.float64, requires_grad=True)
    names = [name for name, _ in layer.named_parameters()]

    def functional(x, *weights):
        return gg.func.functional_call(layer, dict(zip(names, weights)), (x,))[0]
    weights = tuple(p.detach().clone().requires_grad_(True) for p in layer.parameters())
    assert gg.gradcheck(functional, (x,) + weights)


def _torch_twin(layer, mode, kwargs, dtype=torch.float32):
    twin = getattr(torch.nn, mode)(**kwargs).to(dtype)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            getattr(twin, name).copy_(torch.from_numpy(p.detach().numpy()))
    return twin


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_layers_match_pytorch(dtype, mode, bias):
    kwargs = dict(input_size=5, hidden_size=8, num_layers=2, batch_first=True,
                  bidirectional=True, bias=bias)
    gg.manual_seed(1)
    layer = getattr(gg.nn, mode)(**kwargs, dtype=getattr(gg, dtype))
    twin = _torch_twin(layer, mode, kwargs, getattr(torch, dtype))
    x = np.random.default_rng(2).standard_normal((3, 9, 5)).astype(dtype)
    xg, xt = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, state = layer(xg)
    out_t, state_t = twin(xt)
    seed = np.random.default_rng(3).standard_normal(out.shape).astype(dtype)
    (out * gg.tensor(seed)).sum().backward()
    (out_t * torch.from_numpy(seed)).sum().backward()
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), **tol)
    states = state if mode == "LSTM" else (state,)
    states_t = state_t if mode == "LSTM" else (state_t,)
    for a, b in zip(states, states_t):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), **tol)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), getattr(twin, name).grad.numpy(), **tol,
                                   err_msg=name)


# ---- autocast ----------------------------------------------------------------------------
SEQUENCE_LAYERS = ["LSTM", "GRU", "RNN"]
CELLS = ["LSTMCell", "GRUCell", "RNNCell"]


def _outputs(out):
    """(output, first state) of a layer or cell call."""
    if not isinstance(out, tuple):
        return out, None
    state = out[1]
    return out[0], state[0] if isinstance(state, tuple) else state


def _run_both(mode, low_input, device="cpu"):
    """gpugrad's and PyTorch's (output, state) dtypes under CPU bfloat16 autocast, and the
    values of both."""
    gg.manual_seed(0)
    layer = getattr(gg.nn, mode)(3, 4)
    twin = _torch_twin(layer, mode, dict(input_size=3, hidden_size=4))
    shape = (5, 2, 3) if mode in SEQUENCE_LAYERS else (2, 3)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    xg, xt = gg.tensor(x), torch.tensor(x)
    if low_input:
        xg, xt = xg.to(gg.bfloat16), xt.to(torch.bfloat16)
    with gg.autocast("cpu", dtype=gg.bfloat16):
        got = _outputs(layer(xg))
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            want = _outputs(twin(xt))
    except RuntimeError:  # oneDNN's bfloat16 LSTM needs hardware support
        want = None
    return layer, got, want


@pytest.mark.parametrize("low_input", [False, True], ids=["float32-input", "bf16-input"])
@pytest.mark.parametrize("mode", SEQUENCE_LAYERS + CELLS)
def test_cpu_autocast_follows_pytorch(mode, low_input):
    layer, got, want = _run_both(mode, low_input)
    expected_dtypes = {  # observed with torch 2.13, torch.autocast("cpu", dtype=bfloat16)
        "LSTM": "bfloat16", "RNN": "bfloat16",
        "GRU": "bfloat16" if low_input else "float32",
        "LSTMCell": "bfloat16" if low_input else "float32",
        "GRUCell": "bfloat16" if low_input else "float32",
        "RNNCell": "bfloat16"}[mode]
    for t in got:
        if t is not None:
            assert t.dtype == getattr(gg, expected_dtypes)
    if want is not None:
        for a, b in zip(got, want):
            if a is not None:
                assert str(b.dtype) == f"torch.{expected_dtypes}"
                np.testing.assert_allclose(a.float().detach().numpy(),
                                           b.float().detach().numpy(), rtol=0.05, atol=0.02)
    # and gradients reach the float32 parameters in float32
    got[0].float().sum().backward()
    for p in layer.parameters():
        assert p.grad is not None and p.grad.dtype == gg.float32


def test_cpu_autocast_lstm_is_close_to_float32():
    """PyTorch's bfloat16 LSTM on this CPU may be missing (oneDNN); check values against
    the float32 layer instead."""
    gg.manual_seed(0)
    lstm = gg.nn.LSTM(3, 4, num_layers=2)
    x = gg.randn(6, 2, 3)
    with gg.autocast("cpu", dtype=gg.bfloat16):
        low, (h, c) = lstm(x)
    assert low.dtype == h.dtype == c.dtype == gg.bfloat16
    np.testing.assert_allclose(low.float().detach().numpy(), lstm(x)[0].detach().numpy(),
                               atol=0.03)


def test_float64_input_is_never_autocast():
    lstm = gg.nn.LSTM(3, 4, dtype=gg.float64)
    with gg.autocast("cpu", dtype=gg.bfloat16):
        out, _ = lstm(gg.randn(5, 2, 3, dtype=gg.float64))
    assert out.dtype == gg.float64
    with pytest.raises(RuntimeError, match="dtype"):  # outside a region, as PyTorch
        gg.nn.GRU(3, 4)(gg.randn(5, 2, 3).to(gg.bfloat16))


@pytest.mark.parametrize("mode", SEQUENCE_LAYERS + CELLS)
def test_cuda_autocast_runs_in_float16(device, mode):
    if gg.device(device).type != "cuda":
        pytest.skip("autocast('cuda') needs a cuda device")
    gg.manual_seed(0)
    layer = getattr(gg.nn, mode)(3, 4).to(device)
    shape = (5, 2, 3) if mode in SEQUENCE_LAYERS else (2, 3)
    x = gg.randn(*shape, device=device)
    want = _outputs(layer(x))
    for given in (x, x.to(gg.float16)):
        with gg.autocast("cuda"):
            got = _outputs(layer(given))
        for a, b in zip(got, want):
            if a is not None:
                assert a.dtype == gg.float16
                np.testing.assert_allclose(a.float().detach().cpu().numpy(),
                                           b.detach().cpu().numpy(), atol=5e-3)
        got[0].float().sum().backward()
        for p in layer.parameters():
            assert p.grad is not None and p.grad.dtype == gg.float32
