"""Module forward hooks, the extra losses (smooth L1, Huber, KL, BCE, cosine), and the extra
initialisers (trunc_normal_, orthogonal_, eye_, dirac_), against torch and gradcheck."""
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.nn.functional.loss import BinaryCrossEntropy
from nn_testing import check_jvp, host, t64

torch = pytest.importorskip("torch")
TF = torch.nn.functional
REDUCTIONS = ["none", "mean", "sum"]


def _close(got, want, tol=1e-10):
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else want
    np.testing.assert_allclose(host(got), want, rtol=tol, atol=tol)


def _vs_torch(ours, theirs, arrays, grad_of=None, tol=1e-10):
    """Forward values and gradients (w.r.t. the inputs listed in ``grad_of``) in float64."""
    grad_of = range(len(arrays)) if grad_of is None else grad_of
    g_in = [t64(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    t_in = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=i in grad_of)
            for i, a in enumerate(arrays)]
    got, want = ours(*g_in), theirs(*t_in)
    _close(got, want, tol)
    weights = np.random.default_rng(1).standard_normal(tuple(want.shape))
    (got * gg.tensor(weights)).sum().backward()
    (want * torch.tensor(weights)).sum().backward()
    for i in grad_of:
        _close(g_in[i].grad, t_in[i].grad, tol)


# ---- hooks ----------------------------------------------------------------------------
def _hooked(nn):
    """The same hooks in both libraries; returns the model, the call log and the handles."""
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    log = []
    handles = [
        model[0].register_forward_pre_hook(lambda m, args: (args[0] * 2,)),
        model[0].register_forward_hook(lambda m, args, out: log.append(("fwd0", args[0].shape))),
        model[2].register_forward_hook(lambda m, args, out: out + 1),
        model.register_forward_pre_hook(lambda m, args: log.append("pre")),
        model.register_forward_pre_hook(lambda m, args: log.append("pre_first"), prepend=True),
        model[2].register_forward_pre_hook(lambda m, args: args[0] * 0.5),  # a bare value
        model.register_forward_hook(
            lambda m, args, kwargs, out: log.append(("kw", sorted(kwargs))) or out * 3,
            with_kwargs=True),
    ]
    return model, log, handles


def test_forward_hooks_match_torch():
    t_model, t_log, t_handles = _hooked(torch.nn)
    g_model, g_log, g_handles = _hooked(gg.nn)
    t_model.double()
    g_model.double().load_state_dict({k: v.detach().numpy()
                                      for k, v in t_model.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3))
    _vs_torch(g_model, t_model, [x])
    shapes_as_tuples = [(e[0], tuple(e[1])) if e[0] == "fwd0" else e for e in t_log]
    assert g_log == shapes_as_tuples
    assert g_log[:2] == ["pre_first", "pre"]
    for handles in (t_handles, g_handles):
        for handle in handles:
            handle.remove()
        handles[0].remove()  # a second remove is harmless
    _close(g_model(t64(x)), t_model(torch.tensor(x)))
    assert len(g_log) == len(t_log)  # no hook ran after removal


