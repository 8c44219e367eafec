"""The ops beyond the arithmetic core: // % fmod, exp2/expm1/log2/log10/rsqrt/square/
reciprocal/erf, the roundings, prod/cumsum/cumprod/norm(dim)/count_nonzero, sort/argsort/topk,
gather/scatter_add/index_select, tril/triu/diagonal and outer.

Gradients (first and second order) and forward-mode tangents are checked against central
differences in float64 without PyTorch; forward values, dtypes and gradients at the
awkward points (zeros in a product) are compared with PyTorch where it is installed.
"""
import numpy as np
import pytest

import gpugrad as gg

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

INF = float("inf")


def _host(t):
    return t.cpu().numpy()


def _any(shape):
    return lambda rng: rng.standard_normal(shape)


def _pos(shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def _away(shape):
    # |x| >= 0.5, away from the divisor's sign change in % and fmod
    return lambda rng: np.where(rng.random(shape) < 0.5, -1.0, 1.0) * rng.uniform(0.5, 2.0,
                                                                                   shape)


def _noncontig(shape):
    return lambda rng: rng.standard_normal(shape[::-1]).T


def _fixed(values):
    return lambda rng: np.asarray(values, dtype=np.float64)


def _idx(device, values):
    return gg.tensor(np.asarray(values, dtype=np.int64), device=device)


# name -> (function of float64 tensors, input makers). Inputs avoid the ops' jumps and ties.
CASES = {
    "floor_divide": (lambda a, b: a // b * a, [_any((3, 4)), _away((4,))]),
    "rfloordiv": (lambda a: 7.0 // a + a, [_away((5,))]),
    "remainder_bcast": (lambda a, b: a % b, [_any((3, 4)), _away((4,))]),
    "remainder_0d": (lambda a, b: a % b, [_any(()), _away((3,))]),
    "rmod": (lambda a: 5.0 % a, [_away((5,))]),
    "remainder_nc": (lambda a, b: gg.remainder(a, b), [_noncontig((3, 4)), _away((3, 4))]),
    "fmod": (lambda a, b: gg.fmod(a, b), [_any((3, 4)), _away((3, 1))]),
    "exp2": (lambda a: a.exp2(), [_any((3, 4))]),
    "expm1": (lambda a: a.expm1(), [_noncontig((3, 4))]),
    "log2": (lambda a: a.log2(), [_pos((3, 4))]),
    "log10": (lambda a: a.log10(), [_pos(())]),
    "rsqrt": (lambda a: a.rsqrt(), [_pos((3, 4))]),
    "square": (lambda a: a.square(), [_any((3, 4))]),
    "reciprocal": (lambda a: a.reciprocal(), [_away((3, 4))]),
    "erf": (lambda a: a.erf(), [_noncontig((3, 4))]),
    "roundings": (lambda a: a.floor() * a + a.ceil() + a.round() * a + a.trunc() * a * a,
                  [_any((3, 4))]),
    "prod_all": (lambda a: a.prod(), [_any((2, 3))]),
    "prod_dim": (lambda a: a.prod(1), [_noncontig((3, 4))]),
    "prod_keepdim": (lambda a: a.prod(0, keepdim=True), [_any((3, 4))]),
    "prod_0d": (lambda a: a.prod(0), [_any(())]),
    "prod_one_zero": (lambda a: a.prod(1), [_fixed([[1.5, 0.0, -2.0, 0.7], [1.0, 2.0, 3.0,
                                                                            0.5]])]),
    "prod_two_zeros": (lambda a: a.prod(1), [_fixed([[1.5, 0.0, -2.0, 0.0], [0.0, 0.0, 3.0,
                                                                             0.5]])]),
    "cumsum": (lambda a: a.cumsum(1), [_noncontig((3, 4))]),
    "cumsum_0d": (lambda a: a.cumsum(0) * a, [_any(())]),
    "cumprod": (lambda a: a.cumprod(-1), [_any((3, 4))]),
    "cumprod_dim0": (lambda a: a.cumprod(0), [_noncontig((4, 3))]),
    "cumprod_zeros": (lambda a: a.cumprod(1), [_fixed([[1.5, 0.0, -2.0, 0.7],
                                                       [0.0, 0.0, 3.0, 0.5],
                                                       [1.0, 2.0, 3.0, 0.0],
                                                       [1.1, -0.5, 2.0, 0.9]])]),
    "norm_dim": (lambda a: a.norm(dim=1), [_any((3, 4))]),
    "norm_keepdim": (lambda a: a.norm(2, dim=(0, 2), keepdim=True), [_any((2, 3, 2))]),
    "norm_1_dim": (lambda a: a.norm(1, dim=0), [_away((3, 4))]),
    "norm_inf_dim": (lambda a: a.norm(INF, dim=-1), [_any((3, 4))]),
    "sort": (lambda a: a.sort(1).values, [_noncontig((3, 4))]),
    "sort_descending": (lambda a: a.sort(0, descending=True).values, [_any((3, 4))]),
    "topk": (lambda a: a.topk(2).values, [_any((3, 5))]),
    "topk_smallest": (lambda a: a.topk(2, dim=0, largest=False).values, [_any((4, 3))]),
    "gather": (lambda a: a.gather(1, _idx(a.device, [[0, 0, 3], [2, 1, 1]])),
               [_any((2, 4))]),
    "gather_small_index": (lambda a: a.gather(0, _idx(a.device, [[2, 0]])),
                           [_noncontig((3, 4))]),
    "scatter_add": (lambda a, s: a.scatter_add(1, _idx(a.device, [[0, 0, 3], [2, 1, 1]]), s),
                    [_any((2, 4)), _any((2, 3))]),
    "scatter_add_big_src": (lambda a, s: a.scatter_add(0, _idx(a.device, [[1, 0]]), s),
                            [_any((2, 3)), _any((2, 3))]),
    "index_select": (lambda a: a.index_select(1, _idx(a.device, [3, 0, 3])),
                     [_noncontig((3, 4))]),
    "tril": (lambda a: a.tril(), [_any((2, 3, 4))]),
    "triu_offset": (lambda a: a.triu(-1), [_noncontig((4, 3))]),
    "diagonal": (lambda a: a.diagonal(), [_any((3, 4))]),
    "diagonal_offset_dims": (lambda a: a.diagonal(1, 0, 2), [_any((3, 2, 4))]),
    "outer": (lambda a, b: gg.outer(a, b), [_any((3,)), _any((4,))]),
}
CASE_IDS = sorted(CASES)


def _inputs(name, device):
    rng = np.random.default_rng(0)
    return [gg.tensor(make(rng), device=device) for make in CASES[name][1]]


def _numeric_jvp(fn, inputs, tangents, eps=1e-6):
    def shifted(sign):
        return _host(fn(*[x + t * (sign * eps) for x, t in zip(inputs, tangents)]))
    return (shifted(1.0) - shifted(-1.0)) / (2 * eps)


@pytest.mark.parametrize("name", CASE_IDS)
def test_gradient_matches_finite_differences(name, device):
    inputs = [x.requires_grad_() for x in _inputs(name, device)]
    assert gg.gradcheck(CASES[name][0], inputs)


@pytest.mark.parametrize("name", CASE_IDS)
def test_second_derivative(name, device):
    fn = CASES[name][0]
    inputs = [x.requires_grad_() for x in _inputs(name, device)]
    cotangent = gg.tensor(np.random.default_rng(4).standard_normal(fn(*inputs).shape),
                          device=device)

    def first(*xs):
        with gg.enable_grad():
            xs = [x if x.requires_grad else x.detach().requires_grad_() for x in xs]
            grads = gg.grad(fn(*xs), xs, grad_outputs=cotangent, create_graph=True,
                            allow_unused=True)
        return tuple(g for g in grads if g is not None)
    assert gg.gradcheck(first, inputs, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", CASE_IDS)
def test_jvp_matches_finite_differences_and_vjp(name, device):
    fn = CASES[name][0]
    inputs = _inputs(name, device)
    rng = np.random.default_rng(1)
    tangents = [gg.tensor(rng.standard_normal(x.shape), device=device) for x in inputs]
    out, tangent_out = gg.func.jvp(fn, inputs, tangents)
    assert tangent_out.shape == out.shape and tangent_out.dtype == out.dtype
    np.testing.assert_allclose(_host(tangent_out), _numeric_jvp(fn, inputs, tangents),
                               atol=1e-6, rtol=1e-5)
    u = gg.tensor(rng.standard_normal(out.shape), device=device)
    _, vjp_fn = gg.func.vjp(fn, *inputs)
    lhs = float((_host(u) * _host(tangent_out)).sum())
    rhs = sum(float((_host(g) * _host(t)).sum()) for g, t in zip(vjp_fn(u), tangents))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


def test_zero_gradient_ops(device):
    x = gg.tensor([1.5, -2.5, 0.3], dtype=gg.float64, device=device, requires_grad=True)
    y = gg.tensor([2.0, 2.0, -1.0], dtype=gg.float64, device=device, requires_grad=True)
    out = x.floor() + x.ceil() + x.round() + x.trunc() + x // y
    assert out.requires_grad
    gx, gy = gg.grad(out.sum(), [x, y])
    assert _host(gx).tolist() == [0.0] * 3 and _host(gy).tolist() == [0.0] * 3
    _, t = gg.func.jvp(lambda a: a.floor() + a // 2, (x.detach(),), (gg.ones_like(x),))
    assert _host(t).tolist() == [0.0] * 3


def test_remainder_and_fmod_signs(device):
    a = gg.tensor([5.0, -5.0, 5.0, -5.0], device=device)
    b = gg.tensor([3.0, 3.0, -3.0, -3.0], device=device)
    assert _host(a % b).tolist() == [2.0, 1.0, -1.0, -2.0]  # sign of the divisor
    assert _host(gg.fmod(a, b)).tolist() == [2.0, -2.0, 2.0, -2.0]  # sign of the dividend
    assert _host(a // b).tolist() == [1.0, -2.0, -2.0, 1.0]
    assert _host(7 % gg.tensor([2, -3], device=device)).tolist() == [1, -2]
    assert _host(7 // gg.tensor([2, -3], device=device)).tolist() == [3, -3]


@pytest.mark.parametrize("zeros", [0, 1, 2])
def test_prod_gradient_with_zeros(zeros, device):
    values = [[2.0, 3.0, -1.5, 0.5], [1.0, -2.0, 4.0, 3.0]]
    for k in range(zeros):
        values[0][2 * k + 1] = 0.0
    x = gg.tensor(values, dtype=gg.float64, device=device, requires_grad=True)
    raw = np.asarray(values)
    want = np.stack([[np.prod(np.delete(row, i)) for i in range(4)] for row in raw])
    (g,) = gg.grad(x.prod(1).sum(), [x])
    np.testing.assert_allclose(_host(g), want)
    x.grad = None
    (g,) = gg.grad(x.prod(), [x])
    np.testing.assert_allclose(_host(g), _all_others(raw))
    assert gg.gradcheck(lambda t: t.prod(1), [x])
    assert gg.gradcheck(lambda t: t.cumprod(1), [x])


def _all_others(raw):
    flat = raw.ravel()
    return np.array([np.prod(np.delete(flat, i)) for i in range(flat.size)]).reshape(raw.shape)


def test_sort_topk_and_argsort_forward(device):
    x = gg.tensor([[3.0, 1.0, 3.0, 2.0]], device=device)
    values, indices = x.sort(1, descending=True)
    assert _host(values).tolist() == [[3.0, 3.0, 2.0, 1.0]]
    assert _host(indices).tolist() == [[0, 2, 3, 1]]  # ties keep their order
    assert _host(x.argsort(1)).tolist() == [[1, 3, 0, 2]]
    values, indices = x.topk(3)
    assert _host(values).tolist() == [[3.0, 3.0, 2.0]] and indices.dtype == gg.int64
    with pytest.raises(IndexError):
        x.topk(5)


def test_gather_gradient_accumulates_repeats(device):
    x = gg.tensor([[1.0, 2.0, 3.0]], dtype=gg.float64, device=device, requires_grad=True)
    x.gather(1, _idx(device, [[2, 2, 0]])).sum().backward()
    assert _host(x.grad).tolist() == [[1.0, 0.0, 2.0]]


def test_count_nonzero_and_sign_of_bool(device):
    x = gg.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]], device=device)
    assert x.count_nonzero().item() == 3 and x.count_nonzero().dtype == gg.int64
    assert _host(x.count_nonzero(1)).tolist() == [2, 1]
    assert _host(gg.tensor([True, False], device=device).sign()).tolist() == [True, False]


# ---- against PyTorch ---------------------------------------------------------------------
def _arange(m, *shape):
    return m.arange(int(np.prod(shape))).reshape(*shape)


def _floats(m):
    return m.tensor([[1.5, -2.5, 0.5, 3.7], [-0.2, 2.5, -1.5, 4.0]])


FORWARD = {
    "floordiv_float": lambda m: _floats(m) // 0.7,
    "floordiv_int": lambda m: m.tensor([5, -5, 7]) // m.tensor([3, 3, -2]),
    "floordiv_int_float": lambda m: m.tensor([5, -5]) // 2.5,
    "rfloordiv": lambda m: 7 // m.tensor([2.0, -2.0]),
    "floor_divide_fn": lambda m: m.floor_divide(m.tensor([5, -5]), 2),
    "mod_float": lambda m: _floats(m) % -0.7,
    "mod_int": lambda m: m.tensor([5, -5]) % m.tensor([3, -3]),
    "rmod_int": lambda m: 7 % m.tensor([2, -3]),
    "remainder_fn": lambda m: m.remainder(_floats(m), 2),
    "fmod": lambda m: m.fmod(_floats(m), -2),
    "fmod_int": lambda m: m.fmod(m.tensor([5, -5]), 3),
    "exp2": lambda m: _floats(m).exp2(),
    "exp2_int": lambda m: m.exp2(m.tensor([1, 3])),
    "expm1": lambda m: m.expm1(_floats(m)),
    "log2": lambda m: m.log2(_floats(m).abs()),
    "log10_int": lambda m: m.tensor([1, 100]).log10(),
    "rsqrt": lambda m: _floats(m).abs().rsqrt(),
    "square": lambda m: m.square(_floats(m)),
    "square_int": lambda m: m.tensor([-3, 2]).square(),
    "reciprocal": lambda m: _floats(m).reciprocal(),
    "reciprocal_int": lambda m: m.tensor([2, 4]).reciprocal(),
    "erf": lambda m: m.erf(_floats(m)),
    "erf_int": lambda m: m.tensor([0, 1]).erf(),
    "floor": lambda m: m.floor(_floats(m)),
    "ceil": lambda m: _floats(m).ceil(),
    "round_half_even": lambda m: m.tensor([0.5, 1.5, 2.5, -0.5, -1.5]).round(),
    "round_decimals": lambda m: m.tensor([1.2345, -2.5551]).round(decimals=2),
    "trunc": lambda m: m.trunc(_floats(m)),
    "floor_int": lambda m: m.tensor([1, -2]).floor(),
    "sign_bool": lambda m: m.tensor([True, False]).sign(),
    "prod": lambda m: _floats(m).prod(),
    "prod_dim_keepdim": lambda m: _floats(m).prod(1, keepdim=True),
    "prod_int32": lambda m: m.tensor([2, 3], dtype=m.int32).prod(),
    "prod_bool": lambda m: m.tensor([True, True]).prod(),
    "prod_0d": lambda m: m.tensor(3.0).prod(0),
    "cumsum": lambda m: _floats(m).cumsum(1),
    "cumsum_int32": lambda m: m.tensor([1, 2], dtype=m.int32).cumsum(0),
    "cumsum_bool": lambda m: m.tensor([True, True]).cumsum(0),
    "cumsum_0d": lambda m: m.tensor(3.0).cumsum(0),
    "cumprod": lambda m: _floats(m).cumprod(-2),
    "cumprod_int": lambda m: m.cumprod(m.tensor([2, 3, 4]), 0),
    "norm_dim": lambda m: _floats(m).norm(dim=1),
    "norm_keepdim": lambda m: _floats(m).norm(dim=0, keepdim=True),
    "norm_1_dim": lambda m: _floats(m).norm(1, dim=1),
    "norm_inf_dim": lambda m: _floats(m).norm(INF, dim=0),
    "norm_fro_tuple": lambda m: _floats(m).norm("fro", dim=(0, 1)),
    "norm_p3_dim": lambda m: _floats(m).norm(3, dim=-1),
    "count_nonzero": lambda m: m.count_nonzero(m.tensor([[0, 1], [2, 0]])),
    "count_nonzero_dim": lambda m: m.tensor([[0, 1], [2, 3]]).count_nonzero(dim=1),
    "count_nonzero_tuple": lambda m: m.ones(2, 3, 4).count_nonzero(dim=(0, 2)),
    "sort": lambda m: tuple(_floats(m).sort()),
    "sort_dim0_desc": lambda m: tuple(_floats(m).sort(0, descending=True)),
    "sort_nan": lambda m: tuple(m.tensor([1.0, float("nan"), -1.0]).sort()),
    "sort_nan_desc": lambda m: tuple(m.tensor([1.0, float("nan"), -1.0]).sort(
        descending=True)),
    "sort_stable_ties": lambda m: tuple(m.tensor([2, 1, 2, 1]).sort(stable=True)),
    "sort_stable_ties_desc": lambda m: tuple(m.tensor([2, 1, 2, 1]).sort(descending=True,
                                                                         stable=True)),
    "sort_0d": lambda m: tuple(m.tensor(2.0).sort()),
    "sort_fn": lambda m: tuple(m.sort(_floats(m), 1)),
    "argsort": lambda m: _floats(m).argsort(),
    "argsort_desc": lambda m: m.argsort(_floats(m), dim=0, descending=True),
    "topk": lambda m: tuple(_floats(m).topk(2)),
    "topk_smallest_dim0": lambda m: tuple(m.topk(_floats(m), 1, dim=0, largest=False)),
    "topk_int": lambda m: tuple(m.tensor([1, 5, 3]).topk(2)),
    "gather": lambda m: _floats(m).gather(1, m.tensor([[3, 0], [1, 1]])),
    "gather_fn_neg_dim": lambda m: m.gather(_arange(m, 3, 4), -2, m.tensor([[2, 0, 1]])),
    "scatter_add": lambda m: m.zeros(2, 4).scatter_add(1, m.tensor([[3, 3], [0, 1]]),
                                                       m.ones(2, 2)),
    "scatter_add_dim0": lambda m: _arange(m, 3, 2).scatter_add(
        0, m.tensor([[2, 2]]), _arange(m, 2, 2)),
    "index_select": lambda m: _arange(m, 3, 4).index_select(1, m.tensor([3, 0, 3])),
    "index_select_0d_index": lambda m: m.index_select(_arange(m, 3, 4), 0, m.tensor(2)),
    "tril": lambda m: _arange(m, 3, 4).tril(),
    "tril_offset_batch": lambda m: m.tril(_arange(m, 2, 3, 3), 1),
    "triu": lambda m: _floats(m).triu(),
    "triu_neg": lambda m: m.triu(_arange(m, 4, 3), -1),
    "diagonal": lambda m: _arange(m, 3, 4).diagonal(),
    "diagonal_offset": lambda m: _arange(m, 3, 4).diagonal(2),
    "diagonal_neg_offset": lambda m: m.diagonal(_arange(m, 3, 4), -1),
    "diagonal_dims": lambda m: _arange(m, 2, 3, 4).diagonal(0, 2, 0),
    "diagonal_empty": lambda m: _arange(m, 2, 3).diagonal(5),
    "outer": lambda m: m.outer(m.tensor([1, 2]), m.tensor([0.5, 1.0, 2.0])),
}


def _describe(t, torch):
    if isinstance(t, torch.Tensor):
        return tuple(t.shape), str(t.dtype).replace("torch.", ""), t.detach().numpy()
    return t.shape, t.dtype.name, t.numpy()


def _assert_same(got, want, torch):
    got = list(got) if isinstance(got, tuple) else [got]
    want = list(want) if isinstance(want, tuple) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        (gs, gd, gv), (ws, wd, wv) = _describe(g, torch), _describe(w, torch)
        assert (gs, gd) == (ws, wd), f"gpugrad {gs} {gd}, torch {ws} {wd}"
        np.testing.assert_allclose(gv, wv, rtol=1e-6, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name", sorted(FORWARD))
def test_forward_matches_torch(name):
    torch = pytest.importorskip("torch")
    _assert_same(FORWARD[name](gg), FORWARD[name](torch), torch)


GRADS = {
    "remainder_fmod": lambda m, x: (x % 0.7 + x % (x.abs() + 0.1) + m.fmod(x, -0.4)).sum(),
    "prod_zeros_dim": lambda m, x: (m.where(x > 0.4, x, 0 * x).prod(1) * m.arange(3.)).sum(),
    "prod_one_zero_all": lambda m, x: m.where(x > -1.0, x, 0 * x).prod(),
    "cumprod_zeros": lambda m, x: (m.where(x > 0.4, x, 0 * x).cumprod(1) * x).sum(),
    "sort_desc": lambda m, x: (x.sort(1, descending=True).values * m.arange(4.)).sum(),
    "topk": lambda m, x: (x.topk(2, dim=0).values ** 2).sum(),
    "norm_dim_zero_row": lambda m, x: (x * m.tensor([[1.], [0.], [1.]])).norm(dim=1).sum(),
    "norm_inf_dim": lambda m, x: x.norm(INF, dim=1).sum(),
    "scatter_add": lambda m, x: (m.ones(3, 2, dtype=m.float64).scatter_add(
        1, m.tensor([[1, 1, 0, 1]] * 3), x) ** 2).sum(),
    "erf_rsqrt_log2": lambda m, x: (x.erf() + x.abs().rsqrt() + x.abs().log2()).sum(),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients_match_torch(name):
    torch = pytest.importorskip("torch")
    raw = np.array([[0.3, 1.2, 0.9, 1.7], [1.1, -0.5, 0.2, 2.0], [0.7, 0.8, -1.3, 0.1]])
    grads = []
    for m in (gg, torch):
        x = m.tensor(raw, requires_grad=True)
        GRADS[name](m, x).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, atol=1e-12)
