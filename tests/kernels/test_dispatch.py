"""The kernel branches of the fused ops and optimizers against their generic array code.

On the CPU the branches are forced onto NumPy arrays (the launchers take them under the CUDA
simulator, see conftest.py): each test runs an op once on the generic path and once forced,
checks that the launchers really ran, and compares outputs and gradients. The ``cuda`` tests
at the end run real CuPy tensors through the ops on a GPU.
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.backends import device as device_module
from gpugrad.kernels import (cpu, dropout, embedding, layernorm, optim, reference, softmax,
                             xent)

pytestmark = [
    pytest.mark.kernels,
    # The simulator runs dropout's uint64 hash on NumPy scalars, which warn when they wrap.
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
]

LAUNCHERS = [(softmax, "softmax_forward"), (softmax, "softmax_backward"),
             (xent, "softmax_xent_forward"), (xent, "softmax_xent_backward"),
             (layernorm, "layer_norm_forward"), (layernorm, "layer_norm_backward_input"),
             (embedding, "embedding_backward"), (embedding, "embedding_backward_sparse"),
             (dropout, "dropout_forward"), (cpu, "embedding_backward"),
             (optim, "sgd_update"), (optim, "adam_update")]
TOL = {np.float32: 2e-5, np.float64: 1e-12}
SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"  # set by conftest.py without a GPU


@pytest.fixture
def forced(force_kernels):
    """Context manager: inside it NumPy arrays take the kernel branches. It yields a Counter
    of launcher calls (``"module.name"``); CPU-twin calls are counted outside it too."""
    return force_kernels({f"{module.__name__.split('.')[-1]}.{name}": (module, name)
                          for module, name in LAUNCHERS})


def _run(fn, arrays, seed=1):
    """fn's output and the gradients of its float inputs for a random cotangent (NumPy)."""
    inputs = [gg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out = fn(*inputs)
    cotangent = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    out.backward(gg.tensor(cotangent))
    return [out.numpy()] + [t.grad.numpy() for t in inputs if t.requires_grad]


def _second_order(fn, arrays):
    """Hessian-vector products (double backward) and a jvp (forward mode) of sum(fn * c)."""
    rng = np.random.default_rng(2)
    x = gg.tensor(arrays[0], requires_grad=True)
    rest = [gg.tensor(a) for a in arrays[1:]]
    c = gg.tensor(rng.standard_normal(fn(x, *rest).shape))
    (g,) = gg.grad((fn(x, *rest) * c).sum(), [x], create_graph=True)
    (hv,) = gg.grad((g * gg.tensor(rng.standard_normal(x.shape))).sum(), [x])
    tangent = gg.tensor(rng.standard_normal(x.shape))
    _, jv = gg.func.jvp(lambda t: fn(t, *rest), (x.detach(),), (tangent,))
    return [hv.numpy(), jv.numpy()]


def _check(forced, fn, arrays, launchers, dtype=np.float64, second_order=True):
    want = _run(fn, arrays)
    with forced() as calls:
        got = _run(fn, arrays)
    assert {name: calls[name] for name in launchers} == {name: 1 for name in launchers}
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=TOL[dtype], atol=TOL[dtype])
    if second_order:
        want = _second_order(fn, arrays)
        with forced():
            got = _second_order(fn, arrays)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=TOL[dtype], atol=TOL[dtype])