def test_forward_pre_hook_with_kwargs_and_context_manager():
    class Scale(gg.nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor
    module = Scale()
    handle = module.register_forward_pre_hook(lambda m, args, kwargs: (args, {"factor": 5.0}),
                                              with_kwargs=True)
    assert module(gg.ones(2)).tolist() == [5.0, 5.0]
    handle.remove()
    with module.register_forward_hook(lambda m, args, out: out - 1):
        assert module(gg.ones(2), factor=2.0).tolist() == [1.0, 1.0]
    assert module(gg.ones(2)).tolist() == [1.0, 1.0]
    module.register_forward_pre_hook(lambda m, args, kwargs: "bad", with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        module(gg.ones(2))


def test_hooks_survive_deepcopy_and_keep_gradients_flowing():
    import copy
    layer = gg.nn.Linear(2, 2)
    layer.register_forward_hook(lambda m, args, out: out * 2)
    clone = copy.deepcopy(layer)
    x = gg.ones(1, 2)
    _close(clone(x), host(layer(x)))
    layer(x).sum().backward()
    _close(layer.weight.grad, np.full((2, 2), 2.0))


# ---- losses ----------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.5])
def test_smooth_l1_and_huber_match_torch(reduction, beta, rng):
    x, y = rng.standard_normal((2, 4, 5)) * 2
    x[0, :2] = y[0, :2] + np.array([beta, -beta])  # exactly at the switch point
    x[1, 0] = y[1, 0]  # and at zero difference
    _vs_torch(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
              lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [x, y])
    if beta > 0:
        _vs_torch(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=beta),
                  lambda a, b: TF.huber_loss(a, b, reduction=reduction, delta=beta), [x, y])
        x[0, :2] += 0.1  # away from the kinks for the numeric check
        assert gg.gradcheck(lambda a, b: F.huber_loss(a, b, delta=beta, reduction=reduction),
                            [t64(x), t64(y)])
        assert gg.gradcheck(lambda a, b: F.smooth_l1_loss(a, b, beta=beta), [t64(x), t64(y)])


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target, rng):
    logp = np.log(rng.dirichlet(np.ones(5), size=4))
    q = rng.dirichlet(np.ones(5), size=4)
    q[0, 1] = 0.0  # 0 log 0 is 0
    target = np.log(q + 1e-3) if log_target else q
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn about reduction='mean'
        _vs_torch(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                  lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target),
                  [logp, target], grad_of=[0, 1] if log_target else [0])
        q[0, 1] = 0.2  # target gradient away from 0
        assert gg.gradcheck(lambda a, b: F.kl_div(a, b, reduction=reduction,
                                                  log_target=log_target), [t64(logp), t64(q)])


def test_kl_div_mean_warns_and_scalar_batchmean():
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(gg.zeros(2), gg.ones(2))
    p = gg.tensor(0.5, dtype=gg.float64)
    assert F.kl_div(p.log(), p, reduction="batchmean").item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match="reduction"):
        F.kl_div(p, p, reduction="avg")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(reduction, weighted, rng):
    x = rng.uniform(0.05, 0.95, (3, 4))
    y = rng.uniform(0, 1, (3, 4))
    w = rng.uniform(0.5, 2, (4,)) if weighted else None

    def ours(a, b):
        return F.binary_cross_entropy(a, b, None if w is None else gg.tensor(w),
                                      reduction=reduction)

    def theirs(a, b):
        return TF.binary_cross_entropy(a, b, None if w is None else torch.tensor(w),
                                       reduction=reduction)
    _vs_torch(ours, theirs, [x, y])
    assert gg.gradcheck(ours, [t64(x), t64(y)])
    # Double backward, through the Tensor-op backward rule.
    assert gg.gradcheck(lambda a, b: gg.grad(ours(a, b).sum(), [a, b], create_graph=True)[0],
                        [t64(x), t64(y)])


def test_binary_cross_entropy_at_zero_and_one_like_torch():
    x = np.array([0.0, 1.0, 0.0, 1.0, 1e-30, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.3])
    with np.errstate(all="ignore"):
        _vs_torch(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
                  lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"), [x, y],
                  grad_of=[0])
    loss = F.binary_cross_entropy(gg.tensor([0.0]), gg.tensor([1.0]))
    assert loss.item() == 100.0
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(gg.tensor([1.5]), gg.tensor([1.0]))
    with pytest.raises(ValueError, match="target size"):
        F.binary_cross_entropy(gg.tensor([0.5]), gg.tensor([[1.0]]))


def test_binary_cross_entropy_jvp_rule(rng):
    x = t64(rng.uniform(0.1, 0.9, (3, 2)))
    y = t64(rng.uniform(0, 1, (3, 2)))
    tx = t64(rng.standard_normal((3, 2)), requires_grad=False)
    ty = t64(rng.standard_normal((3, 2)), requires_grad=False)
    check_jvp(BinaryCrossEntropy, [x, y], [tx, ty])
    check_jvp(BinaryCrossEntropy, [x, y], [tx, None])
    check_jvp(BinaryCrossEntropy, [x, y], [None, ty])


