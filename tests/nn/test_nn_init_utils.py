"""nn.init statistics and gains, nn.utils (clipping, vectors, sequences), training."""
import math

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.nn import init
from gpugrad.nn.utils import (clip_grad_norm_, clip_grad_value_, lengths_to_mask,
                              pad_sequence, parameters_to_vector, vector_to_parameters)
from gpugrad.sparse import RowSparseGrad
from nn_testing import host, torch

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


@needs_torch
@pytest.mark.parametrize("args", [("linear",), ("conv2d",), ("sigmoid",), ("tanh",),
                                  ("relu",), ("leaky_relu",), ("leaky_relu", 0.2),
                                  ("selu",)])
def test_calculate_gain_matches_torch(args):
    assert init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args))


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("fn,kwargs,expect_std", [
    (init.kaiming_uniform_, dict(nonlinearity="relu"), math.sqrt(2 / 200)),
    (init.kaiming_normal_, dict(nonlinearity="relu", mode="fan_out"), math.sqrt(2 / 4000)),
    (init.kaiming_uniform_, dict(a=math.sqrt(5)), math.sqrt(1 / 3 / 200)),
    (init.xavier_uniform_, dict(gain=2.0), 2 * math.sqrt(2 / 4200)),
    (init.xavier_normal_, dict(), math.sqrt(2 / 4200)),
])
def test_init_statistics(fn, kwargs, expect_std, device):
    w = fn(gg.empty(400, 20, 10, device=device), **kwargs)  # fan_in 200, fan_out 4000
    values = host(w)
    assert abs(values.mean()) < 0.02 * expect_std
    assert values.std() == pytest.approx(expect_std, rel=0.03)
    if fn in (init.kaiming_uniform_, init.xavier_uniform_):
        assert np.abs(values).max() <= math.sqrt(3) * expect_std * (1 + 1e-6)


def test_basic_fills_and_reproducibility(device):
    w = gg.empty(3, 2, device=device)
    assert host(init.constant_(w, 0.25)).tolist() == [[0.25] * 2] * 3
    assert host(init.zeros_(w)).sum() == 0 and host(init.ones_(w)).sum() == 6
    u = host(init.uniform_(gg.empty(5000, device=device), -2, 3))
    assert u.min() >= -2 and u.max() < 3 and abs(u.mean() - 0.5) < 0.1
    n = host(init.normal_(gg.empty(5000, dtype="float64", device=device), 1.0, 0.5))
    assert abs(n.mean() - 1) < 0.05 and abs(n.std() - 0.5) < 0.05
    gg.manual_seed(7)
    a = host(nn.Linear(4, 3).to(device).weight)
    gg.manual_seed(7)
    assert (host(nn.Linear(4, 3).to(device).weight) == a).all()
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(gg.empty(3))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(gg.empty(3, 3), mode="fan_avg")


