"""The batching rules of the commonly used ops, each checked three ways in float64: against
a Python loop of the op over the examples, against ``torch.func.vmap`` on identical inputs,
and composed with ``grad`` (per-example gradients, against ``torch.func``). No case may
fall back to the per-example loop: the fallback's warning is an error here.

A case is a function of the namespace (``gg`` or ``torch``) and the inputs, the input
specs, and the in_dims variants to try. A spec is a shape (float64 normal values) or
``(shape, n)`` (int64 values in [0, n): indices and class labels); ``grad`` names the
argument differentiated (None for integer results)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from torch import func as tfunc

import gpugrad as gg
import gpugrad.nn.functional as F
from func_testing import host

pytestmark = [
    pytest.mark.filterwarnings("error::gpugrad.func.batching.VmapFallbackWarning"),
    # torch.func's own per-example loops (bilinear, the margin losses) and copies
    pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning"),
    pytest.mark.filterwarnings("ignore:torch.searchsorted:UserWarning"),
]

B = 3  # batch size


def _nn(m):
    return F if m is gg else TF


def _sorted(m, s):
    return m.sort(s, -1)[0]


def case(fn, specs, in_dims=((0,),), grad=0):
    """``in_dims``: variants, each an in_dims tuple (one entry: the same for all inputs)."""
    return fn, specs, [d * len(specs) if len(d) == 1 else d for d in in_dims], grad


CASES = {
    # the ops named by the issue, against a loop and under grad
    "softmax": case(lambda m, a: a.softmax(-1) * a.log_softmax(0), [(4, 5)], [(0,), (1,)]),
    "log_softmax_fn": case(lambda m, a: _nn(m).log_softmax(a, dim=1), [(2, 5)]),
    "layer_norm": case(lambda m, a: _nn(m).layer_norm(a, (5,)), [(4, 5)]),
    "layer_norm_affine": case(lambda m, a, w, b: _nn(m).layer_norm(a, (4, 5), w, b),
                              [(2, 4, 5), (4, 5), (4, 5)], [(0, None, None), (0,)]),
    "batch_norm_eval_affine": case(lambda m, a, w, b: _nn(m).batch_norm(
        a, m.zeros(4, dtype=a.dtype, device=a.device),
        m.ones(4, dtype=a.dtype, device=a.device) * 2.0, w, b),
        [(2, 4, 3), (4,), (4,)], [(0,), (None, 0, 0)], grad=1),
    "group_norm_affine": case(lambda m, a, w, b: _nn(m).group_norm(a, 2, w, b),
                              [(2, 4, 3), (4,), (4,)], [(0,), (0, None, None)], grad=1),
    "cross_entropy": case(lambda m, a, y: _nn(m).cross_entropy(a, y), [(4, 5), ((4,), 5)]),
    "cross_entropy_unbatched_target": case(
        lambda m, a, y: _nn(m).cross_entropy(a, y, label_smoothing=0.1),
        [(4, 5), ((4,), 5)], [(0, None)]),
    "embedding_indices": case(lambda m, i, w: _nn(m).embedding(i, w), [((2, 3), 6), (6, 4)],
                              [(0, None)], grad=1),
    "embedding_table": case(lambda m, i, w: _nn(m).embedding(i, w), [((2, 3), 6), (6, 4)],
                            [(None, 0)], grad=1),
    "embedding_padding_idx": case(lambda m, i, w: _nn(m).embedding(i, w, padding_idx=-2),
                                  [((2, 3), 6), (6, 4)], [(0, None)], grad=None),
    "conv2d": case(lambda m, a, w, b: _nn(m).conv2d(a, w, b, padding=1),
                   [(2, 3, 5, 5), (4, 3, 3, 3), (4,)], [(0, None, None), (0,)]),
    "conv2d_unbatched_input": case(lambda m, a, w: _nn(m).conv2d(a, w, stride=2),
                                   [(3, 5, 5), (2, 3, 3, 3)], [(0, None), (1,)]),
    "conv1d_groups": case(lambda m, a, w, b: _nn(m).conv1d(a, w, b, groups=2),
                          [(2, 4, 6), (6, 2, 3), (6,)], [(0,), (None, 0, 0)], grad=1),
    "conv_transpose2d": case(lambda m, a, w, b: _nn(m).conv_transpose2d(a, w, b, stride=2),
                             [(2, 3, 3, 3), (3, 2, 2, 2), (2,)], [(0,), (0, None, None)],
                             grad=1),
    "conv_transpose1d_groups": case(lambda m, a, w: _nn(m).conv_transpose1d(
        a, w, groups=2, padding=1), [(4, 5), (4, 3, 3)], [(0,), (None, 0)]),
    # ops that ran once per example before
    "addmm": case(lambda m, i, a, b: m.addmm(i, a, b, beta=0.5, alpha=2.0),
                  [(2,), (3, 4), (4, 2)], [(0,), (None, 0, None)], grad=1),
    "kron": case(lambda m, a, b: m.kron(a, b), [(2, 2), (2, 3)], [(0,), (0, None)]),
    "cdist": case(lambda m, a, b: m.cdist(a, b), [(3, 4), (5, 4)], [(0,), (None, 0)]),
    "bilinear": case(lambda m, a, b, w, c: _nn(m).bilinear(a, b, w, c),
                     [(3, 4), (3, 2), (5, 4, 2), (5,)], [(0, 0, None, None), (0,)]),
    "diag_vector": case(lambda m, a: m.diag(a, 1) + m.diag(a, -1) * 2 + m.diag(a)[0, 0], [(3,)]),
    "diag_matrix": case(lambda m, a: m.diag(a) + m.diag(a, -1).sum(), [(3, 4)], [(0,), (1,)]),
    "hstack_vstack": case(lambda m, a, b: m.hstack([a, b]).sum() + m.vstack([a, a]),
                          [(4,), (2,)], [(0,), (0, None)]),
    "repeat_interleave": case(lambda m, a: m.repeat_interleave(a, 2, dim=1)
                              + m.repeat_interleave(a, 2).reshape(3, 8), [(3, 4)]),
    "searchsorted": case(lambda m, s, v: m.searchsorted(_sorted(m, s), v),
                         [(5,), (2, 3)], [(0,), (None, 0), (0, None)], grad=None),
    "searchsorted_rows": case(lambda m, s, v: m.searchsorted(_sorted(m, s), v, right=True),
                              [(2, 5), (2, 3)], [(0,), (0, None)], grad=None),
    "prelu": case(lambda m, a, w: _nn(m).prelu(a, w), [(2, 4, 3), (4,)], [(0,), (0, None)]),
    "instance_norm": case(lambda m, a, w, b: _nn(m).instance_norm(a, weight=w, bias=b),
                          [(2, 3, 5), (3,), (3,)], [(0, None, None), (0,)], grad=1),
    "interpolate_bilinear": case(lambda m, a: _nn(m).interpolate(
        a, scale_factor=2, mode="bilinear", align_corners=False), [(1, 2, 3, 3)]),
    "interpolate_nearest": case(lambda m, a: _nn(m).interpolate(a, size=6), [(2, 2, 4)]),
    "unfold_fold": case(lambda m, a: _nn(m).fold(_nn(m).unfold(a, 2), (4, 4), 2),
                        [(1, 2, 4, 4)]),
    "margin_ranking_loss": case(lambda m, a, b, c: _nn(m).margin_ranking_loss(
        a, b, m.sign(c)), [(4,), (4,), (4,)], [(0,), (0, 0, None)]),
    "cosine_embedding_loss": case(lambda m, a, b, c: _nn(m).cosine_embedding_loss(
        a, b, m.sign(c), reduction="sum"), [(3, 4), (3, 4), (3,)]),
    "triplet_margin_loss": case(lambda m, a, b, c: _nn(m).triplet_margin_loss(
        a, b, c, margin=2.0), [(3, 4), (3, 4), (3, 4)], [(0,), (0, None, 0)]),
    "getitem_batched_index": case(lambda m, a, i: a[:, i] + a[i, 1:3].sum(),
                                  [(4, 5), ((2,), 4)], [(0,), (None, 0), (1, 0)]),
    "getitem_two_indices": case(lambda m, a, i, j: a[i, j], [(4, 5), ((3,), 4), ((3,), 5)],
                                [(0,), (None, 0, None)]),
    "getitem_int_and_index": case(lambda m, a, i: a[0, :, i] + a[i, 1][:, :5].T,
                                  [(4, 5, 6), ((2,), 4)], [(0,), (None, 0), (0, None)]),
    "getitem_indexes_apart": case(lambda m, a, i, j: a[i, :, j], [(4, 5, 6), ((2,), 4),
                                                                  ((2,), 6)],
                                  [(0,), (0, None, None), (None, 0, None)]),
    "index_select_batched_index": case(lambda m, a, i: m.index_select(a, -1, i),
                                       [(4, 5), ((3,), 5)], [(0,), (None, 0)]),
}


def _value(rng, spec, dim):
    shape, high = spec if isinstance(spec[0], tuple) else (spec, None)
    if dim is not None:
        shape = list(shape)
        shape.insert(dim % (len(shape) + 1), B)
    if high is None:
        return rng.standard_normal(shape)
    return rng.integers(0, high, shape)


def _inputs(name, in_dims, device):
    fn, specs, _, _ = CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    values = [_value(rng, s, d) for s, d in zip(specs, in_dims)]
    return ([gg.tensor(v, device=device) for v in values], [torch.tensor(v) for v in values])


def _variants():
    return [(name, d) for name, (_, _, dims, _) in sorted(CASES.items()) for d in dims]


def _example(t, dim, i):
    return t if dim is None else t[(slice(None),) * (dim % t.ndim) + (i,)]


def _compare(ours, theirs, atol=1e-10):
    if isinstance(theirs, (tuple, list)):
        for o, t in zip(ours, theirs):
            _compare(o, t, atol)
        return
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else host(theirs)
    assert host(ours).shape == theirs.shape
    np.testing.assert_allclose(host(ours), theirs, atol=atol, rtol=1e-10)


@pytest.mark.parametrize("name,in_dims", _variants())
def test_rule_matches_a_loop_and_torch(name, in_dims, device):
    fn, _, _, _ = CASES[name]
    ours_in, torch_in = _inputs(name, in_dims, device)
    ours = gg.func.vmap(lambda *a: fn(gg, *a), in_dims=in_dims)(*ours_in)
    looped = gg.stack([fn(gg, *[_example(t, d, i) for t, d in zip(ours_in, in_dims)])
                       for i in range(B)])
    _compare(ours, looped, atol=1e-12)
    theirs = tfunc.vmap(lambda *a: fn(torch, *a), in_dims=in_dims)(*torch_in)
    _compare(ours, theirs)


@pytest.mark.parametrize("name,in_dims", [v for v in _variants() if CASES[v[0]][3] is not None])
def test_rule_composes_with_grad(name, in_dims, device):
    """vmap(grad(f)): each example's gradient of a scalar of f's result."""
    fn, _, _, arg = CASES[name]
    ours_in, torch_in = _inputs(name, in_dims, device)

    def loss(m):
        return lambda *a: (fn(m, *a) * 0.5).sin().sum()
    ours = gg.func.vmap(gg.func.grad(loss(gg), argnums=arg), in_dims=in_dims)(*ours_in)
    theirs = tfunc.vmap(tfunc.grad(loss(torch), argnums=arg), in_dims=in_dims)(*torch_in)
    _compare(ours, theirs)


@pytest.mark.parametrize("name,in_dims", [v for v in _variants() if CASES[v[0]][3] is not None])
def test_rule_composes_with_jvp(name, in_dims, device):
    """vmap(jvp(f)): each example's forward-mode derivative along its own tangent, against
    a loop of jvp over the examples and against torch.func (where torch has the op's
    forward-mode derivative)."""
    fn, _, _, arg = CASES[name]
    ours_in, torch_in = _inputs(name, in_dims, device)
    values = np.random.default_rng(1).standard_normal(tuple(torch_in[arg].shape))
    ours_in.append(gg.tensor(values, device=device))
    torch_in.append(torch.tensor(values))

    def pushed(m, jvp):
        def f(*a):
            rest, tangent = list(a[:-1]), a[-1]

            def along(x):
                return fn(m, *rest[:arg], x, *rest[arg + 1:])
            return jvp(along, (rest[arg],), (tangent,))
        return f
    dims = tuple(in_dims) + (in_dims[arg],)
    ours = gg.func.vmap(pushed(gg, gg.func.jvp), in_dims=dims)(*ours_in)
    looped = [pushed(gg, gg.func.jvp)(*[_example(t, d, i) for t, d in zip(ours_in, dims)])
              for i in range(B)]
    _compare(ours, [gg.stack(parts) for parts in zip(*looped)], atol=1e-12)
    if name != "cdist":  # torch has no forward-mode derivative of cdist
        theirs = tfunc.vmap(pushed(torch, tfunc.jvp), in_dims=dims)(*torch_in)
        _compare(ours, theirs)


def test_grad_of_vmap_is_checked_numerically(device):
    """Gradients through the new rules, by central differences (gradcheck)."""
    rng = np.random.default_rng(0)
    a = gg.tensor(rng.standard_normal((3, 2, 3)), device=device, requires_grad=True)
    w = gg.tensor(rng.standard_normal((5, 3, 3)), device=device, requires_grad=True)
    idx = gg.tensor(rng.integers(0, 2, (3, 2)), device=device)

    def f(a, w):
        def one(x, i):
            mixed = F.bilinear(x, x, w) + gg.kron(x[i], x[:1, :1]).sum()
            square = gg.diag(mixed.flatten()[:4], 1)
            return square[:2, :4] + gg.addmm(mixed[0, :4], x[:, :2].T, x[:, :2].repeat(1, 2))
        return gg.func.vmap(one)(a, idx)
    assert gg.gradcheck(f, (a, w))


def test_rule_table_keeps_the_fallback_for_data_dependent_ops(device):
    """Ops whose result shape depends on the values still run per example, and say so."""
    x = gg.tensor([[1.0, 0.0], [0.0, 2.0]], device=device)
    with pytest.warns(gg.func.batching.VmapFallbackWarning, match="nonzero"):
        with pytest.raises(RuntimeError, match="different shapes"):
            gg.func.vmap(lambda t: gg.nonzero(t > 1.5))(gg.tensor([[1.0, 2.0], [3.0, 4.0]],
                                                                   device=device))
    with pytest.warns(gg.func.batching.VmapFallbackWarning, match="masked_select"):
        out = gg.func.vmap(lambda t: gg.masked_select(t, t > 0.5))(x)
    assert host(out).tolist() == [[1.0], [2.0]]


@pytest.mark.filterwarnings("default::gpugrad.func.batching.VmapFallbackWarning")
def test_per_example_grads_of_an_embedding_with_padding_run_per_example(device):
    """The padding row passes a tangent but no gradient: per example, and right."""
    (i, w), (ti, tw) = _inputs("embedding_padding_idx", (0, None), device)

    def loss(m):
        return lambda w, i: (_nn(m).embedding(i, w, padding_idx=-2) * 0.5).sin().sum()
    with pytest.warns(gg.func.batching.VmapFallbackWarning, match="embedding"):
        ours = gg.func.vmap(gg.func.grad(loss(gg)), in_dims=(None, 0))(w, i)
    _compare(ours, tfunc.vmap(tfunc.grad(loss(torch)), in_dims=(None, 0))(tw, ti))


# The public ops that run once per example inside vmap, and why.
WITHOUT_A_RULE = {
    "allclose": "a Python bool", "equal": "a Python bool",
    "copy_": "in place: raises", "fill_": "in place: raises", "setitem": "in place: raises",
    "nonzero": "shape from the values", "masked_select": "shape from the values",
    "unique": "shape from the values",
    "embedding_bag": "bags cut on the host from the index values",
    "meshgrid": "reads its tensors' sizes from their arrays",
}


def _public_ops():
    import importlib
    import pkgutil
    names = set()
    for package in (gg.ops, gg.nn.functional):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for value in vars(module).values():
                code = getattr(value, "__code__", None)
                if code is not None and code.co_filename.startswith("<gpugrad op boundary"):
                    names.add(code.co_name)
    return names


def test_every_public_op_has_a_rule_or_a_reason():
    """A new op without a batching rule shows up here (add a rule, or say why not)."""
    from gpugrad.func.batching_rules import RULES
    public = _public_ops()
    assert len(public) > 150
    assert public - set(RULES) == set(WITHOUT_A_RULE)
    assert set(RULES) <= public


def test_every_family_module_registers_distinct_ops():
    from gpugrad.func import batching_rules as rules
    families = [rules.elementwise, rules.reduction, rules.shape, rules.indexing, rules.linalg,
                rules.nn, rules.loss, rules.random]
    names = [n for family in families for n in family.RULES]
    assert len(names) == len(set(names)) == len(rules.RULES)
    assert {"softmax", "log_softmax", "layer_norm", "cross_entropy", "embedding", "conv2d",
            "matmul", "sum", "getitem", "reshape", "addmm", "diag"} <= set(rules.RULES)


def test_errors_name_the_logical_shapes(device):
    """A rule that reaches the op with a bad rank raises the op's own error."""
    x = gg.ones(2, 3, 4, device=device)
    with pytest.raises(NotImplementedError, match="3-d, 4-d or 5-d"):
        gg.func.vmap(lambda t: F.interpolate(t, size=2))(x)
    with pytest.raises(RuntimeError, match="4-d"):
        gg.func.vmap(lambda t: F.unfold(t, 2))(x)
    with pytest.raises(ValueError, match="instance_norm"):
        gg.func.vmap(lambda t: F.instance_norm(t))(x)
    with pytest.raises(RuntimeError, match="diag"):
        gg.func.vmap(lambda t: gg.diag(t))(gg.ones(2, 3, 4, 5, device=device))


@pytest.mark.parametrize("name,fn,words", [
    ("reshape", lambda t: t.reshape(5), "size 4 into shape (5,)"),
    ("expand", lambda t: t.expand(2, 5), "(4,)"),
    ("add", lambda t: t + gg.ones(3, dtype=t.dtype, device=t.device), "(4,) (3,)"),
    ("matmul", lambda t: t @ gg.ones(3, 2, dtype=t.dtype, device=t.device), "(4,) @ (3, 2)"),
    ("layer_norm", lambda t: F.layer_norm(t, (3,)), "got input of shape (4,)"),
    ("getitem", lambda t: t[5], "axis 0 with size 4"),
])
def test_errors_of_bad_arguments_name_what_the_function_sees(name, fn, words, device):
    """A bad argument fails on the physical tensors; the error raised is the op's own on
    one example, so it names the logical shapes, as outside vmap."""
    x = gg.ones(2, 4, dtype=gg.float64, device=device)
    with pytest.raises(Exception) as caught:
        fn(x[0])
    with pytest.raises(type(caught.value)) as batched:
        gg.func.vmap(fn)(x)
    assert words in str(batched.value) and name in str(batched.value)
    assert str(batched.value) == str(caught.value)