def _logits(shape, dtype=np.float64, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", [F.softmax, F.log_softmax])
def test_softmax_kernels_match_generic_path(forced, op, dtype):
    _check(forced, lambda x: op(x, dim=-1), [_logits((2, 3, 5), dtype)],
           ["softmax.softmax_forward", "softmax.softmax_backward"], dtype,
           second_order=dtype == np.float64)


def test_softmax_over_other_dims_stays_generic(forced):
    _check(forced, lambda x: F.softmax(x, dim=0), [_logits((3, 4))], [])
    assert not forced.calls


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cross_entropy_kernels_match_generic_path(forced, smoothing, reduction):
    targets = np.array([[1, -100, 4], [0, 2, -100]])  # (N, d1) targets: rows are (N * d1)
    _check(forced, lambda x: F.cross_entropy(x, targets, reduction=reduction,
                                             label_smoothing=smoothing),
           [_logits((2, 5, 3))], ["xent.softmax_xent_forward", "xent.softmax_xent_backward"])


def test_cross_entropy_with_class_weights_stays_generic(forced):
    weight = gg.tensor([0.5, 1.0, 2.0, 1.0])
    _check(forced, lambda x: F.cross_entropy(x, np.array([0, 3, 2]), weight),
           [_logits((3, 4))], [])
    assert not [name for name in forced.calls if name.startswith("xent.")]


@pytest.mark.parametrize("shape, normalized", [((3, 7), (7,)), ((2, 3, 4, 5), (4, 5))])
def test_layer_norm_kernels_match_generic_path(forced, shape, normalized):
    rng = np.random.default_rng(3)
    weight, bias = rng.standard_normal(normalized), rng.standard_normal(normalized)
    _check(forced, lambda x, w, b: F.layer_norm(x, normalized, w, b, eps=1e-3),
           [_logits(shape) + 4, weight, bias],
           ["layernorm.layer_norm_forward", "layernorm.layer_norm_backward_input"])


def test_batch_norm_stays_generic(forced):
    _check(forced, lambda x: F.batch_norm(x, None, None, training=True), [_logits((4, 3, 2))],
           [])
    assert not forced.calls


INDEX = np.array([[1, 3, 1], [0, 3, 3]])  # repeated indices must accumulate


@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_dense_kernel_matches_generic_path(forced, padding_idx):
    # Linear in w, so there is no second derivative (see the double-backward test below).
    _check(forced, lambda w: F.embedding(INDEX, w, padding_idx), [_logits((5, 4))],
           ["embedding.embedding_backward"], second_order=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_cpu_twin_matches_add_at(forced, dtype, padding_idx):
    w = gg.tensor(_logits((5, 4), dtype), requires_grad=True)
    grad = _logits(INDEX.shape + (4,), dtype, seed=1)
    F.embedding(INDEX, w, padding_idx).backward(gg.tensor(grad))
    assert forced.calls["cpu.embedding_backward"] == 1  # the NumPy path uses the twin
    want = reference.embedding_backward(grad, INDEX, 5, padding_idx)  # np.add.at
    np.testing.assert_allclose(w.grad.numpy(), want, rtol=TOL[dtype], atol=TOL[dtype])
    if padding_idx is not None:
        assert not w.grad.numpy()[padding_idx].any()


def test_embedding_double_backward_skips_the_twin(forced):
    w = gg.tensor(_logits((5, 4)), requires_grad=True)
    (g,) = gg.grad((F.embedding(INDEX, w) ** 2).sum(), [w], create_graph=True)
    assert not forced.calls  # differentiable Tensor ops, not the constant scatter
    (second,) = gg.grad(g.sum(), [w])
    counts = reference.embedding_backward(np.ones(INDEX.shape + (4,)), INDEX, 5)
    np.testing.assert_allclose(second.numpy(), 2 * counts)


@pytest.mark.parametrize("padding_idx", [None, 3])
def test_sparse_embedding_kernel_matches_generic_path(forced, padding_idx):
    def sparse_grad():
        emb = gg.nn.Embedding.from_pretrained(gg.tensor(_logits((6, 3))), freeze=False,
                                              padding_idx=padding_idx, sparse=True)
        (emb(gg.tensor(INDEX)) ** 2).sum().backward()
        return emb.weight.grad
    want = sparse_grad()
    with forced() as calls:
        got = sparse_grad()
    assert calls["embedding.embedding_backward_sparse"] == 1
    assert sorted(got.indices.tolist()) == got.indices.tolist()  # coalesced by the kernel
    np.testing.assert_allclose(got.to_dense().numpy(), want.to_dense().numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_kernel_draws_the_generic_mask(forced, dtype):
    def run():
        gg.manual_seed(7)
        return _run(lambda x: F.dropout(x, 0.4), [_logits((3, 50), dtype)])
    want = run()
    with forced() as calls:
        got = run()
    assert calls["dropout.dropout_forward"] == 2  # backward redraws the mask
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert 0 < (got[0] == 0).mean() < 1


def test_dropout_second_order(forced):
    def fn(x):
        gg.manual_seed(7)
        return F.dropout(x * x, 0.5)
    want = _second_order(fn, [_logits((4, 5))])
    with forced() as calls:
        got = _second_order(fn, [_logits((4, 5))])
    assert calls["dropout.dropout_forward"] > 0
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


# -- optimizers ----------------------------------------------------------------------------

STEPS = 20
SGD_CONFIGS = [dict(lr=0.1), dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
               dict(lr=0.05, momentum=0.8, nesterov=True), dict(lr=0.1, momentum=0.5,
                                                                maximize=True)]
ADAM_CONFIGS = [(gg.optim.Adam, dict(lr=1e-2)),
                (gg.optim.Adam, dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1,
                                     amsgrad=True)),
                (gg.optim.AdamW, dict(lr=1e-2, weight_decay=0.1)),
                (gg.optim.AdamW, dict(lr=1e-2, amsgrad=True, eps=1e-6, maximize=True))]


def _train(make_optimizer, dtype):
    """Parameters and optimizer state after STEPS steps on fixed random gradients."""
    rng = np.random.default_rng(4)
    params = [gg.nn.Parameter(gg.tensor(rng.standard_normal((3, 4)).astype(dtype)))]
    opt = make_optimizer(params)
    for _ in range(STEPS):
        for p in params:
            p.grad = gg.tensor(rng.standard_normal(p.shape).astype(dtype))
        opt.step()
    state = [v.numpy() for entry in opt.state.values() for v in entry.values()
             if isinstance(v, gg.Tensor)]
    return [p.numpy() for p in params] + state


def _check_optimizer(forced, make_optimizer, dtype, launcher):
    want = _train(make_optimizer, dtype)
    with forced() as calls:
        got = _train(make_optimizer, dtype)
    assert calls[launcher] == STEPS
    for g, w in zip(got, want, strict=True):
        if dtype == np.float64 and SIMULATED:
            np.testing.assert_array_equal(g, w)  # same roundings in the same order
        else:
            # The simulator runs math.sqrt in double precision, the array code in float32;
            # a GPU may contract a * b + c into one FMA.
            np.testing.assert_allclose(g, w, rtol=TOL[dtype] / 2, atol=TOL[dtype] / 2)


@pytest.mark.parametrize("config", SGD_CONFIGS)
def test_sgd_kernel_matches_array_code(forced, config):
    _check_optimizer(forced, lambda ps: gg.optim.SGD(ps, **config), np.float64,
                     "optim.sgd_update")


@pytest.mark.parametrize("cls, config", ADAM_CONFIGS)
def test_adam_kernel_matches_array_code(forced, cls, config):
    _check_optimizer(forced, lambda ps: cls(ps, **config), np.float64, "optim.adam_update")


@pytest.mark.parametrize("make, launcher", [
    (lambda ps: gg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
     "optim.sgd_update"),
    (lambda ps: gg.optim.AdamW(ps, lr=1e-2, amsgrad=True), "optim.adam_update")],
    ids=["sgd", "adamw"])
def test_optimizer_kernels_in_float32(forced, make, launcher):
    _check_optimizer(forced, make, np.float32, launcher)


def test_non_contiguous_parameters_stay_generic(forced):
    p = gg.nn.Parameter(gg.tensor(_logits((4, 3))).array.T)
    assert not p.array.flags.c_contiguous
    opt = gg.optim.Adam([p], lr=0.1)
    p.grad = gg.ones(3, 4)
    with forced() as calls:
        opt.step()
    assert not calls


# -- the CUDA backend's start ----------------------------------------------------------------

@pytest.fixture
def fake_cupy(monkeypatch):
    """A stand-in ``cupy`` with one GPU, and a CUDA backend that has not started yet."""
    module = type(sys)("cupy")
    module.ndarray = type("ndarray", (), {})
    module.cuda = type(sys)("cupy.cuda")
    module.cuda.runtime = type(sys)("cupy.cuda.runtime")
    module.cuda.runtime.getDeviceCount = lambda: 1
    monkeypatch.setitem(sys.modules, "cupy", module)
    monkeypatch.setattr(device_module, "_cupy_backend", None)
    monkeypatch.setattr(device_module, "_kernels_ready", False)
    return module


def test_backend_start_installs_the_memory_manager(fake_cupy, monkeypatch):
    from numba import cuda as numba_cuda
    from numba.core import config
    from gpugrad.kernels import _emm
    installed = []
    monkeypatch.setattr(config, "ENABLE_CUDASIM", 0)
    monkeypatch.setattr(_emm, "install", lambda: installed.append(True))
    monkeypatch.setattr(numba_cuda, "is_available", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        device_module._load_cupy()
    assert installed and device_module._kernels_ready
    assert gg.cuda.use_kernels(fake_cupy, np.ones(2, np.float32))
    assert not gg.cuda.use_kernels(fake_cupy, np.ones(2, np.float16))
    assert not gg.cuda.use_kernels(np, np.ones(2, np.float32))


def test_without_numba_cuda_gpu_ops_take_the_generic_path(fake_cupy, monkeypatch):
    import numba
    monkeypatch.delattr(numba, "cuda", raising=False)
    monkeypatch.setitem(sys.modules, "numba.cuda", None)  # import numba.cuda now fails
    with pytest.warns(RuntimeWarning, match="without the fused kernels.*not installed"):
        device_module._load_cupy()
    assert device_module._cupy_backend is not None and not device_module._kernels_ready
    assert not gg.cuda.use_kernels(fake_cupy, np.ones(2, np.float32))


@pytest.mark.skipif(not SIMULATED, reason="checks the refusal of the CUDA simulator")
def test_simulator_is_never_used_for_cupy_arrays(fake_cupy):
    with pytest.warns(RuntimeWarning, match="NUMBA_ENABLE_CUDASIM"):
        device_module._load_cupy()
    assert not device_module._kernels_ready


def test_numba_compiles_lazily():
    code = ("import sys, numpy as np, gpugrad as gg, gpugrad.nn.functional as F\n"
            "assert 'numba' not in sys.modules\n"
            "w = gg.ones(4, 2, requires_grad=True)\n"
            "F.embedding(gg.tensor([1, 1]), w).sum().backward()\n"
            "assert 'numba' in sys.modules and w.grad.numpy()[1].tolist() == [2.0, 2.0]\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# -- real GPU ------------------------------------------------------------------------------

CUDA_CASES = {
    "softmax": (lambda x, t: F.softmax(x, dim=-1), "softmax.softmax_backward"),
    "log_softmax": (lambda x, t: F.log_softmax(x, dim=-1), "softmax.softmax_backward"),
    "cross_entropy": (lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
                      "xent.softmax_xent_backward"),
    "layer_norm": (lambda x, t: F.layer_norm(x, (x.shape[-1],)),
                   "layernorm.layer_norm_backward_input"),
    "embedding": (lambda x, t: F.embedding(t, x), "embedding.embedding_backward"),
    "dropout": (lambda x, t: F.dropout(x, 0.3), "dropout.dropout_forward"),
}


@pytest.mark.cuda
@pytest.mark.parametrize("name", sorted(CUDA_CASES))
def test_cuda_ops_run_kernels_and_match_cpu(forced, name, monkeypatch):
    pytest.importorskip("cupy")
    if gg.cuda.is_simulated():
        # Simulated devices take the generic path unless told otherwise; here the kernels
        # run in Numba's simulator on their arrays, through the ops' own dispatch.
        gg.backends.device._load_cupy()  # starts the backend, which decides the flag once
        monkeypatch.setattr(gg.backends.device, "_kernels_ready", True)
    fn, launcher = CUDA_CASES[name]
    assert gg.cuda.kernels_available()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 33)).astype(np.float32)
    t = rng.integers(0, 33, 64)
    results = {}
    for device in ["cpu", "cuda"]:
        gg.manual_seed(1)  # dropout draws the same mask on both devices
        xt = gg.tensor(x, device=device, requires_grad=True)
        out = fn(xt, gg.tensor(t, device=device))
        (out * gg.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape).astype(
            np.float32), device=device)).sum().backward()
        results[device] = (out.cpu().numpy(), xt.grad.cpu().numpy())
    assert forced.calls[launcher] >= 1  # counted outside ``forced()``: the real GPU path
    for got, want in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.cuda
