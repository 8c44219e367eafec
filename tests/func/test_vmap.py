"""``gg.func.vmap`` against ``torch.func.vmap`` on identical float64 inputs: the op table,
in_dims/out_dims, nesting, chunking, randomness, composition with grad/vjp/jvp, jacrev/jacfwd/
hessian, and the errors. Every case in the table must run on a batching rule: the fallback's
warning is an error here (the fallback has tests of its own)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from torch import func as tfunc

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.func.batching import VmapFallbackWarning
from func_testing import host

pytestmark = pytest.mark.filterwarnings("error::gpugrad.func.batching.VmapFallbackWarning")

B = 3  # batch size


def _nn(m):
    return F if m is gg else TF


def _pair(values, device):
    """The same float64 values as a gpugrad tensor on ``device`` and a torch tensor."""
    values = np.asarray(values, dtype=np.float64)
    return gg.tensor(values, device=device), torch.tensor(values)


def _idx(m, values, like):
    """An index tensor on ``like``'s device."""
    return m.tensor(values, device=like.device)


def _stat(m, like, offset):
    """Four unbatched per-channel values (running statistics, affine parameters)."""
    return m.arange(4, dtype=like.dtype, device=like.device) * 0.25 + offset


S, S3 = (3, 4), (2, 3, 4)
CASES = {
    # elementwise and broadcasting
    "add_bcast": (lambda m, a, b: a + b, [S, (4,)]),
    "rsub_scalar": (lambda m, a: 2.0 - a, [S]),
    "mul_0d": (lambda m, a, b: a * b, [(), S]),
    "div": (lambda m, a, b: a / (b.abs() + 1), [S, (3, 1)]),
    "pow": (lambda m, a: (a.abs() + 0.5) ** 1.5, [S]),
    "unary_chain": (lambda m, a: a.exp().tanh().sigmoid() + a.sin().cos() - (-a).relu(), [S]),
    "log_sqrt": (lambda m, a: (a.abs() + 1).log() + (a.abs() + 1).sqrt() + a.abs(), [S]),
    "max_min": (lambda m, a, b: m.maximum(a, b) + m.minimum(a, b), [S, (4,)]),
    "where": (lambda m, a, b: m.where(a > 0, a, b), [S, S]),
    "clamp": (lambda m, a: a.clamp(-0.5, 0.5), [S]),
    "compare": (lambda m, a, b: (a < b).double() + (a >= 0).double(), [S, S]),
    "masked_fill": (lambda m, a: a.masked_fill(a > 0, 0.5), [S]),
    "gelu_silu": (lambda m, a: _nn(m).gelu(a) + _nn(m).silu(a) + _nn(m).softplus(a), [S]),
    # reductions and scans
    "sum_all": (lambda m, a: a.sum(), [S]),
    "sum_dim": (lambda m, a: a.sum(1), [S]),
    "sum_tuple_keep": (lambda m, a: a.sum((0, 1), keepdim=True), [S]),
    "sum_neg_keep": (lambda m, a: a.sum(-1, keepdim=True), [S3]),
    "mean": (lambda m, a: a.mean(0) + a.mean(), [S]),
    "prod": (lambda m, a: a.prod(1), [S]),
    "max_all": (lambda m, a: a.max(), [S]),
    "max_dim": (lambda m, a: tuple(a.max(1)), [S]),
    "min_dim_keep": (lambda m, a: a.min(0, keepdim=True)[0], [S]),
    "amax": (lambda m, a: m.amax(a, 1), [S]),
    "argmax": (lambda m, a: a.argmax(1), [S]),
    "argmax_all": (lambda m, a: a.argmax(), [S]),
    "logsumexp": (lambda m, a: a.logsumexp(1), [S]),
    "var_std": (lambda m, a: a.var(1) + a.std(0).sum() + a.var(), [S]),
    "norm": (lambda m, a: a.norm(dim=1), [S]),
    "softmax": (lambda m, a: a.softmax(1) + a.log_softmax(0), [S]),
    "cumsum_cumprod": (lambda m, a: a.cumsum(1) + a.cumprod(0), [S]),
    "sort": (lambda m, a: a.sort(1)[0], [S]),
    "argsort": (lambda m, a: a.argsort(dim=0), [S]),
    "topk": (lambda m, a: a.topk(2, dim=1)[0], [S]),
    # shapes
    "view": (lambda m, a: a.view(12), [S]),
    "reshape": (lambda m, a: a.reshape(2, -1, 2), [S]),
    "permute": (lambda m, a: a.permute(2, 0, 1), [S3]),
    "transpose": (lambda m, a: a.transpose(0, 2), [S3]),
    "t_mT": (lambda m, a: a.t() + a.mT + a.T, [(4, 4)]),
    "expand": (lambda m, a: a.expand(2, 3, 4), [(3, 1)]),
    "flatten": (lambda m, a: a.flatten(1), [S3]),
    "squeeze": (lambda m, a: a.squeeze(), [(3, 1, 4)]),
    "squeeze_dim": (lambda m, a: a.squeeze(1), [(3, 1, 4)]),
    "unsqueeze": (lambda m, a: a.unsqueeze(-1) * a.unsqueeze(-2) + a.unsqueeze(1), [S]),
    "cat": (lambda m, a, b: m.cat([a, b], 1), [S, (3, 2)]),
    "stack": (lambda m, a, b: m.stack([a, b], -1), [S, S]),
    "split": (lambda m, a: a.split(2, dim=1), [S]),
    "chunk": (lambda m, a: a.chunk(3, 0), [S]),
    "unbind": (lambda m, a: a.unbind(1), [S]),
    "narrow": (lambda m, a: a.narrow(1, 1, 2), [S]),
    "flip_roll": (lambda m, a: a.flip(1) + a.roll(1, 0) + a.roll(2), [S]),
    "getitem_basic": (lambda m, a: a[1:, None, ::2], [S]),
    "getitem_int": (lambda m, a: a[0] + a[..., -1].sum(), [S]),
    "getitem_tensor": (lambda m, a: a[:, _idx(m, [2, 0, 2], a)], [S]),
    "index_select": (lambda m, a: m.index_select(a, 1, _idx(m, [3, 1], a)), [S]),
    "gather": (lambda m, a: m.gather(a, 1, _idx(m, [[0, 3], [1, 1], [2, 0]], a)), [S]),
    "scatter": (lambda m, a, b: a.scatter(1, _idx(m, [[0, 3], [1, 2], [2, 0]], a), b), [S, (3, 2)]),
    "movedim": (lambda m, a: m.movedim(a, 0, -1), [S3]),
    "diagonal": (lambda m, a: a.diagonal(0, 0, 1), [(4, 4)]),
    "tril": (lambda m, a: a.tril() + a.triu(1), [(4, 4)]),
    "repeat": (lambda m, a: a.repeat(2, 1, 2), [S]),
    "sum_to_size": (lambda m, a: a.sum_to_size(1, 4), [S]),
    # linear algebra
    "matvec": (lambda m, a, b: a @ b, [S, (4,)]),
    "vecmat": (lambda m, a, b: a @ b, [(3,), S]),
    "matmat": (lambda m, a, b: a @ b, [S, (4, 2)]),
    "batched_matmul": (lambda m, a, b: a @ b, [S3, (4, 2)]),
    "mm": (lambda m, a, b: m.mm(a, b), [S, (4, 2)]),
    "bmm": (lambda m, a, b: m.bmm(a, b), [S3, (2, 4, 3)]),
    "dot": (lambda m, a, b: m.dot(a, b), [(4,), (4,)]),
    "outer": (lambda m, a, b: m.outer(a, b), [(3,), (4,)]),
    "linear": (lambda m, a, w, b: _nn(m).linear(a, w, b), [S, (2, 4), (2,)]),
    "einsum": (lambda m, a, b: m.einsum("ij,jk->ik", a, b), [S, (4, 2)]),
    "einsum_implicit": (lambda m, a, b: m.einsum("ij,kj", a, b), [S, (2, 4)]),
    "trace": (lambda m, a: m.trace(a), [(4, 4)]),
    # nn
    "layer_norm": (lambda m, a: _nn(m).layer_norm(a, (4,)), [S]),
    "conv2d": (lambda m, a, w: _nn(m).conv2d(a, w, padding=1), [(1, 2, 5, 5), (3, 2, 3, 3)]),
    "conv2d_unbatched": (lambda m, a, w: _nn(m).conv2d(a, w), [(2, 5, 5), (3, 2, 3, 3)]),
    "max_pool2d": (lambda m, a: _nn(m).max_pool2d(a, 2), [(2, 4, 4)]),
    "mse_loss": (lambda m, a, b: _nn(m).mse_loss(a, b) + _nn(m).l1_loss(a, b, reduction="sum"),
                 [S, S]),
    "embedding_weight": (lambda m, w: _nn(m).embedding(_idx(m, [[0, 2], [1, 1]], w), w),
                         [(3, 4)]),
    "layer_norm_affine": (lambda m, a, w, b: _nn(m).layer_norm(a, (4,), w, b), [S, (4,), (4,)]),
    "glu_normalize": (lambda m, a: _nn(m).glu(a, 1) + _nn(m).normalize(a, dim=1)[:, :2], [S]),
    "cosine_similarity": (lambda m, a, b: _nn(m).cosine_similarity(a, b, dim=-1), [S, S]),
    "pad": (lambda m, a: _nn(m).pad(a, (1, 2)), [S]),
    "conv1d": (lambda m, a, w, b: _nn(m).conv1d(a, w, b), [(2, 3, 6), (4, 3, 2), (4,)]),
    "avg_pool_group_norm": (lambda m, a: _nn(m).avg_pool2d(a, 2) + _nn(m).group_norm(
        a, 2)[..., :2, :2], [(1, 4, 4, 4)]),
    "batch_norm_eval": (lambda m, a: _nn(m).batch_norm(
        a, _stat(m, a, 0.1), _stat(m, a, 1.0), _stat(m, a, 0.5), _stat(m, a, -0.2)),
        [(2, 4, 3)]),
    "attention": (lambda m, q, k, v: _nn(m).scaled_dot_product_attention(q, k, v),
                  [(2, 3, 4), (2, 5, 4), (2, 5, 2)]),
    "cross_entropy": (lambda m, a: _nn(m).cross_entropy(a, _idx(m, [0, 3, 1], a)), [S]),
    "unflatten_diff": (lambda m, a: a.unflatten(1, (2, 2)).sum(-1) + m.diff(a, dim=1)[:, :2],
                       [S]),
    "index_add": (lambda m, a, b: m.index_add(a, 0, _idx(m, [2, 0], a), b), [S, (2, 4)]),
    "broadcast_clone": (lambda m, a: m.broadcast_to(a, (2, 3, 4)).clone() + a.double(), [S]),
}


