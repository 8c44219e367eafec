"""Small PyTorch programs ported to gpugrad: module trees, weights copied from torch (as NumPy
arrays and through a safetensors file), then forward, backward and state compared in float64."""
import itertools
import math
import os
import re
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as GF

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(0)


def _as_numpy(state):
    return {k: v.detach().numpy() for k, v in state.items()}


def _pair(build):
    """The same architecture in torch and gpugrad, float64, gpugrad holding torch's weights."""
    t_model, g_model = build(torch.nn).double(), build(gg.nn).double()
    g_model.load_state_dict(_as_numpy(t_model.state_dict()))
    return t_model, g_model


def _close(a, b, tol=1e-10):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.numpy() if isinstance(b, gg.Tensor) else np.asarray(b)
    np.testing.assert_allclose(b, a, rtol=tol, atol=tol)


def _forward_backward(t_model, g_model, x, seed=0):
    """Outputs and input gradients of both models for a random weighting of the output."""
    xt = torch.tensor(x, requires_grad=True)
    xg = gg.tensor(x, requires_grad=True)
    yt, yg = t_model(xt), g_model(xg)
    w = np.random.default_rng(seed).standard_normal(tuple(yt.shape))
    (yt * torch.tensor(w)).sum().backward()
    (yg * gg.tensor(w)).sum().backward()
    _close(yt, yg)
    _close(xt.grad, xg.grad)
    if not isinstance(t_model, torch.nn.Module):
        return
    for (name, pt), (name_g, pg) in zip(t_model.named_parameters(),
                                        g_model.named_parameters()):
        assert name == name_g
        _close(pt.grad, pg.grad)


def _cnn(nn):
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 6, (3, 2), padding=(2, 1), dilation=(2, 1), bias=False),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.AvgPool2d(2, stride=1, padding=1),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(6 * 5 * 6, 5),
        nn.LogSoftmax(dim=1),
    )


def _tree(nn):
    return nn.Sequential(
        nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.GELU(approximate="tanh")),
        nn.ModuleList([nn.Linear(4, 4) for _ in range(3)] + [nn.LeakyReLU(0.2)]),
        nn.ModuleDict({"norm": nn.LayerNorm(4, bias=False), "emb": nn.Embedding(7, 4, 0)}),
        nn.BatchNorm2d(3, momentum=None),
        nn.CrossEntropyLoss(weight=torch.ones(3) if nn is torch.nn else gg.ones(3),
                            reduction="sum"),
        nn.MSELoss(reduction="none"),
        nn.Softmax(dim=-1),
    )


def test_module_tree_names_order_and_repr_match_torch():
    t_model, g_model = _tree(torch.nn), _tree(gg.nn)
    assert list(g_model.state_dict()) == list(t_model.state_dict())
    for method in ("named_modules", "named_children", "named_buffers", "named_parameters"):
        assert ([n for n, _ in getattr(g_model, method)()]
                == [n for n, _ in getattr(t_model, method)()]), method
    assert ([type(m).__name__ for m in g_model.children()]
            == [type(m).__name__ for m in t_model.children()])
    assert repr(g_model) == repr(t_model)


def test_repr_of_multiline_extra_repr_matches_torch():
    class Note(torch.nn.Module):
        def extra_repr(self):
            return "first\nsecond"

    class NoteG(gg.nn.Module):
        def extra_repr(self):
            return "first\nsecond"

    assert repr(NoteG()) == repr(Note()).replace("Note", "NoteG")


def test_shared_modules_listed_like_torch():
    def build(nn):
        lin = nn.Linear(2, 2)
        model = nn.Module()
        model.a, model.b, model.c = lin, nn.Sequential(lin, nn.ReLU()), lin
        return model

    t_model, g_model = build(torch.nn), build(gg.nn)
    assert list(g_model.state_dict()) == list(t_model.state_dict())
    for dedup in (True, False):
        assert ([n for n, _ in g_model.named_modules(remove_duplicate=dedup)]
                == [n for n, _ in t_model.named_modules(remove_duplicate=dedup)])
        assert ([n for n, _ in g_model.named_parameters(remove_duplicate=dedup)]
                == [n for n, _ in t_model.named_parameters(remove_duplicate=dedup)])


