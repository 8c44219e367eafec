"""The LSTM and GRU gate kernels (kernels/rnn.py) against the generic array path of
``LSTMCellPointwise`` / ``GRUCellPointwise``, and the GRU op against its composite.

On the CPU the ops' kernel branches are forced onto NumPy arrays, which the launchers run in
Numba's CUDA simulator (see conftest.py); each test checks that the launchers really ran
and compares outputs and gradients with the generic path. The ``cuda`` tests run nn.LSTM and
nn.GRU on (simulated) CuPy devices through the ops' own dispatch.
"""
import contextlib

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.func import jvp
from gpugrad.kernels import rnn
from gpugrad.nn.functional import recurrent
from gpugrad.nn.functional.recurrent import GRUCellPointwise, LSTMCellPointwise

pytestmark = pytest.mark.kernels

LAUNCHERS = ("lstm_forward", "lstm_backward", "gru_forward", "gru_backward")
TOL = {np.float32: 2e-6, np.float64: 1e-13}
CUDA_DEVICES = ["cuda"] + (["cuda:1"] if gg.cuda.device_count() > 1 else [])


@pytest.fixture
def forced(force_kernels):
    """Context manager: inside it NumPy arrays take the kernel branches; it yields a Counter
    of launcher calls (also counted outside it, for the cuda tests; see conftest.py)."""
    return force_kernels({name: (rnn, name) for name in LAUNCHERS})


def _normal(shape, dtype=np.float64, seed=0, scale=1.5):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