def test_layer_default_init_matches_torch_bounds():
    lin = nn.Linear(50, 400)
    bound = 1 / math.sqrt(50)
    assert np.abs(host(lin.weight)).max() <= bound and np.abs(host(lin.bias)).max() <= bound
    assert host(lin.weight).std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    conv = nn.Conv2d(8, 16, 3, groups=2)
    bound = 1 / math.sqrt(4 * 9)
    assert np.abs(host(conv.weight)).max() <= bound and np.abs(host(conv.bias)).max() <= bound


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, device, rng):
    grads = [rng.standard_normal(s) for s in [(3, 4), (5,), (2, 2, 2)]]
    ours = [nn.Parameter(gg.zeros(g.shape, dtype="float64", device=device)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad = gg.tensor(g, device=device)
        q.grad = torch.tensor(g)
    total = clip_grad_norm_(ours, max_norm, norm_type)
    expect = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.item() == pytest.approx(expect.item(), rel=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(host(p.grad), q.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_leaves_small_grads_untouched_and_handles_edge_cases(device):
    p = nn.Parameter(gg.zeros(2, device=device))
    p.grad = gg.tensor([0.3, 0.4], device=device)
    version = p.grad._version_value
    assert clip_grad_norm_(p, 1.0).item() == pytest.approx(0.5)
    assert p.grad._version_value == version  # no in-place scaling below max_norm
    assert clip_grad_norm_([nn.Parameter(gg.zeros(1))], 1.0).item() == 0.0  # no grads
    p.grad = gg.tensor([np.inf, 1.0], device=device)
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


def test_clip_grad_sparse_and_value(device):
    p = nn.Parameter(gg.zeros(4, 1, device=device))
    xp = p._backend.xp
    with p._backend.device_context(p.device):  # the gradient lives on p's device
        p.grad = RowSparseGrad(xp.asarray([1, 1]),
                               xp.asarray([[3.0], [1.0]], dtype=np.float32), (4, 1))
    assert clip_grad_norm_([p], 10.0).item() == pytest.approx(4.0)  # rows summed first
    clip_grad_value_([p], 2.0)
    assert host(p.grad.to_dense()).ravel().tolist() == [0.0, 2.0, 0.0, 0.0]
    q = nn.Parameter(gg.zeros(3, device=device))
    q.grad = gg.tensor([-5.0, 0.5, 9.0], device=device)
    clip_grad_value_(q, 1.0)
    assert host(q.grad).tolist() == [-1.0, 0.5, 1.0]


def test_parameters_vector_round_trip(device):
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1)).to(device)
    vec = parameters_to_vector(net.parameters())
    assert vec.shape == (11,)
    vector_to_parameters(vec * 0 + 1, net.parameters())
    assert all((host(p) == 1).all() for p in net.parameters())
    with pytest.raises(ValueError, match="10 elements but the parameters hold 11"):
        vector_to_parameters(gg.zeros(10, device=device), net.parameters())


def test_pad_sequence_and_masks(device):
    seqs = [gg.tensor([[1.0], [2.0], [3.0]], device=device, requires_grad=True),
            gg.tensor([[4.0]], device=device, requires_grad=True)]
    time_major = pad_sequence(seqs, padding_value=-1.0)
    assert time_major.shape == (3, 2, 1)
    assert host(time_major)[:, 1, 0].tolist() == [4.0, -1.0, -1.0]
    batch = pad_sequence(seqs, batch_first=True)
    assert batch.shape == (2, 3, 1)
    batch.sum().backward()
    assert host(seqs[1].grad).tolist() == [[1.0]]
    mask = lengths_to_mask(gg.tensor([3, 1], device=device))
    assert host(mask).tolist() == [[True, True, True], [True, False, False]]
    assert lengths_to_mask([1], max_len=3).tolist() == [[True, False, False]]
    # Masked mean over a padded batch ignores the padding.
    lengths = gg.tensor([3, 1], device=device)
    m = lengths_to_mask(lengths).unsqueeze(-1)
    mean = (batch * m).sum(1) / lengths.unsqueeze(-1)
    assert host(mean).ravel().tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match="trailing dims"):
        pad_sequence([gg.ones(2, 3), gg.ones(2, 4)])


def test_mlp_learns_xor(device):
    gg.manual_seed(0)
    x = gg.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], device=device)
    y = gg.tensor([0, 1, 1, 0], device=device)
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2)).to(device)
    opt = gg.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(200):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    assert host(net(x).argmax(1)).tolist() == [0, 1, 1, 0]


def test_small_convnet_trains(device, rng):
    gg.manual_seed(0)
    # Two classes: a bright blob in the top-left or in the bottom-right quadrant.
    x = rng.standard_normal((32, 1, 8, 8)).astype(np.float32) * 0.3
    y = np.arange(32) % 2
    x[y == 0, :, :4, :4] += 1.0
    x[y == 1, :, 4:, 4:] += 1.0
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.1),
                        nn.Linear(64, 2)).to(device)
    opt = gg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    xs, ys = gg.tensor(x, device=device), gg.tensor(y, device=device)
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(net(xs), ys)
        loss.backward()
        clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
    net.eval()
    assert (host(net(xs).argmax(1)) == y).mean() == 1.0