def test_train_calls_overridden_train_of_nested_modules():
    # The frozen-batch-norm idiom of detection code: train() keeps the norm in eval mode.
    def build(nn):
        class FrozenNorm(nn.Module):
            def __init__(self):
                super().__init__()
                self.bn = nn.BatchNorm1d(3)

            def train(self, mode=True):
                super().train(mode)
                self.bn.eval()
                return self

        return nn.Sequential(nn.Linear(3, 3), nn.Sequential(FrozenNorm(), nn.Dropout()))

    for nn in (torch.nn, gg.nn):
        model = build(nn)
        model.eval()
        model.train()
        assert [m.training for m in model.modules()] == [True, True, True, True, False, True]


def test_mlp_forward_backward_matches_torch():
    def mlp(nn):
        return nn.Sequential(nn.Linear(5, 16), nn.GELU(), nn.Linear(16, 16), nn.Tanh(),
                             nn.LayerNorm(16), nn.Linear(16, 3), nn.Sigmoid())

    t_model, g_model = _pair(mlp)
    _forward_backward(t_model, g_model, np.random.default_rng(1).standard_normal((7, 5)))


def test_cnn_train_then_eval_matches_torch():
    t_model, g_model = _pair(_cnn)
    rng = np.random.default_rng(2)
    t_model[7].p = g_model[7].p = 0.0  # dropout's masks differ; its eval mode is tested below
    for step in range(3):
        _forward_backward(t_model, g_model, rng.standard_normal((3, 3, 16, 17)), seed=step)
        t_model.zero_grad()
        g_model.zero_grad()
    t_model[7].p = g_model[7].p = 0.5
    t_model.eval()
    g_model.eval()
    _forward_backward(t_model, g_model, rng.standard_normal((2, 3, 16, 17)))
    t_state, g_state = t_model.state_dict(), g_model.state_dict()
    assert list(g_state) == list(t_state)
    for key in t_state:
        _close(t_state[key], g_state[key])
    assert g_state["1.num_batches_tracked"].dtype == np.int64
    assert int(g_state["1.num_batches_tracked"]) == 3


def test_weights_from_torch_safetensors_file(tmp_path):
    from safetensors.torch import save_file

    t_model = _cnn(torch.nn).double()
    t_model.train()
    t_model(torch.randn(4, 3, 16, 17, dtype=torch.float64))  # non-trivial running stats
    path = os.path.join(tmp_path, "model.safetensors")
    save_file(t_model.state_dict(), path)
    g_model = _cnn(gg.nn).double()
    result = g_model.load_state_dict(gg.load(path))
    assert result.missing_keys == [] and result.unexpected_keys == []
    t_model.eval()
    g_model.eval()
    _forward_backward(t_model, g_model, np.random.default_rng(3).standard_normal((2, 3, 16, 17)))


def test_checkpoint_without_num_batches_tracked_loads_like_torch():
    # Converted checkpoints often lack the counter; PyTorch keeps the module's own value.
    t_model, g_model = _pair(lambda nn: nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2)))
    g_model[1].num_batches_tracked.fill_(5)
    t_model[1].num_batches_tracked.fill_(5)
    state = {k: v for k, v in _as_numpy(t_model.state_dict()).items()
             if "num_batches" not in k}
    t_result = t_model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    g_result = g_model.load_state_dict(state)
    assert repr(g_result) == repr(t_result) == "<All keys matched successfully>"
    assert int(g_model[1].num_batches_tracked) == 5
    # Without running statistics there is no counter to fill: extra keys stay unexpected.
    bare = gg.nn.BatchNorm2d(2, track_running_stats=False)
    result = bare.load_state_dict({"weight": np.ones(2), "bias": np.zeros(2),
                                   "num_batches_tracked": np.array(0)}, strict=False)
    assert result.unexpected_keys == ["num_batches_tracked"]