# ---- the launchers against the generic array math ----------------------------------------
# 5 x 60 = 300 units span two blocks of 256 threads, the second one short.
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, size", [(3, 5), (5, 60)])
def test_lstm_launchers_match_the_array_path(xp, host, dtype, n, size):
    gates, c = _normal((n, 4 * size), dtype, 1), _normal((n, size), dtype, 2)
    grad = _normal((2, n, size), dtype, 3)
    out, acts = rnn.lstm_forward(xp.asarray(gates), xp.asarray(c))
    d_gates, dc = rnn.lstm_backward(acts, xp.asarray(c), xp.asarray(grad))
    m = recurrent._Arrays(np)
    want = (recurrent._forward(m, gates, c),) + recurrent._backward(m, gates, c, grad[0],
                                                                    grad[1])
    np.testing.assert_allclose(host(acts), np.concatenate(recurrent._activations(m, gates),
                                                          axis=-1), rtol=TOL[dtype])
    for got, expected in zip((out, d_gates, dc), want, strict=True):
        assert got.dtype == dtype and got.shape == expected.shape
        np.testing.assert_allclose(host(got), expected, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, size", [(3, 5), (5, 60)])
def test_gru_launchers_match_the_array_path(xp, host, dtype, n, size):
    x_gates, h_gates = _normal((n, 3 * size), dtype, 1), _normal((n, 3 * size), dtype, 2)
    h, grad = _normal((n, size), dtype, 3), _normal((n, size), dtype, 4)
    out, acts = rnn.gru_forward(*map(xp.asarray, (x_gates, h_gates, h)))
    grads = rnn.gru_backward(acts, xp.asarray(h_gates), xp.asarray(h), xp.asarray(grad))
    m = recurrent._Arrays(np)
    want_out, (rz, n_gate) = recurrent._gru_forward(m, x_gates, h_gates, h)
    want = (want_out,) + recurrent._gru_backward(m, rz, n_gate, h_gates, h, grad)
    np.testing.assert_allclose(host(acts), np.concatenate([rz, n_gate], axis=-1),
                               rtol=TOL[dtype], atol=TOL[dtype])
    for got, expected in zip((out,) + grads, want, strict=True):
        assert got.dtype == dtype and got.shape == expected.shape
        np.testing.assert_allclose(host(got), expected, rtol=TOL[dtype], atol=TOL[dtype])


def test_launchers_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(N, 4H\)"):
        rnn.lstm_forward(np.zeros((2, 7)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\(N, 3H\)"):
        rnn.gru_forward(np.zeros((2, 6)), np.zeros((2, 5)), np.zeros((2, 2)))


# ---- the ops through their dispatch ------------------------------------------------------
def _layer_run(kind, dtype=np.float64, **kwargs):
    """Output, final states and every gradient of a tiny layer, as NumPy arrays."""
    gg.manual_seed(0)
    layer = getattr(gg.nn, kind)(3, 4, **kwargs).to(dtype=gg.float64 if dtype == np.float64
                                                    else gg.float32)
    x = gg.tensor(_normal((5, 2, 3), dtype, 7), requires_grad=True)
    out, state = layer(x)
    states = state if isinstance(state, tuple) else (state,)
    loss = (out * gg.tensor(_normal(out.shape, dtype, 8))).sum()
    for s in states:
        loss = loss + (s * s).sum()
    loss.backward()
    return ([out.numpy()] + [s.numpy() for s in states] + [x.grad.numpy()]
            + [p.grad.numpy() for p in layer.parameters()])


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("kwargs", [{}, dict(num_layers=2, bidirectional=True)])
def test_layers_take_the_kernels_and_match_the_generic_path(forced, kind, kwargs):
    want = _layer_run(kind, **kwargs)
    with forced() as calls:
        got = _layer_run(kind, **kwargs)
    steps = 5 * kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    prefix = kind.lower()
    assert dict(calls) == {f"{prefix}_forward": steps, f"{prefix}_backward": steps}
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)


def test_float32_layers_take_the_kernels(forced):
    for kind in ("LSTM", "GRU"):
        want = _layer_run(kind, np.float32)
        with forced() as calls:
            got = _layer_run(kind, np.float32)
        assert calls[f"{kind.lower()}_forward"] == 5
        for g, w in zip(got, want, strict=True):
            assert g.dtype == np.float32
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def _gru_inputs(seed=0, n=3, size=2):
    rng = np.random.default_rng(seed)
    return (gg.tensor(rng.standard_normal((n, 3 * size)) * 2, requires_grad=True),
            gg.tensor(rng.standard_normal((n, 3 * size)) * 2, requires_grad=True),
            gg.tensor(rng.standard_normal((n, size)), requires_grad=True))


def _gru_composite(x_gates, h_gates, h):
    size = h.shape[-1]
    r = (x_gates[:, :size] + h_gates[:, :size]).sigmoid()
    z = (x_gates[:, size:2 * size] + h_gates[:, size:2 * size]).sigmoid()
    n = (x_gates[:, 2 * size:] + r * h_gates[:, 2 * size:]).tanh()
    return (1 - z) * n + z * h


def test_gru_op_gradcheck_first_and_second_order():
    inputs = _gru_inputs()
    weights = gg.tensor(_normal((3, 2), seed=9))

    def f(*args):
        return (GRUCellPointwise.apply(*args) * weights).sum()

    def first(*args):  # the gradient itself, differentiated again (the Tensor path)
        return gg.grad(f(*args), args, create_graph=True)
    assert gg.gradcheck(f, inputs)
    assert gg.gradcheck(first, inputs)


def _lstm_inputs(seed=11):
    rng = np.random.default_rng(seed)
    return (gg.tensor(rng.standard_normal((3, 8)) * 2, requires_grad=True),
            gg.tensor(rng.standard_normal((3, 2)), requires_grad=True))


OPS = {"LSTM": (LSTMCellPointwise, _lstm_inputs, (2, 3, 2)),
       "GRU": (GRUCellPointwise, _gru_inputs, (3, 2))}


@pytest.mark.parametrize("kind", sorted(OPS))
def test_op_gradcheck_through_the_kernels(forced, kind):
    op, make_inputs, out_shape = OPS[kind]
    weights = gg.tensor(_normal(out_shape, seed=9))
    with forced() as calls:
        assert gg.gradcheck(lambda *a: (op.apply(*a) * weights).sum(), make_inputs())
    assert calls[f"{kind.lower()}_forward"] > 0 and calls[f"{kind.lower()}_backward"] > 0


@pytest.mark.parametrize("kind", sorted(OPS))
def test_double_backward_after_the_kernel_forward(forced, kind):
    op, make_inputs, out_shape = OPS[kind]
    weights = gg.tensor(_normal(out_shape, seed=9))

    def hessian_vector_products():
        inputs = make_inputs()
        grads = gg.grad((op.apply(*inputs) * weights).sum(), inputs, create_graph=True)
        total = sum((g * gg.tensor(_normal(g.shape, seed=20 + i))).sum()
                    for i, g in enumerate(grads))
        return [g.numpy() for g in gg.grad(total, inputs)]
    want = hessian_vector_products()
    with forced() as calls:
        got = hessian_vector_products()
    assert calls[f"{kind.lower()}_forward"] == 1
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kernels", [False, True])
def test_gru_op_equals_the_composite_and_its_jvp(forced, kernels):
    inputs = _gru_inputs(2)
    tangents = tuple(gg.tensor(_normal(t.shape, seed=10 + i)) for i, t in enumerate(inputs))
    with forced() if kernels else contextlib.nullcontext():
        fused = GRUCellPointwise.apply(*inputs)
        _, fused_tangent = jvp(lambda *a: GRUCellPointwise.apply(*a), inputs, tangents)
    np.testing.assert_allclose(fused.numpy(), _gru_composite(*inputs).numpy(), rtol=1e-14)
    _, reference = jvp(_gru_composite, inputs, tangents)
    np.testing.assert_allclose(fused_tangent.numpy(), reference.numpy(), rtol=1e-12)
    # one input's tangent alone (the others None)
    _, alone = jvp(lambda h: GRUCellPointwise.apply(*inputs[:2], h), (inputs[2],),
                   (tangents[2],))
    _, want = jvp(lambda h: _gru_composite(*inputs[:2], h), (inputs[2],), (tangents[2],))
    np.testing.assert_allclose(alone.numpy(), want.numpy(), rtol=1e-12)


def test_mixed_dtypes_and_numpy_stay_generic(forced):
    gates, c = gg.ones(2, 8), gg.ones(2, 2, dtype=gg.float64)
    LSTMCellPointwise.apply(gates.double(), c)
    assert not forced.calls  # NumPy without forcing: the generic path
    with forced() as calls:
        LSTMCellPointwise.apply(gates, c)  # float32 gates, float64 state
    assert not calls


# ---- (simulated) GPUs ----------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("device", CUDA_DEVICES)
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "GRUCell"])
def test_cuda_recurrent_layers_run_the_kernels_and_match_cpu(forced, device, kind,
                                                             monkeypatch):
    pytest.importorskip("cupy")
    if gg.cuda.is_simulated():
        # Simulated devices take the generic path unless told otherwise; here the kernels
        # run in Numba's simulator on their arrays, through the ops' own dispatch.
        gg.backends.device._load_cupy()
        monkeypatch.setattr(gg.backends.device, "_kernels_ready", True)
    results = {}
    for dev in ("cpu", device):
        gg.manual_seed(0)
        layer = getattr(gg.nn, kind)(3, 4).double().to(dev)
        x = gg.tensor(_normal((4, 2, 3) if kind != "GRUCell" else (2, 3), seed=12),
                      device=dev, requires_grad=True)
        out = layer(x)
        out = out[0] if isinstance(out, tuple) else out
        (out * gg.tensor(_normal(out.shape, seed=13), device=dev)).sum().backward()
        results[dev] = [out.cpu().numpy(), x.grad.cpu().numpy()] + [
            p.grad.cpu().numpy() for p in layer.parameters()]
    prefix = "gru" if kind.startswith("GRU") else "lstm"
    steps = 1 if kind == "GRUCell" else 4
    assert forced.calls[f"{prefix}_forward"] == forced.calls[f"{prefix}_backward"] == steps
    for got, want in zip(results[device], results["cpu"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