def _in_dims_variants(specs):
    """All inputs batched at dim 0; the first batched at its last dim, the others not."""
    first_last = (-1 if specs[0] else 0,) + (None,) * (len(specs) - 1)
    return {"all0": (0,) * len(specs), "first_last": first_last}


def _batched_values(rng, shape, dim):
    if dim is None:
        return rng.standard_normal(shape)
    full = list(shape)
    full.insert(dim % (len(shape) + 1), B)
    return rng.standard_normal(full)


def _compare(ours, theirs, atol=1e-10):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            _compare(o, t, atol)
        return
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(host(ours), theirs.detach().numpy(), atol=atol, rtol=1e-10)


@pytest.mark.parametrize("variant", ["all0", "first_last"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_vmap_matches_torch(name, variant, device):
    fn, specs = CASES[name]
    in_dims = _in_dims_variants(specs)[variant]
    rng = np.random.default_rng(sum(map(ord, name)))
    pairs = [_pair(_batched_values(rng, s, d), device) for s, d in zip(specs, in_dims)]
    ours = gg.func.vmap(lambda *a: fn(gg, *a), in_dims=in_dims)(*[p[0] for p in pairs])
    theirs = tfunc.vmap(lambda *a: fn(torch, *a), in_dims=in_dims)(*[p[1] for p in pairs])
    _compare(ours, theirs)


def test_vmap_equals_stacking_per_example(device):
    """vmap(f)(xs) is stack([f(x) for x in xs]), for a function of many ops."""
    def f(x, w):
        h = (w @ x).tanh()
        return gg.cat([h.softmax(0), h.cumsum(0)[:2], x.reshape(2, 2).sum(1)])
    rng = np.random.default_rng(1)
    xs = gg.tensor(rng.standard_normal((5, 4)), device=device)
    w = gg.tensor(rng.standard_normal((3, 4)), device=device)
    ours = gg.func.vmap(f, in_dims=(0, None))(xs, w)
    looped = gg.stack([f(x, w) for x in xs])
    np.testing.assert_allclose(host(ours), host(looped), atol=1e-12)


def test_logical_shape_is_reported(device):
    seen = {}

    def f(x):
        seen.update(shape=x.shape, size=x.size(), size1=x.size(1), dim=x.dim(), ndim=x.ndim,
                    len=len(x), numel=x.numel(), rows=len(list(x)))
        return x
    gg.func.vmap(f, in_dims=1)(gg.zeros(2, 5, 3, device=device))
    assert seen == {"shape": (2, 3), "size": (2, 3), "size1": 3, "dim": 2, "ndim": 2,
                    "len": 2, "numel": 6, "rows": 2}


@pytest.mark.parametrize("out_dims", [0, 1, -1, 2])
def test_out_dims(out_dims, device):
    a, ta = _pair(np.random.default_rng(2).standard_normal((3, 4, 2)), device)
    ours = gg.func.vmap(lambda x: x * 2, in_dims=1, out_dims=out_dims)(a)
    theirs = tfunc.vmap(lambda x: x * 2, in_dims=1, out_dims=out_dims)(ta)
    _compare(ours, theirs)


def test_pytree_in_dims_and_out_dims(device):
    """Nested tuples, lists and dicts of inputs; one out_dim per output; an unbatched
    output is expanded; out_dims None keeps an unbatched output as it is."""
    rng = np.random.default_rng(3)
    x, tx = _pair(rng.standard_normal((4, 3)), device)
    y, ty = _pair(rng.standard_normal((3, 4)), device)
    z, tz = _pair(rng.standard_normal(4), device)

    def f(m):
        def g(pair, d, scale):
            a, b = pair
            return a * b + d["z"] * scale, a.sum(), d["z"].exp()
        return g
    in_dims = ((1, 0), {"z": None}, None)
    ours = gg.func.vmap(f(gg), in_dims=in_dims, out_dims=(1, 0, 0))((x, y), {"z": z}, 2.0)
    theirs = tfunc.vmap(f(torch), in_dims=in_dims, out_dims=(1, 0, 0))((tx, ty), {"z": tz},
                                                                       2.0)
    _compare(ours, theirs)
    kept = gg.func.vmap(lambda a: (a * 2, z), out_dims=(0, None))(x)
    assert kept[1] is z


def test_nested_vmap(device):
    rng = np.random.default_rng(4)
    a, ta = _pair(rng.standard_normal((2, 3, 4)), device)
    b, tb = _pair(rng.standard_normal((5, 4)), device)

    def pairwise(m):
        inner = lambda x, y: (x @ y).sin() + x.sum()  # noqa: E731
        return (gg.func.vmap if m is gg else tfunc.vmap)(
            (gg.func.vmap if m is gg else tfunc.vmap)(inner, in_dims=(None, 0)),
            in_dims=(0, None))
    _compare(pairwise(gg)(a, b), pairwise(torch)(ta, tb))
    # the same input batched at both levels, along different dims
    c, tc = _pair(rng.standard_normal((3, 2, 4)), device)
    f = lambda m: lambda x: x.softmax(-1) * x.sum()  # noqa: E731
    ours = gg.func.vmap(gg.func.vmap(f(gg), in_dims=1), in_dims=0)(c)
    theirs = tfunc.vmap(tfunc.vmap(f(torch), in_dims=1), in_dims=0)(tc)
    _compare(ours, theirs)


def test_chunk_size_gives_the_same_result(device):
    x = gg.tensor(np.random.default_rng(5).standard_normal((7, 3)), device=device)
    f = lambda x: (x.exp() @ x, x.sum())  # noqa: E731
    whole = gg.func.vmap(f)(x)
    for chunk in (1, 2, 3, 7, 10):
        parts = gg.func.vmap(f, chunk_size=chunk)(x)
        for p, w in zip(parts, whole):
            np.testing.assert_allclose(host(p), host(w), atol=1e-12)


def test_randomness(device):
    x = gg.ones(4, 200, device=device)
    with pytest.raises(RuntimeError, match="randomness"):
        gg.func.vmap(lambda t: F.dropout(t, 0.5))(x)
    different = host(gg.func.vmap(lambda t: F.dropout(t, 0.5), randomness="different")(x))
    same = host(gg.func.vmap(lambda t: F.dropout(t, 0.5), randomness="same")(x))
    assert not all(np.array_equal(different[0], row) for row in different[1:])
    assert all(np.array_equal(same[0], row) for row in same[1:])
    assert set(np.unique(same)) <= {0.0, 2.0} and 0 < (same[0] == 0).sum() < 200
    # no randomness without training: fine in 'error' mode
    out = gg.func.vmap(lambda t: F.dropout(t, 0.5, training=False))(x)
    assert host(out).tolist() == host(x).tolist()


# ---- composition with the autodiff transforms ---------------------------------------------
def test_per_example_gradients_match_torch(device):
    """vmap(grad(loss)) over a batch of examples, the weights shared: torch.func's recipe."""
    rng = np.random.default_rng(6)
    w, tw = _pair(rng.standard_normal((3, 4)), device)
    xs, txs = _pair(rng.standard_normal((5, 4)), device)
    ys, tys = _pair(rng.standard_normal((5, 3)), device)

    def loss(m):
        return lambda w, x, y: ((w @ x).tanh() - y).pow(2).sum() + x.logsumexp(0)
    ours = gg.func.vmap(gg.func.grad(loss(gg), argnums=(0, 1)), in_dims=(None, 0, 0))(w, xs, ys)
    theirs = tfunc.vmap(tfunc.grad(loss(torch), argnums=(0, 1)), in_dims=(None, 0, 0))(
        tw, txs, tys)
    _compare(ours, theirs)


def test_vmap_of_vjp_and_jvp_and_grad_of_vmap(device):
    rng = np.random.default_rng(7)
    x, tx = _pair(rng.standard_normal((4, 3)), device)
    v, tv = _pair(rng.standard_normal((4, 3)), device)

    def f(t):
        return t.sin() * t.sum()
    ours = gg.func.vmap(lambda a, b: gg.func.vjp(f, a)[1](b)[0])(x, v)
    theirs = tfunc.vmap(lambda a, b: tfunc.vjp(f, a)[1](b)[0])(tx, tv)
    _compare(ours, theirs)
    ours = gg.func.vmap(lambda a, b: gg.func.jvp(f, (a,), (b,)))(x, v)
    theirs = tfunc.vmap(lambda a, b: tfunc.jvp(f, (a,), (b,)))(tx, tv)
    _compare(ours, theirs)
    ours = gg.func.grad(lambda a: gg.func.vmap(f)(a).pow(2).sum())(x)
    theirs = tfunc.grad(lambda a: tfunc.vmap(f)(a).pow(2).sum())(tx)
    _compare(ours, theirs)


def test_vmap_of_a_vjp_fn_made_outside(device):
    """A vjp_fn made outside vmap still works on a batch of cotangents (one backward pass
    per example, with the fallback warning)."""
    x, tx = _pair(np.random.default_rng(8).standard_normal(3), device)
    eye, teye = _pair(np.eye(3), device)
    _, fn = gg.func.vjp(lambda t: t.exp() * t.sum(), x)
    _, tfn = tfunc.vjp(lambda t: t.exp() * t.sum(), tx)
    with pytest.warns(VmapFallbackWarning):
        ours = gg.func.vmap(fn)(eye)
    _compare(ours, tfunc.vmap(tfn)(teye))


def test_vmap_is_differentiable(device):
    x = gg.tensor(np.random.default_rng(9).standard_normal((3, 4)), device=device,
                  requires_grad=True)
    w = gg.tensor(np.random.default_rng(10).standard_normal((2, 4)), device=device,
                  requires_grad=True)
    f = lambda x, w: gg.func.vmap(lambda r: (w @ r).tanh().softmax(0))(x)  # noqa: E731
    assert gg.gradcheck(f, (x, w))


# ---- jacobians -----------------------------------------------------------------------------
def _jac_problem(device):
    rng = np.random.default_rng(11)
    w, tw = _pair(rng.standard_normal((5, 4)), device)
    x, tx = _pair(rng.standard_normal(4), device)
    y, ty = _pair(rng.standard_normal(5), device)

    def f(m, w):
        return lambda x, y: (w @ x).tanh() * y + x.sum().sin()
    return f(gg, w), f(torch, tw), (x, y), (tx, ty)


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_jacobians_match_torch(transform, argnums, device):
    f, tf, args, targs = _jac_problem(device)
    _compare(getattr(gg.func, transform)(f, argnums)(*args),
             getattr(tfunc, transform)(tf, argnums)(*targs))


def test_jacobians_with_aux_and_chunks(device):
    f, tf, args, targs = _jac_problem(device)
    aux_f = lambda x, y: (f(x, y), x.sum())  # noqa: E731
    aux_tf = lambda x, y: (tf(x, y), x.sum())  # noqa: E731
    for transform in ("jacrev", "jacfwd"):
        jac, aux = getattr(gg.func, transform)(aux_f, has_aux=True)(*args)
        tjac, taux = getattr(tfunc, transform)(aux_tf, has_aux=True)(*targs)
        _compare((jac, aux), (tjac, taux))
    _compare(gg.func.jacrev(f, chunk_size=2)(*args), tfunc.jacrev(tf, chunk_size=2)(*targs))


def test_hessian_matches_torch(device):
    rng = np.random.default_rng(12)
    x, tx = _pair(rng.standard_normal(5), device)
    a, ta = _pair(rng.standard_normal((5, 5)), device)

    def g(m, a):
        return lambda x: (x.sin() * x).sum() + x.logsumexp(0) + x @ a @ x.tanh()
    _compare(gg.func.hessian(g(gg, a))(x), tfunc.hessian(g(torch, ta))(tx))
    m, tm = _pair(rng.standard_normal((2, 3)), device)
    _compare(gg.func.hessian(lambda t: (t @ t.T).exp().sum())(m),
             tfunc.hessian(lambda t: (t @ t.T).exp().sum())(tm))


def test_jacobians_under_vmap(device):
    """Per-example Jacobians and Hessians: jacrev/hessian inside vmap."""
    rng = np.random.default_rng(13)
    xs, txs = _pair(rng.standard_normal((3, 4)), device)
    f = lambda x: x.sin() * x.sum()  # noqa: E731
    _compare(gg.func.vmap(gg.func.jacrev(f))(xs), tfunc.vmap(tfunc.jacrev(f))(txs))
    _compare(gg.func.vmap(gg.func.jacfwd(f))(xs), tfunc.vmap(tfunc.jacfwd(f))(txs))
    g = lambda x: (x.exp() * x).sum()  # noqa: E731
    _compare(gg.func.vmap(gg.func.hessian(g))(xs), tfunc.vmap(tfunc.hessian(g))(txs))


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_per_sample_gradients_of_a_module(loss, reduction, device):
    """The per-sample-gradient recipe: vmap(grad) of a classification loss of a layer."""
    rng = np.random.default_rng(15)
    w1, tw1 = _pair(rng.standard_normal((5, 4)), device)
    b1, tb1 = _pair(rng.standard_normal(5), device)
    xs, txs = _pair(rng.standard_normal((6, 2, 4)), device)
    labels = np.array([[0, 4], [2, 2], [1, 3], [4, 0], [3, 1], [2, -100]])
    ys, tys = gg.tensor(labels, device=device), torch.tensor(labels)
    weight, tweight = _pair(rng.uniform(0.5, 2.0, 5), device)

    def model(m):
        lin = (F if m is gg else TF).linear
        crit = getattr(_nn(m), loss)

        def f(w, b, x, y, wt):
            out = lin(x, w, b)
            if loss == "nll_loss":
                out = out.log_softmax(-1)
            total = crit(out, y, reduction=reduction)
            total = total if reduction != "none" else total.sum()
            return total + crit(out, y, weight=wt, reduction="sum") * 0.5 + \
                crit(out[0], y[0], reduction=reduction)
        return f
    in_dims = (None, None, 0, 0, None)
    ours = gg.func.vmap(gg.func.grad(model(gg), argnums=(0, 1)), in_dims=in_dims)(
        w1, b1, xs, ys, weight)
    theirs = tfunc.vmap(tfunc.grad(model(torch), argnums=(0, 1)), in_dims=in_dims)(
        tw1, tb1, txs, tys, tweight)
    _compare(ours, theirs)


# ---- the fallback and the errors -----------------------------------------------------------
@pytest.mark.filterwarnings("default::gpugrad.func.batching.VmapFallbackWarning")
def test_ops_without_a_rule_run_per_example(device):
    rng = np.random.default_rng(14)
    a, ta = _pair(rng.standard_normal((3, 2)), device)
    b, tb = _pair(rng.standard_normal(4), device)
    with pytest.warns(VmapFallbackWarning, match="meshgrid"):
        ours = gg.func.vmap(lambda x: gg.meshgrid(x, b, indexing="ij")[0].sum(0))(a)
    _compare(ours, tfunc.vmap(lambda x: torch.meshgrid(x, tb, indexing="ij")[0].sum(0))(ta))


def test_errors_match_torch_kinds(device):
    x = gg.ones(2, 3, device=device)
    vmap = gg.func.vmap
    cases = [
        (lambda: vmap(lambda a, b: a + b)(x, gg.ones(3, 3, device=device)), ValueError,
         "same size"),
        (lambda: vmap(lambda a: a, in_dims=5)(x), ValueError, "in_dim"),
        (lambda: vmap(lambda a: a, in_dims=(0, 0))(x), ValueError, "structure"),
        (lambda: vmap(lambda a: a, in_dims=None)(x), ValueError, "in_dims"),
        (lambda: vmap(lambda a: a, in_dims="a")(x), ValueError, "in_dims"),
        (lambda: vmap(lambda a, n: a, in_dims=(0, 0))(x, 3), ValueError, "non-Tensor"),
        (lambda: vmap(lambda a: a, in_dims=(None,))(x), ValueError, "batched"),
        (lambda: vmap(lambda a: a)(), ValueError, "no inputs"),
        (lambda: vmap(lambda a: 3)(x), ValueError, "only return Tensors"),
        (lambda: vmap(lambda a: a, out_dims=None)(x), ValueError, "out_dim is None"),
        (lambda: vmap(lambda a: a, out_dims=3)(x), IndexError, "out of range"),
        (lambda: vmap(lambda a: a, out_dims=(0, 0))(x), ValueError, "out_dims"),
        (lambda: vmap(lambda a: a, randomness="bad")(x), RuntimeError, "randomness"),
        (lambda: vmap(lambda a: a, chunk_size=0)(x), ValueError, "chunk_size"),
        (lambda: vmap(lambda a: a.item())(x), RuntimeError, "item"),
        (lambda: vmap(lambda a: a.add_(1))(x), RuntimeError, "vmap"),
        (lambda: vmap(lambda a: a.sum(2))(x), IndexError, "out of range"),
        (lambda: vmap(lambda a: a @ gg.ones(4, device=device))(x), RuntimeError, "matmul"),
    ]
    for fn, kind, words in cases:
        with pytest.raises(kind, match=words):
            fn()


def test_inplace_setitem_raises_not_implemented(device):
    def f(a):
        a[0] = 1.0
        return a
    with pytest.raises(NotImplementedError, match="setitem"):
        gg.func.vmap(f)(gg.ones(2, 3, device=device))


def test_torch_raises_the_same_kinds():
    """The kinds above are torch.func.vmap's (a check that the table stays honest)."""
    x = torch.ones(2, 3)
    with pytest.raises(ValueError):
        tfunc.vmap(lambda a, b: a + b)(x, torch.ones(3, 3))
    with pytest.raises(ValueError):
        tfunc.vmap(lambda a: a, in_dims=5)(x)
    with pytest.raises(ValueError):
        tfunc.vmap(lambda a: 3)(x)
    with pytest.raises(RuntimeError):
        tfunc.vmap(lambda a: a, randomness="bad")(x)
    with pytest.raises(IndexError):
        tfunc.vmap(lambda a: a, out_dims=3)(x)