def test_load_state_dict_result_and_errors_match_torch():
    t_lin, g_lin = _pair(lambda nn: nn.Linear(2, 2))
    t_res = t_lin.load_state_dict({"weight": torch.zeros(2, 2), "extra": torch.ones(1)},
                                  strict=False)
    g_res = g_lin.load_state_dict({"weight": np.zeros((2, 2)), "extra": np.ones(1)},
                                  strict=False)
    assert repr(g_res) == repr(t_res).replace("_IncompatibleKeys", "IncompatibleKeys")
    assert g_res == t_res and g_res.missing_keys == ["bias"]
    bad = {"weight": np.zeros((1, 2)), "extra": np.ones(1)}
    with pytest.raises(RuntimeError) as t_err:
        t_lin.load_state_dict({k: torch.tensor(v) for k, v in bad.items()})
    with pytest.raises(RuntimeError) as g_err:
        g_lin.load_state_dict(bad)
    expected = re.sub(r"torch\.Size\(\[(\d+), (\d+)\]\)", r"(\1, \2)", str(t_err.value))
    assert str(g_err.value) == expected


LOSS_CASES = list(itertools.product(["none", "mean", "sum"], [0.0, 0.2], [False, True],
                                    [-100, 2]))


@pytest.mark.parametrize("reduction,smoothing,weighted,ignore_index", LOSS_CASES)
def test_class_index_losses_match_torch(reduction, smoothing, weighted, ignore_index):
    rng = np.random.default_rng(4)
    n_cls = 4
    weight = rng.random(n_cls) + 0.5 if weighted else None
    for shape in [(6, n_cls), (2, n_cls, 3, 2)]:
        x = rng.standard_normal(shape)
        target = rng.integers(0, n_cls, (shape[0],) + shape[2:])
        target.reshape(-1)[:2] = ignore_index  # two ignored targets
        kw = dict(reduction=reduction, ignore_index=ignore_index)
        cases = [(TF.cross_entropy, GF.cross_entropy, x, dict(kw, label_smoothing=smoothing)),
                 (TF.nll_loss, GF.nll_loss, x - 3.0, kw)]
        for t_fn, g_fn, logits, extra in cases:
            xt, xg = torch.tensor(logits, requires_grad=True), gg.tensor(logits,
                                                                         requires_grad=True)
            wt = None if weight is None else torch.tensor(weight)
            wg = None if weight is None else gg.tensor(weight)
            lt = t_fn(xt, torch.tensor(target), wt, **extra)
            lg = g_fn(xg, gg.tensor(target), wg, **extra)
            _close(lt, lg)
            seed = rng.standard_normal(tuple(lt.shape))
            (lt * torch.tensor(seed)).sum().backward()
            (lg * gg.tensor(seed)).sum().backward()
            _close(xt.grad, xg.grad)


def _check_loss(t_loss, g_loss, *arrays):
    ts = [torch.tensor(a, requires_grad=i == 0) for i, a in enumerate(arrays)]
    gs = [gg.tensor(a, requires_grad=i == 0) for i, a in enumerate(arrays)]
    lt, lg = t_loss(*ts), g_loss(*gs)
    _close(lt, lg)
    seed = np.random.default_rng(5).standard_normal(tuple(lt.shape))
    (lt * torch.tensor(seed)).sum().backward()
    (lg * gg.tensor(seed)).sum().backward()
    _close(ts[0].grad, gs[0].grad)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_pointwise_and_soft_target_losses_match_torch(reduction):
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((6, 4)) * 10, rng.random((6, 4))
    weight, pos_weight = rng.random((6, 4)), rng.random(4) + 0.5
    _check_loss(torch.nn.MSELoss(reduction=reduction), gg.nn.MSELoss(reduction=reduction), x, y)
    _check_loss(torch.nn.L1Loss(reduction=reduction), gg.nn.L1Loss(reduction=reduction), x, y)
    for w, pw in itertools.product([None, weight], [None, pos_weight]):
        t_loss = torch.nn.BCEWithLogitsLoss(
            weight=None if w is None else torch.tensor(w), reduction=reduction,
            pos_weight=None if pw is None else torch.tensor(pw))
        g_loss = gg.nn.BCEWithLogitsLoss(
            weight=None if w is None else gg.tensor(w), reduction=reduction,
            pos_weight=None if pw is None else gg.tensor(pw))
        _check_loss(t_loss, g_loss, x, y)
        assert list(g_loss.state_dict()) == list(t_loss.state_dict())
        assert repr(g_loss) == repr(t_loss)
    probs = rng.random((6, 4))
    probs /= probs.sum(1, keepdims=True)
    class_w = rng.random(4) + 0.5
    for smoothing in (0.0, 0.3):
        _check_loss(
            torch.nn.CrossEntropyLoss(torch.tensor(class_w), reduction=reduction,
                                      label_smoothing=smoothing),
            gg.nn.CrossEntropyLoss(gg.tensor(class_w), reduction=reduction,
                                   label_smoothing=smoothing), x, probs)


