"""The activations, norms, containers and losses added after the first release, against
PyTorch in float64 (forward, input and parameter gradients, state_dict keys, reprs, errors)
and by float64 gradcheck, kinks included."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F

X = np.array([-25.0, -6.0, -3.0, -1.5, -1.0, -0.3, 0.0, 0.4, 1.0, 2.5, 3.0, 6.0, 7.0, 30.0])

ACTIVATIONS = [("silu", {}), ("elu", {"alpha": 1.3}), ("selu", {}), ("celu", {"alpha": 0.5}),
               ("softplus", {}), ("softplus", {"beta": 2.0, "threshold": 5.0}),
               ("logsigmoid", {}), ("mish", {}), ("hardtanh", {"min_val": -1.0, "max_val": 2.5}),
               ("relu6", {}), ("hardswish", {}), ("hardsigmoid", {}), ("softsign", {}),
               ("tanhshrink", {})]


def _torch():
    return pytest.importorskip("torch")


def _close(got, want, tol=1e-10):
    want = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    np.testing.assert_allclose(np.asarray(got.cpu().numpy() if isinstance(got, gg.Tensor) else got),
                               want, rtol=tol, atol=tol)


def _compare(t_fn, g_fn, *arrays, seed=0, tol=1e-10, device="cpu"):
    """Forward values and input gradients of a random weighting of the output."""
    torch = _torch()
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    gs = [gg.tensor(a, requires_grad=True, device=device) for a in arrays]
    yt, yg = t_fn(*ts), g_fn(*gs)
    _close(yg, yt)
    w = np.random.default_rng(seed).standard_normal(tuple(yt.shape))
    (yt * torch.tensor(w)).sum().backward()
    (yg * gg.tensor(w, device=device)).sum().backward()
    for t, g in zip(ts, gs):
        _close(g.grad, t.grad, tol)


@pytest.mark.parametrize("name, kwargs", ACTIVATIONS)
def test_activation_matches_torch_with_kinks(name, kwargs, device):
    torch = _torch()
    _compare(lambda x: getattr(torch.nn.functional, name)(x, **kwargs),
             lambda x: getattr(F, name)(x, **kwargs), X, device=device,
             tol=1e-7 if name == "hardsigmoid" else 1e-10)  # torch: a float32 1/6 slope


@pytest.mark.parametrize("name, kwargs", ACTIVATIONS)
def test_activation_gradcheck(name, kwargs, device):
    x = gg.tensor([-2.2, -0.7, 0.3, 1.1, 2.6], dtype=gg.float64, requires_grad=True,
                  device=device)
    assert gg.gradcheck(lambda t: getattr(F, name)(t, **kwargs), (x,))


def test_kink_gradients_pinned():
    x = gg.tensor([0.0, 6.0, -1.0, 1.0], dtype=gg.float64, requires_grad=True)
    F.relu6(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 1.0]
    x.grad = None
    F.hardtanh(x).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 0.0, 0.0]
    y = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    F.softplus(y, beta=10.0, threshold=15.0).sum().backward()  # 10 * 2 > 15: linear branch
    assert y.grad.tolist()[1] == 1.0
    assert gg.gradcheck(lambda t: F.softplus(t, 10.0, 15.0),
                        (gg.tensor([1.4, 1.6], dtype=gg.float64, requires_grad=True),))


def test_softplus_and_logsigmoid_stay_finite():
    x = gg.tensor([-1000.0, 1000.0], dtype=gg.float64)
    assert F.softplus(x, threshold=1e9).tolist() == [0.0, 1000.0]
    assert F.logsigmoid(x).tolist() == [-1000.0, 0.0]


def _pair(build, torch):
    torch.manual_seed(0)  # the weights both models get
    t_model, g_model = build(torch.nn).double(), build(gg.nn).double()
    assert list(g_model.state_dict()) == list(t_model.state_dict())
    g_model.load_state_dict({k: v.detach().numpy() for k, v in t_model.state_dict().items()})
    assert repr(g_model) == repr(t_model)
    return t_model, g_model


LAYERS = [
    (lambda nn: nn.PReLU(3, init=0.1), (2, 3, 4)),
    (lambda nn: nn.PReLU(), (5,)),
    (lambda nn: nn.GLU(1), (2, 4, 3)),
    (lambda nn: nn.GroupNorm(2, 4), (3, 4, 5)),
    (lambda nn: nn.GroupNorm(1, 4, affine=False), (3, 4, 2, 2)),
    (lambda nn: nn.InstanceNorm1d(3), (2, 3, 5)),
    (lambda nn: nn.InstanceNorm1d(3, affine=True, track_running_stats=True), (2, 3, 5)),
    (lambda nn: nn.InstanceNorm2d(3, affine=True), (2, 3, 4, 4)),
    (lambda nn: nn.InstanceNorm2d(3), (3, 4, 4)),
    (lambda nn: nn.RMSNorm(4), (3, 4)),
    (lambda nn: nn.RMSNorm((2, 3), eps=1e-3, elementwise_affine=False), (4, 2, 3)),
    (lambda nn: nn.ZeroPad2d((1, 2, 0, 3)), (1, 2, 3, 3)),
    (lambda nn: nn.Unflatten(1, (2, 3)), (4, 6)),
    (lambda nn: nn.Sequential(nn.Linear(3, 3), nn.SiLU(), nn.ELU(0.5), nn.SELU(), nn.CELU(),
                              nn.Softplus(2.0, 4.0), nn.Mish(), nn.Hardtanh(-0.5, 0.5),
                              nn.ReLU6(), nn.Hardswish(), nn.Hardsigmoid(), nn.LogSigmoid(),
                              nn.Softsign(), nn.Tanhshrink()), (4, 3)),
]


@pytest.mark.parametrize("build, shape", LAYERS)
def test_layer_matches_torch(build, shape, device):
    torch = _torch()
    t_model, g_model = _pair(build, torch)
    g_model.to(device)
    x = np.random.default_rng(1).standard_normal(shape) * 2
    xt = torch.tensor(x, requires_grad=True)
    xg = gg.tensor(x, requires_grad=True, device=device)
    yt, yg = t_model(xt), g_model(xg)
    _close(yg, yt)
    w = np.random.default_rng(2).standard_normal(tuple(yt.shape))
    (yt * torch.tensor(w)).sum().backward()
    (yg * gg.tensor(w, device=device)).sum().backward()
    # torch's Hardsigmoid slope is a float32 1/6, even in float64 (see the activation test)
    tol = 1e-7 if "Hardsigmoid" in repr(t_model) else 1e-10
    _close(xg.grad, xt.grad, tol)
    for (n, pt), (m, pg) in zip(t_model.named_parameters(), g_model.named_parameters()):
        assert n == m
        _close(pg.grad, pt.grad, tol)
    for (n, bt), (m, bg) in zip(t_model.named_buffers(), g_model.named_buffers()):
        _close(bg, bt)


def test_instance_norm_eval_uses_running_stats():
    torch = _torch()
    t_model, g_model = _pair(lambda nn: nn.InstanceNorm1d(3, track_running_stats=True), torch)
    x = np.random.default_rng(3).standard_normal((2, 3, 6))
    t_model(torch.tensor(x)), g_model(gg.tensor(x))
    t_model.eval(), g_model.eval()
    _close(g_model(gg.tensor(x)), t_model(torch.tensor(x)))


def test_bilinear_matches_torch():
    torch = _torch()
    t_model, g_model = _pair(lambda nn: nn.Bilinear(3, 4, 5), torch)
    rng = np.random.default_rng(4)
    _compare(t_model, g_model, rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 6, 4)))
    for pt, pg in zip(t_model.parameters(), g_model.parameters()):
        _close(pg.grad, pt.grad)


def test_parameter_containers_like_torch():
    torch = _torch()

    def build(nn):
        m = nn.Module()
        m.plist = nn.ParameterList([nn.Parameter(torch.ones(2, 3) if nn is torch.nn
                                                 else gg.ones(2, 3))])
        m.pdict = nn.ParameterDict({"b": nn.Parameter(torch.zeros(2) if nn is torch.nn
                                                      else gg.zeros(2))})
        return m

    t_model, g_model = build(torch.nn), build(gg.nn)
    assert list(g_model.state_dict()) == list(t_model.state_dict())
    g_model.plist.append(gg.ones(1))
    g_model.pdict["c"] = gg.ones(1)
    assert isinstance(g_model.plist[1], gg.nn.Parameter) and "c" in g_model.pdict
    assert [n for n, _ in g_model.named_parameters()] == ["plist.0", "plist.1", "pdict.b",
                                                          "pdict.c"]


@pytest.mark.parametrize("kwargs", [{}, {"p": 1.0, "dim": 0}, {"p": 3.0, "eps": 0.5}])
def test_normalize_matches_torch(kwargs):
    torch = _torch()
    x = np.random.default_rng(5).standard_normal((3, 4))
    x[1] = 0.0
    _compare(lambda t: torch.nn.functional.normalize(t, **kwargs),
             lambda t: F.normalize(t, **kwargs), x)


@pytest.mark.parametrize("kwargs", [{}, {"p": 1.0, "keepdim": True}, {"eps": 0.0, "p": 3.0}])
def test_pairwise_distance_matches_torch(kwargs):
    torch = _torch()
    rng = np.random.default_rng(6)
    _compare(lambda a, b: torch.nn.functional.pairwise_distance(a, b, **kwargs),
             lambda a, b: F.pairwise_distance(a, b, **kwargs),
             rng.standard_normal((4, 3)), rng.standard_normal((1, 3)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_margin_ranking_loss_matches_torch(reduction):
    torch = _torch()
    rng = np.random.default_rng(7)
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    _compare(lambda a, b: torch.nn.MarginRankingLoss(0.3, reduction=reduction)(a, b,
                                                                                torch.tensor(y)),
             lambda a, b: gg.nn.MarginRankingLoss(0.3, reduction=reduction)(a, b,
                                                                              gg.tensor(y)),
             rng.standard_normal(5), rng.standard_normal(5))


@pytest.mark.parametrize("kwargs", [{}, {"swap": True, "p": 1.0, "reduction": "sum"},
                                    {"margin": 0.2, "reduction": "none"}])
def test_triplet_margin_loss_matches_torch(kwargs):
    torch = _torch()
    rng = np.random.default_rng(8)
    _compare(lambda a, p, n: torch.nn.TripletMarginLoss(**kwargs)(a, p, n),
             lambda a, p, n: gg.nn.TripletMarginLoss(**kwargs)(a, p, n),
             *(rng.standard_normal((6, 3)) for _ in range(3)))


@pytest.mark.parametrize("fn, shapes", [
    (lambda x: F.glu(x, 0), [(4, 2)]),
    (lambda x, w: F.prelu(x, w), [(2, 3), (3,)]),
    (lambda x, w, b: F.group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)]),
    (lambda x: F.instance_norm(x), [(2, 2, 3)]),
    (lambda x, w: F.rms_norm(x, (3,), w), [(2, 3), (3,)]),
    (lambda x: F.normalize(x), [(2, 3)]),
    (lambda a, b: F.pairwise_distance(a, b), [(2, 3), (2, 3)]),
    (lambda a, b, w, c: F.bilinear(a, b, w, c), [(2, 2), (2, 3), (2, 2, 3), (2,)]),
    (lambda a, p, n: F.triplet_margin_loss(a, p, n, swap=True), [(3, 2)] * 3),
    (lambda a, b: F.margin_ranking_loss(a, b, gg.tensor([1.0, -1.0, 1.0], device=a.device),
                                        0.1), [(3,)] * 2),
])
def test_new_functions_gradcheck(fn, shapes, device):
    rng = np.random.default_rng(9)
    inputs = [gg.tensor(rng.standard_normal(s) + 0.1, requires_grad=True, device=device)
              for s in shapes]
    assert gg.gradcheck(fn, tuple(inputs))


def test_one_hot_matches_torch():
    torch = _torch()
    idx = np.array([[0, 3], [2, 1]])
    for n in (-1, 5):
        want = torch.nn.functional.one_hot(torch.tensor(idx), n)
        got = F.one_hot(gg.tensor(idx), n)
        assert got.dtype == np.int64 and got.tolist() == want.tolist()


def test_gumbel_softmax_statistics():
    gg.manual_seed(0)
    logits = gg.tensor([[0.0, 1.0, 2.0]], dtype=gg.float64).expand(4000, 3)
    hard = F.gumbel_softmax(logits, tau=0.5, hard=True)
    freq = hard.mean(0).numpy()
    want = np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()
    np.testing.assert_allclose(freq, want, atol=0.03)
    assert set(np.unique(hard.numpy())) <= {0.0, 1.0}
    soft = F.gumbel_softmax(logits, tau=2.0)
    np.testing.assert_allclose(soft.sum(1).numpy(), 1.0)
    # Straight-through: the hard sample carries the soft sample's gradient.
    x = gg.tensor([[0.1, 0.2, 0.3]], dtype=gg.float64, requires_grad=True)
    (F.gumbel_softmax(x, hard=True) * gg.tensor([[1.0, 2.0, 3.0]], dtype=gg.float64)).sum() \
        .backward()
    assert np.abs(x.grad.numpy()).sum() > 0


def test_dropout2d_zeroes_whole_channels():
    gg.manual_seed(0)
    y = F.dropout2d(gg.ones(8, 16, 3, 3), p=0.5).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))
    assert set(np.unique(y)) == {0.0, 2.0}
    assert gg.nn.Dropout2d().eval()(gg.ones(2, 2, 1, 1)).tolist() == [[[[1.0]], [[1.0]]]] * 2


@pytest.mark.parametrize("call, kind", [
    (lambda m: m.hardtanh(m.ones(2), 2.0, 1.0), ValueError),
    (lambda m: m.celu(m.ones(2), 0.0), RuntimeError),
    (lambda m: m.glu(m.ones(3)), RuntimeError),
    (lambda m: m.one_hot(m.tensor([-1])), RuntimeError),
    (lambda m: m.one_hot(m.tensor([3]), 2), RuntimeError),
    (lambda m: m.group_norm(m.ones(2, 3, 4), 2), RuntimeError),
    (lambda m: m.prelu(m.ones(2, 3), m.ones(2)), RuntimeError),
    (lambda m: m.rms_norm(m.ones(2, 3), (2,)), RuntimeError),
    (lambda m: m.bilinear(m.ones(2, 3), m.ones(2, 4), m.ones(5, 3, 3)), RuntimeError),
    (lambda m: m.margin_ranking_loss(m.ones(2), m.ones(2, 1), m.ones(2)), RuntimeError),
    (lambda m: m.triplet_margin_loss(m.ones(2, 3), m.ones(3), m.ones(2, 3)), RuntimeError),
    (lambda m: m.dropout2d(m.ones(2, 3, 4, 4), 1.5), ValueError),
])
def test_bad_inputs_raise_torch_kind(call, kind):
    torch = _torch()
    with pytest.raises(kind):
        call(torch.nn.functional if False else _TorchF(torch))
    with pytest.raises(kind):
        call(_GgF())


class _TorchF:
    def __init__(self, torch):
        self._torch = torch

    def __getattr__(self, name):
        if hasattr(self._torch.nn.functional, name):
            return getattr(self._torch.nn.functional, name)
        return getattr(self._torch, name)


class _GgF:
    def __getattr__(self, name):
        return getattr(F, name) if hasattr(F, name) else getattr(gg, name)


def test_module_constructor_errors():
    with pytest.raises(ValueError):
        gg.nn.GroupNorm(3, 4)
    with pytest.raises(ValueError):
        gg.nn.InstanceNorm1d(3, affine=True)(gg.ones(2, 4, 5))