@pytest.mark.parametrize("shapes, dim", [(((4, 5), (4, 5)), 1), (((2, 3, 4), (3, 4)), -1),
                                         (((3, 1, 4), (1, 5, 4)), 2), (((6,), (6,)), 0)])
def test_cosine_similarity_matches_torch(shapes, dim, rng):
    a, b = (rng.standard_normal(s) for s in shapes)
    _vs_torch(lambda u, v: F.cosine_similarity(u, v, dim=dim),
              lambda u, v: TF.cosine_similarity(u, v, dim=dim), [a, b])
    assert gg.gradcheck(lambda u, v: F.cosine_similarity(u, v, dim), [t64(a), t64(b)])
    module = gg.nn.CosineSimilarity(dim=dim)
    _close(module(t64(a), t64(b)), TF.cosine_similarity(torch.tensor(a), torch.tensor(b), dim))


def test_cosine_similarity_zero_and_tiny_vectors_like_torch():
    a = np.array([[0.0, 0.0, 0.0], [1e-9, 0.0, 2e-9], [1.0, 2.0, 3.0]])
    b = np.array([[1.0, 2.0, 0.5], [3.0, -1.0, 0.0], [0.0, 0.0, 0.0]])
    _vs_torch(F.cosine_similarity, TF.cosine_similarity, [a, b])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("batched", [True, False])
def test_cosine_embedding_loss_matches_torch(reduction, batched, rng):
    a, b = rng.standard_normal((2, 6, 4))
    target = np.array([1, -1, 1, -1, -1, 1])
    if not batched:
        a, b, target = a[1], b[1], target[1]
    g_t, t_t = gg.tensor(target), torch.tensor(target)
    _vs_torch(lambda u, v: F.cosine_embedding_loss(u, v, g_t, 0.1, reduction=reduction),
              lambda u, v: TF.cosine_embedding_loss(u, v, t_t, 0.1, reduction=reduction),
              [a, b])
    module = gg.nn.CosineEmbeddingLoss(margin=0.1, reduction=reduction)
    _close(module(t64(a), t64(b), g_t),
           TF.cosine_embedding_loss(torch.tensor(a), torch.tensor(b), t_t, 0.1,
                                    reduction=reduction))
    assert gg.gradcheck(lambda u, v: F.cosine_embedding_loss(u, v, g_t, -0.5), [t64(a), t64(b)])


def test_loss_modules_match_torch_modules(rng):
    x = rng.uniform(0.1, 0.9, (4, 3))
    y = rng.uniform(0, 1, (4, 3))
    w = rng.uniform(0.5, 2, (3,))
    pairs = [
        (gg.nn.SmoothL1Loss(reduction="sum", beta=0.3), torch.nn.SmoothL1Loss(reduction="sum",
                                                                              beta=0.3)),
        (gg.nn.HuberLoss(delta=0.2), torch.nn.HuberLoss(delta=0.2)),
        (gg.nn.KLDivLoss(reduction="batchmean", log_target=True),
         torch.nn.KLDivLoss(reduction="batchmean", log_target=True)),
        (gg.nn.BCELoss(weight=gg.tensor(w)), torch.nn.BCELoss(weight=torch.tensor(w))),
    ]
    for ours, theirs in pairs:
        _vs_torch(ours, theirs, [x, y])
    assert "weight" in dict(pairs[-1][0].named_buffers())


# ---- init -------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:mean is more than 2 std")  # (0, 1, 3, 4): both warn
@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04),
                                             (1.0, 2.0, 0.5, 6.0), (0.0, 1.0, 3.0, 4.0),
                                             (0.0, 1.0, -np.inf, 0.5)])
