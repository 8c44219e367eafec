"""The one-pass Numba SGD loop on NumPy parameters equals the NumPy array path bit for bit
and PyTorch's SGD, for every option."""
import itertools

import numpy as np
import pytest
import torch

import gpugrad as gg
from gpugrad.optim import sgd as sgd_module
from gpugrad.optim.sgd import sgd

OPTIONS = [dict(momentum=m, dampening=d, nesterov=n, weight_decay=wd, maximize=mx)
           for m, d, n, wd, mx in itertools.product((0.0, 0.9), (0.0, 0.3), (False, True),
                                                    (0.0, 0.01), (False, True))
           if not (n and (m == 0 or d != 0))]


def _arrays(dtype, size=5000, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(size).astype(dtype)
    grads = [rng.standard_normal(size).astype(dtype) for _ in range(3)]
    grads[1][:4] = [np.nan, np.inf, -np.inf, -0.0]  # travel through both paths alike
    return p, grads


def _same_bits(a, b):
    """Equal bit for bit, except a NaN's sign, which the compiler may flip (NaN signs carry
    no meaning; PyTorch makes no promise about them either)."""
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    keep = ~np.isnan(a)
    np.testing.assert_array_equal(a[keep].view(np.uint8), b[keep].view(np.uint8))


def _run(p, grads, options, loop):
    p = p.copy()
    bufs = [None]
    size = 0 if loop else 1 << 62
    with pytest.MonkeyPatch.context() as patch, np.errstate(invalid="ignore"):
        patch.setattr(sgd_module, "CPU_LOOP_SIZE", size)
        for g in grads:
            sgd([p], [g], bufs, lr=0.1, **options)
    return p, bufs[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(
    f"{k}={v}" for k, v in o.items() if v))
def test_the_loop_equals_the_array_path_bit_for_bit(options, dtype):
    p, grads = _arrays(dtype)
    got, got_buf = _run(p, grads, options, loop=True)
    want, want_buf = _run(p, grads, options, loop=False)
    _same_bits(got, want)
    if options["momentum"]:
        _same_bits(got_buf, want_buf)
    else:
        assert got_buf is None and want_buf is None


def test_the_parallel_loop_equals_the_serial_one(monkeypatch):
    from kernels import _cpu_optim
    p, grads = _arrays(np.float32, size=20000)
    options = dict(momentum=0.9, dampening=0.1, weight_decay=0.01)
    monkeypatch.setattr(_cpu_optim, "PARALLEL_SIZE", 1 << 62)
    serial, _ = _run(p, grads, options, loop=True)
    monkeypatch.setattr(_cpu_optim, "PARALLEL_SIZE", 1)
    parallel, _ = _run(p, grads, options, loop=True)
    np.testing.assert_array_equal(serial, parallel)


@pytest.mark.parametrize("options", [dict(momentum=0.9, nesterov=True, weight_decay=0.01),
                                     dict(momentum=0.5, dampening=0.2, maximize=True)])
def test_sgd_on_large_parameters_matches_torch(options):
    rng = np.random.default_rng(1)
    start = rng.standard_normal((80, 70))
    ours = gg.nn.Parameter(gg.tensor(start))
    theirs = torch.nn.Parameter(torch.tensor(start))
    opt = gg.optim.SGD([ours], lr=0.05, **options)
    topt = torch.optim.SGD([theirs], lr=0.05, **options)
    for _ in range(4):
        g = rng.standard_normal(start.shape)
        ours.grad, theirs.grad = gg.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_non_contiguous_or_mixed_arrays_take_the_array_path():
    from kernels import _cpu_optim
    p = np.zeros((100, 50), np.float32)
    assert _cpu_optim.takes(p, np.zeros_like(p))
    assert not _cpu_optim.takes(p, np.zeros((50, 100), np.float32).T)
    assert not _cpu_optim.takes(p, np.zeros_like(p, dtype=np.float64))
    assert not _cpu_optim.takes(p.astype(np.float16), np.zeros_like(p, dtype=np.float16))
