"""The Numba ``prange`` loops of relu (``kernels/_cpu_relu.py``) and im2col
(``kernels/_cpu_fold.py``) against the NumPy paths they replace on the CPU: equal bit for bit
(relu's gradient as values: where the NumPy path's ``g * mask`` gives -0.0 the loop gives
+0.0, as ``where`` and PyTorch do), at 1 and 2 threads; and through the public ops, against
PyTorch and gradcheck.

``PARALLEL_MIN`` is lowered to 1 so that CI-sized arrays take the loops.
"""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad import threads
from gpugrad.kernels import _cpu_fold, _cpu_relu
from gpugrad.nn.functional import conv

DTYPES = [np.float32, np.float64]
BITS = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


@pytest.fixture
def loops(monkeypatch):
    """Every float array takes the loops; restores the thread count afterwards."""
    monkeypatch.setattr(threads, "PARALLEL_MIN", 1)
    before = gg.get_num_threads()
    yield
    gg.set_num_threads(before)


@pytest.fixture
def calls(monkeypatch):
    """Counts the loop launches by name, so a test knows the loop ran."""
    counted = {}
    for module, name in [(_cpu_relu, "relu"), (_cpu_relu, "relu_backward"),
                         (_cpu_fold, "im2col")]:
        def spy(*args, _kernel=getattr(module, name), _name=name):
            counted[_name] = counted.get(_name, 0) + 1
            return _kernel(*args)
        monkeypatch.setattr(module, name, spy)
    return counted


def _same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.view(BITS[a.dtype]), b.view(BITS[b.dtype]))


def _special(rng, shape, dtype):
    """Random values with ties, zeros of both signs, infinities and NaNs mixed in."""
    x = rng.standard_normal(shape).round(1).astype(dtype)
    flat = x.reshape(-1)
    picks = rng.choice(flat.size, size=min(flat.size, 12), replace=False)
    flat[picks] = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 0.5] * 2, dtype)[:picks.size]
    return x


def _no_loops(monkeypatch):
    monkeypatch.setattr(threads, "PARALLEL_MIN", 1 << 62)


# ---- relu -------------------------------------------------------------------------------