def test_activations_softmax_dims_and_pad_match_torch():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 5))
    x[0, 0, :2] = 0.0  # the kinks of relu-like functions
    pairs = [(torch.nn.GELU(), gg.nn.GELU()),
             (torch.nn.GELU("tanh"), gg.nn.GELU("tanh")),
             (torch.nn.LeakyReLU(0.3), gg.nn.LeakyReLU(0.3)),
             (torch.nn.LeakyReLU(), gg.nn.LeakyReLU())]
    for dim in (0, 1, 2, -1):
        pairs += [(torch.nn.Softmax(dim), gg.nn.Softmax(dim)),
                  (torch.nn.LogSoftmax(dim), gg.nn.LogSoftmax(dim))]
    for pad in [(1, 2), (1, 0, 2, 3), (0, 1, 1, 0, 2, 2)]:
        pairs.append((lambda a, pad=pad: TF.pad(a, pad, value=1.5),
                      lambda a, pad=pad: GF.pad(a, pad, value=1.5)))
    for t_fn, g_fn in pairs:
        _forward_backward(t_fn, g_fn, x)
        if isinstance(t_fn, torch.nn.Module):
            assert repr(g_fn) == repr(t_fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the implicit-dim deprecation, in both libraries
        for shape in [(5,), (3, 5), (3, 4, 5), (2, 3, 4, 5)]:
            _forward_backward(torch.nn.Softmax(), gg.nn.Softmax(), rng.standard_normal(shape))


def test_layer_norm_and_embedding_padding_match_torch():
    rng = np.random.default_rng(8)
    t_norm, g_norm = _pair(lambda nn: nn.LayerNorm((4, 5)))
    with torch.no_grad():
        t_norm.weight.copy_(torch.tensor(rng.standard_normal((4, 5))))
        t_norm.bias.copy_(torch.tensor(rng.standard_normal((4, 5))))
    g_norm.load_state_dict(_as_numpy(t_norm.state_dict()))
    _forward_backward(t_norm, g_norm, rng.standard_normal((3, 4, 5)))
    index = np.array([[0, 5, 3, 3], [1, 0, 5, 2]])
    for padding_idx in (0, -1, 3):
        t_emb, g_emb = _pair(lambda nn: nn.Embedding(6, 3, padding_idx=padding_idx))
        assert repr(g_emb) == repr(t_emb) and g_emb.padding_idx == t_emb.padding_idx
        assert not g_emb.weight.numpy()[padding_idx].any()
        yt, yg = t_emb(torch.tensor(index)), g_emb(gg.tensor(index))
        seed = rng.standard_normal(tuple(yt.shape))
        (yt * torch.tensor(seed)).sum().backward()
        (yg * gg.tensor(seed)).sum().backward()
        _close(yt, yg)
        _close(t_emb.weight.grad, g_emb.weight.grad)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_and_parameter_vectors_match_torch(norm_type):
    rng = np.random.default_rng(9)
    t_params = [torch.tensor(rng.standard_normal(s), requires_grad=True)
                for s in [(3, 4), (5,), (2, 2, 2)]]
    g_params = [gg.nn.Parameter(gg.tensor(p.detach().numpy())) for p in t_params]
    for pt, pg in zip(t_params, g_params):
        grad = rng.standard_normal(tuple(pt.shape))
        pt.grad, pg.grad = torch.tensor(grad), gg.tensor(grad)
    t_norm = torch.nn.utils.clip_grad_norm_(t_params, 0.7, norm_type=norm_type)
    g_norm = gg.nn.utils.clip_grad_norm_(g_params, 0.7, norm_type=norm_type)
    _close(t_norm, g_norm)
    assert g_norm.shape == () and g_norm.dtype == np.float64
    for pt, pg in zip(t_params, g_params):
        _close(pt.grad, pg.grad)
    # Below the limit nothing changes, and the norm is still returned.
    _close(torch.nn.utils.clip_grad_norm_(t_params, 1e3, norm_type),
           gg.nn.utils.clip_grad_norm_(g_params, 1e3, norm_type))
    vt = torch.nn.utils.parameters_to_vector(t_params)
    vg = gg.nn.utils.parameters_to_vector(g_params)
    _close(vt, vg)
    torch.nn.utils.vector_to_parameters(vt * 2, t_params)
    gg.nn.utils.vector_to_parameters(vg * 2, g_params)
    for pt, pg in zip(t_params, g_params):
        _close(pt, pg)


INIT_CASES = [
    ("uniform_", dict(a=-2.0, b=3.0)),
    ("normal_", dict(mean=1.0, std=0.5)),
    ("xavier_uniform_", dict(gain=2.0)),
    ("xavier_normal_", dict(gain=0.5)),
    ("kaiming_uniform_", dict(a=math.sqrt(5))),
    ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu")),
    ("kaiming_normal_", dict(a=0.1)),
    ("kaiming_normal_", dict(mode="fan_out", nonlinearity="tanh")),
]


@pytest.mark.parametrize("name,kwargs", INIT_CASES)
def test_init_scales_match_torch(name, kwargs):
    shape = (64, 32, 3, 3)  # fan_in 288, fan_out 576
    t_weight = getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), **kwargs)
    g_weight = getattr(gg.nn.init, name)(gg.empty(shape, dtype="float64"), **kwargs).numpy()
    n = g_weight.size
    std = t_weight.std().item()
    # Sample std within 5% and the mean within 6 standard errors of torch's sample.
    assert abs(g_weight.std() / std - 1) < 0.05
    assert abs(g_weight.mean() - t_weight.mean().item()) < 6 * std / math.sqrt(n)
    if "uniform" in name:  # the same support: both samples come within std/100 of its ends
        assert abs(g_weight.max() - t_weight.max().item()) < 0.01 * std
        assert abs(g_weight.min() - t_weight.min().item()) < 0.01 * std


