"""Fused SGD / Adam / AdamW kernels against the reference; the reference against torch.optim."""
import numpy as np
import pytest

try:  # installed layout: kernels/ ships as gpugrad.kernels
    from gpugrad.kernels import optim, reference
except ImportError:  # source tree before installation
    from kernels import optim, reference

pytestmark = pytest.mark.kernels

SIZE = 257  # one full block of 256 threads and a one-element tail
STEPS = 3
SGD_CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    dict(lr=0.05, momentum=0.8, nesterov=True),
]
ADAM_CONFIGS = [
    dict(lr=1e-2),
    dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True),
    dict(lr=1e-2, weight_decay=0.1, decoupled=True),
    dict(lr=1e-2, weight_decay=0.1, decoupled=True, amsgrad=True, eps=1e-6),
]


def _grads(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(SIZE).astype(dtype), rng.standard_normal((STEPS, SIZE))


def _sgd_run(update, xp, param, grads, config):
    param = xp.asarray(param.copy())
    buf = xp.zeros_like(param)
    for step, grad in enumerate(grads, start=1):
        update(param, xp.asarray(grad.astype(param.dtype)), buf, step=step, **config)
    return param, buf


def _adam_run(update, xp, param, grads, config):
    param = xp.asarray(param.copy())
    m, v, vmax = xp.zeros_like(param), xp.zeros_like(param), xp.zeros_like(param)
    for step, grad in enumerate(grads, start=1):
        update(param, xp.asarray(grad.astype(param.dtype)), m, v, step,
               max_exp_avg_sq=vmax, **config)
    return param, m, v, vmax


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", SGD_CONFIGS)
def test_sgd_kernel_matches_reference(xp, host, dtype, config):
    param, grads = _grads(dtype)
    got = _sgd_run(optim.sgd_update, xp, param, grads, config)
    want = _sgd_run(reference.sgd_update, np, param, grads, config)
    for g, w in zip(got, want):
        np.testing.assert_allclose(host(g), w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", ADAM_CONFIGS)
def test_adam_kernel_matches_reference(xp, host, dtype, config):
    param, grads = _grads(dtype, seed=1)
    got = _adam_run(optim.adam_update, xp, param, grads, config)
    want = _adam_run(reference.adam_update, np, param, grads, config)
    for g, w in zip(got, want):
        assert g.dtype == dtype
        np.testing.assert_allclose(host(g), w, rtol=1e-5, atol=1e-6)


def test_adamw_wrapper_uses_decoupled_decay(host):
    param, grads = _grads(np.float64)
    got = _adam_run(optim.adamw_update, np, param, grads, dict(lr=0.01))
    want = _adam_run(reference.adam_update, np, param, grads,
                     dict(lr=0.01, weight_decay=1e-2, decoupled=True))
    np.testing.assert_allclose(host(got[0]), want[0], rtol=1e-12)


@pytest.mark.parametrize("config", SGD_CONFIGS)
def test_sgd_reference_matches_torch(config):
    torch = pytest.importorskip("torch")
    param, grads = _grads(np.float64)
    ours, _ = _sgd_run(reference.sgd_update, np, param, grads, config)
    t_param = torch.tensor(param, requires_grad=True)
    opt = torch.optim.SGD([t_param], **config)
    for grad in grads:
        t_param.grad = torch.tensor(grad)
        opt.step()
    np.testing.assert_allclose(ours, t_param.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("config", ADAM_CONFIGS)
def test_adam_reference_matches_torch(config):
    torch = pytest.importorskip("torch")
    param, grads = _grads(np.float64, seed=1)
    ours = _adam_run(reference.adam_update, np, param, grads, config)[0]
    config = dict(config)
    cls = torch.optim.AdamW if config.pop("decoupled", False) else torch.optim.Adam
    t_param = torch.tensor(param, requires_grad=True)
    opt = cls([t_param], **config)
    for grad in grads:
        t_param.grad = torch.tensor(grad)
        opt.step()
    np.testing.assert_allclose(ours, t_param.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_buffers_are_required_when_used():
    with pytest.raises(ValueError):
        optim.sgd_update(np.ones(2), np.ones(2), None, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError):
        optim.adam_update(np.ones(2), np.ones(2), np.zeros(2), np.zeros(2), 1, amsgrad=True)


def test_optional_buffers_may_be_omitted(xp, host):
    param, grads = _grads(np.float64)
    got = xp.asarray(param.copy())
    optim.sgd_update(got, xp.asarray(grads[0]), None, lr=0.1)
    np.testing.assert_allclose(host(got), param - 0.1 * grads[0], rtol=1e-12)
    got, want = xp.asarray(param.copy()), param.copy()
    zeros = [np.zeros(SIZE) for _ in range(4)]
    optim.adam_update(got, xp.asarray(grads[0]), xp.asarray(zeros[0]), xp.asarray(zeros[1]), 1)
    reference.adam_update(want, grads[0], zeros[2], zeros[3], 1)
    np.testing.assert_allclose(host(got), want, rtol=1e-12)