def test_cuda_ops_queue_on_the_current_stream_without_device_sync(monkeypatch):
    cupy = pytest.importorskip("cupy")

    def no_device_sync():
        raise AssertionError("a fused op synchronised the device")
    x = np.random.default_rng(6).standard_normal((256, 1000)).astype(np.float32)
    t = np.random.default_rng(7).integers(0, 1000, 256)
    stream = cupy.cuda.Stream(non_blocking=True)
    with monkeypatch.context() as patch, stream:
        patch.setattr(cupy.cuda.runtime, "deviceSynchronize", no_device_sync)
        xt = gg.tensor(x, device="cuda", requires_grad=True)
        loss = F.cross_entropy(F.layer_norm(xt, (1000,)), gg.tensor(t, device="cuda"))
        loss.backward()
        grad = xt.grad.array
    stream.synchronize()
    xc = gg.tensor(x, requires_grad=True)
    F.cross_entropy(F.layer_norm(xc, (1000,)), gg.tensor(t)).backward()
    np.testing.assert_allclose(grad.get(), xc.grad.numpy(), rtol=1e-3, atol=1e-6)


@pytest.mark.cuda
def test_cuda_optimizer_kernels_match_cpu():
    pytest.importorskip("cupy")
    for make in [lambda ps: gg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                 lambda ps: gg.optim.AdamW(ps, lr=1e-2, amsgrad=True)]:
        results = []
        for device in ["cpu", "cuda"]:
            p = gg.nn.Parameter(gg.tensor(np.linspace(-1, 1, 300), device=device))
            opt = make([p])
            for step in range(STEPS):
                p.grad = gg.tensor(np.sin(np.arange(300) * (step + 1.0)), device=device)
                opt.step()
            results.append(p.cpu().numpy())
        np.testing.assert_allclose(results[1], results[0], rtol=1e-10, atol=1e-12)


@pytest.mark.cuda
@pytest.mark.gpu_hardware("Numba's memory manager on a real CUDA context")
def test_cuda_memory_stats_count_numba_allocations():
    pytest.importorskip("cupy")
    # The memory manager must be installed before Numba's first context: a fresh process.
    code = """
import numpy as np
import gpugrad as gg
from numba import cuda
gg.ones(1, device="cuda")  # starts the backend, which installs the memory manager
before = gg.cuda.memory_stats()["used_bytes"]
array = cuda.device_array(1 << 20, dtype=np.uint8)
assert gg.cuda.memory_stats()["used_bytes"] >= before + (1 << 20)
"""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_selftest_launcher_cases_pass_here():
    # What ``gpugrad-selftest`` runs on a GPU, on NumPy arrays (the simulator, small sizes).
    from gpugrad import selftest
    for name, fused, ref, tol in selftest._launcher_cases(np, rows=5, cols=9):
        assert selftest._max_error(fused(), ref()) <= tol, name