def test_init_gains_and_fans_match_torch():
    for nonlinearity, param in [("linear", None), ("conv2d", None), ("sigmoid", None),
                                ("tanh", None), ("relu", None), ("leaky_relu", None),
                                ("leaky_relu", 0.2), ("selu", None)]:
        assert gg.nn.init.calculate_gain(nonlinearity, param) == pytest.approx(
            torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12)
    for shape in [(5, 7), (5, 7, 2), (4, 3, 2, 2, 2)]:
        assert (gg.nn.init._calculate_fan_in_and_fan_out(gg.empty(shape))
                == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape)))
    # Default layer initialisation: weight and bias within 1 / sqrt(fan_in), PyTorch's
    # bound, and the many weights reaching close to it in both libraries.
    for build in (lambda nn: nn.Linear(300, 40), lambda nn: nn.Conv2d(16, 32, (3, 5), groups=2)):
        t_layer, g_layer = build(torch.nn), build(gg.nn)
        bound = 1 / math.sqrt(torch.nn.init._calculate_fan_in_and_fan_out(t_layer.weight)[0])
        for pt, pg in zip(t_layer.parameters(), g_layer.parameters()):
            for values in (pt.detach().numpy(), pg.numpy()):
                assert np.abs(values).max() <= bound * (1 + 1e-6)
                if values.ndim > 1:
                    assert np.abs(values).max() > 0.99 * bound


def test_freezing_and_dtype_moves_like_torch():
    t_model, g_model = _pair(lambda nn: nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4),
                                                      nn.Linear(4, 2)))
    for model in (t_model, g_model):
        model[0].requires_grad_(False)
    x = np.random.default_rng(10).standard_normal((5, 3))
    yt, yg = t_model(torch.tensor(x)), g_model(gg.tensor(x))
    yt.sum().backward()
    yg.sum().backward()
    assert [p.grad is None for p in g_model.parameters()] == [
        p.grad is None for p in t_model.parameters()] == [True, True, False, False, False,
                                                          False]
    _close(t_model[2].weight.grad, g_model[2].weight.grad)
    t_model.float()
    g_model.float()
    assert [v.dtype.name for v in g_model.state_dict().values()] == [
        str(v.dtype).replace("torch.", "") for v in t_model.state_dict().values()]