def test_trunc_normal_matches_torch_distribution(mean, std, a, b):
    n = 200_000
    ours = host(gg.nn.init.trunc_normal_(gg.empty(n, dtype=gg.float64), mean, std, a, b))
    theirs = torch.nn.init.trunc_normal_(torch.empty(n, dtype=torch.float64), mean, std, a,
                                         b).numpy()
    assert ours.min() >= a and ours.max() <= b
    scale = theirs.std()
    assert abs(ours.mean() - theirs.mean()) < 0.02 * scale + 1e-12
    assert abs(ours.std() / scale - 1) < 0.02
    for q in (0.05, 0.5, 0.95):
        assert abs(np.quantile(ours, q) - np.quantile(theirs, q)) < 0.03 * scale


def test_trunc_normal_float32_reproducible_and_warns():
    gg.manual_seed(3)
    first = host(gg.nn.init.trunc_normal_(gg.empty(3, 4), std=0.1))
    gg.manual_seed(3)
    np.testing.assert_array_equal(first, host(gg.nn.init.trunc_normal_(gg.empty(3, 4), std=0.1)))
    assert first.dtype == np.float32 and np.abs(first).max() <= 2.0
    with pytest.warns(UserWarning, match="more than 2 std"):
        gg.nn.init.trunc_normal_(gg.empty(3), mean=10.0)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (6, 2, 3, 3), (2, 1, 7)])
def test_orthogonal_is_orthogonal_like_torch(shape):
    gain = 1.7
    w = host(gg.nn.init.orthogonal_(gg.empty(*shape, dtype=gg.float64), gain=gain))
    assert w.shape == shape
    flat = w.reshape(shape[0], -1) / gain
    small = min(flat.shape)
    gram = flat @ flat.T if flat.shape[0] == small else flat.T @ flat
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)
    t = torch.nn.init.orthogonal_(torch.empty(*shape, dtype=torch.float64), gain=gain).numpy()
    np.testing.assert_allclose(np.linalg.svd(w.reshape(shape[0], -1), compute_uv=False),
                               np.linalg.svd(t.reshape(shape[0], -1), compute_uv=False))


def test_orthogonal_sign_fix_makes_the_diagonal_unbiased():
    # Without the sign correction, QR's R has a positive diagonal convention that biases Q.
    diag = np.array([host(gg.nn.init.orthogonal_(gg.empty(3, 3, dtype=gg.float64)))[0, 0]
                     for _ in range(400)])
    assert abs(diag.mean()) < 0.15
    with pytest.raises(ValueError, match="2 or more dimensions"):
        gg.nn.init.orthogonal_(gg.empty(3))
    assert gg.nn.init.orthogonal_(gg.empty(0, 3)).shape == (0, 3)


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2)])
def test_eye_matches_torch(shape):
    _close(gg.nn.init.eye_(gg.empty(*shape)), torch.nn.init.eye_(torch.empty(*shape)))
    with pytest.raises(ValueError, match="2 dimensions"):
        gg.nn.init.eye_(gg.empty(2, 2, 2))


@pytest.mark.parametrize("shape, groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 1), ((4, 2, 3, 3), 2),
                                           ((2, 5, 2, 3, 3), 1), ((6, 2, 4, 4), 3)])
def test_dirac_matches_torch(shape, groups):
    ours = gg.nn.init.dirac_(gg.full(shape, 7.0), groups)
    _close(ours, torch.nn.init.dirac_(torch.full(shape, 7.0), groups))
    x = np.random.default_rng(0).standard_normal((1, shape[1] * groups, 5, 5))
    if len(shape) == 4 and groups == 1 and shape[0] >= shape[1]:
        out = host(F.conv2d(gg.tensor(x, dtype=gg.float32), ours, padding=shape[2] // 2))
        np.testing.assert_allclose(out[0, :shape[1]], x[0], rtol=1e-6)  # identity conv
    with pytest.raises(ValueError, match="divisible by groups"):
        gg.nn.init.dirac_(gg.empty(3, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="3, 4, or 5 dimensions"):
        gg.nn.init.dirac_(gg.empty(3, 3))