@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_loops_equal_numpy_bit_for_bit(dtype, n_threads, loops, rng):
    gg.set_num_threads(n_threads)
    x = _special(rng, (5, 7, 11), dtype)
    out = np.empty_like(x)
    _cpu_relu.relu(x.reshape(-1), out.reshape(-1))
    _same_bits(out, np.maximum(x, 0))
    g = _special(rng, x.shape, dtype)
    grad = np.empty_like(g)
    _cpu_relu.relu_backward(g.reshape(-1), out.reshape(-1), grad.reshape(-1))
    _same_bits(grad, np.where(out > 0, g, dtype(0)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_op_takes_the_loops_and_equals_its_numpy_path(dtype, loops, calls, monkeypatch,
                                                           rng):
    x0 = rng.standard_normal((4, 6, 9)).astype(dtype)
    g0 = rng.standard_normal(x0.shape).astype(dtype)

    def run():
        x = gg.from_numpy(x0.copy()).requires_grad_()
        out = gg.relu(x)
        out.backward(gg.from_numpy(g0))
        return out.numpy(), x.grad.numpy()

    fast = run()
    assert calls == {"relu": 1, "relu_backward": 1}
    _no_loops(monkeypatch)
    slow = run()
    _same_bits(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])


def test_relu_loops_skip_small_integer_and_strided_arrays(calls):
    gg.relu(gg.ones(8, requires_grad=True)).sum().backward()  # below PARALLEL_MIN
    big = gg.ones(threads.PARALLEL_MIN, dtype=gg.int64)
    gg.relu(big)
    gg.relu(gg.ones(2, threads.PARALLEL_MIN).t())  # not C-contiguous
    assert calls == {}


def test_relu_through_the_loops_matches_torch_and_gradchecks(device, loops, rng):
    torch = pytest.importorskip("torch")
    x0 = rng.standard_normal((3, 4, 5))
    x0[0, 0, :2] = 0.0  # the kink: subgradient 0 at 0, as PyTorch
    g0 = rng.standard_normal(x0.shape)
    x = gg.tensor(x0, device=device, requires_grad=True)
    out = F.relu(x)
    out.backward(gg.tensor(g0, device=device))
    tx = torch.tensor(x0, requires_grad=True)
    tout = torch.relu(tx)
    tout.backward(torch.tensor(g0))
    np.testing.assert_allclose(out.cpu().numpy(), tout.detach().numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.numpy(), rtol=0, atol=0)
    away = gg.tensor(x0 + np.sign(x0) * 0.5 + (x0 == 0), device=device, requires_grad=True)
    assert gg.gradcheck(F.relu, (away,))


# ---- im2col -----------------------------------------------------------------------------

GEOMETRIES = [  # (kernel, dilation, padding, stride), image size
    (((3, 3), (1, 1), (0, 0), (1, 1)), (9, 9)),  # the convnet's
    (((3, 2), (2, 3), (0, 0), (2, 1)), (12, 10)),  # dilated, row stride: still rows only
    (((3, 3), (2, 1), (1, 2), (2, 1)), (11, 9)),
    (((2, 3), (1, 1), (1, 0), (2, 3)), (8, 10)),
    (((1, 1), (1, 1), (0, 0), (1, 1)), (4, 5)),
    (((3, 2), (1, 2), (2, 1), (1, 2)), (5, 6)),  # padding wider than the dilated reach
]


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry, hw", GEOMETRIES)
def test_im2col_loop_equals_the_numpy_path(geometry, hw, dtype, n_threads, loops, calls,
                                           monkeypatch, rng):
    gg.set_num_threads(n_threads)
    x = _special(rng, (3, 2) + hw, dtype)
    out_hw = conv._out_size("unfold", hw, geometry)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    taken = conv._im2col(np, x, geometry, out_hw)
    # The loop takes convolutions without padding and with column stride 1 only (measured).
    loop = ph == pw == 0 and sw == 1
    assert calls == ({"im2col": 1} if loop else {})
    _no_loops(monkeypatch)
    slow = conv._im2col(np, x, geometry, out_hw)
    _same_bits(taken, slow)
    assert not np.shares_memory(taken, x)
    if loop:
        direct = np.empty((3, 2, kh, kw) + out_hw, dtype)
        _cpu_fold.im2col(x, direct, dh, dw, sh)
        _same_bits(direct.reshape(slow.shape), slow)


@pytest.mark.parametrize("padding", [0, 1])
def test_conv2d_through_the_loops_matches_torch_and_gradchecks(padding, device, loops, rng):
    torch = pytest.importorskip("torch")
    x0, w0, b0 = (rng.standard_normal(s) for s in [(2, 3, 6, 5), (4, 3, 3, 2), (4,)])
    x, w, b = (gg.tensor(a, device=device, requires_grad=True) for a in (x0, w0, b0))
    out = F.conv2d(x, w, b, padding=padding, stride=(2, 1))
    g0 = rng.standard_normal(out.shape)
    out.backward(gg.tensor(g0, device=device))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x0, w0, b0))
    tout = torch.nn.functional.conv2d(tx, tw, tb, padding=padding, stride=(2, 1))
    tout.backward(torch.tensor(g0))
    for mine, theirs in [(out, tout), (x.grad, tx.grad), (w.grad, tw.grad), (b.grad, tb.grad)]:
        np.testing.assert_allclose(mine.cpu().numpy(), theirs.detach().numpy(), rtol=1e-10,
                                   atol=1e-10)
    assert gg.gradcheck(lambda t, u: F.conv2d(t, u, padding=padding), (x, w))


def test_unfold_loop_skips_small_and_strided_inputs(calls):
    F.unfold(gg.ones(1, 1, 4, 4), 2)  # below PARALLEL_MIN
    F.unfold(gg.ones(1, 1, 512, 512).transpose(2, 3), 2)  # not C-contiguous
    assert calls == {}
