"""The core tensor layer against PyTorch: one expression, written once against a module ``m``,
runs as ``m = gpugrad`` and ``m = torch``; values, shapes, dtypes and gradients must agree.

Each case is a small function of the module, so a row of a table reads like the PyTorch
code a user would write. Where gpugrad knowingly differs (see README: ``max(dim=tuple)``
returns values only, ``.numpy()`` works on tensors that require grad), no case asks.
"""
import numpy as np
import pytest

import gpugrad as gg
from torch_parity import assert_same

torch = pytest.importorskip("torch")

# Edge values (log 0, 0 ** -1, std of a constant) are the point of several cases.
pytestmark = [pytest.mark.filterwarnings("ignore::RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph")]

INF, NAN = float("inf"), float("nan")


def _grad_api(m):
    return torch.autograd.grad if m is torch else gg.grad


def _arange(m, *shape, **kw):
    return m.arange(int(np.prod(shape)), **kw).reshape(*shape)


# ---- forward: values, shapes and dtypes --------------------------------------------------
FORWARD = {
    # type promotion with Python scalars and between tensors
    "int_times_float": lambda m: m.tensor([1, 2]) * 0.5,
    "int32_plus_float": lambda m: m.tensor([1, 2], dtype=m.int32) + 1.5,
    "int32_plus_int": lambda m: m.tensor([1, 2], dtype=m.int32) + 3,
    "float_minus_int_tensor": lambda m: 1.5 - m.tensor([1, 2]),
    "int_div_int": lambda m: m.tensor([1, 3]) / m.tensor([2, 2]),
    "int_div_scalar": lambda m: m.tensor([1, 3]) / 2,
    "scalar_div_int": lambda m: 1.0 / m.tensor([1, 4]),
    "bool_div_bool": lambda m: m.tensor([True, True]) / m.tensor([True, True]),
    "int_plus_float32": lambda m: m.tensor([1, 2]) + m.tensor([0.5, 0.5]),
    "int32_plus_int64": lambda m: m.tensor([1, 2], dtype=m.int32) + m.tensor([1, 2]),
    "float16_plus_float32": lambda m: m.ones(2, dtype=m.float16) + m.ones(2),
    "float16_times_scalar": lambda m: m.ones(2, dtype=m.float16) * 2.5,
    "float32_plus_0d_float64": lambda m: m.ones(2) + m.tensor(1.5, dtype=m.float64),
    "int32_plus_0d_int64": lambda m: m.ones(2, dtype=m.int32) + m.tensor(3),
    "int_plus_0d_float64": lambda m: m.tensor([1, 2]) + m.tensor(1.5, dtype=m.float64),
    "0d_int32_plus_float": lambda m: m.tensor(1, dtype=m.int32) + 1.5,
    "0d_bool_plus_0d_int32": lambda m: m.tensor(True) + m.tensor(1, dtype=m.int32),
    "bool_plus_int": lambda m: m.tensor([True, False]) + 1,
    "bool_times_float": lambda m: m.tensor([True, False]) * 1.5,
    "bool_plus_bool": lambda m: m.tensor([True, False]) + m.tensor([True, True]),
    "maximum_int_float": lambda m: m.maximum(m.tensor([1, 2]), m.tensor([1.5, 1.5])),
    "minimum_f16_f32": lambda m: m.minimum(m.ones(2, dtype=m.float16), m.zeros(2)),
    # comparisons and logical/bitwise ops
    "eq_int_float": lambda m: m.tensor([2, 3]) == 2.0,
    "lt_tensors": lambda m: m.tensor([1., 5.]) < m.tensor([2, 2]),
    "ge_scalar_left": lambda m: 2 >= m.tensor([1., 2., 3.]),
    "ne_bool": lambda m: m.tensor([True, False]) != True,  # noqa: E712
    "and_bool": lambda m: m.tensor([True, False]) & m.tensor([True, True]),
    "or_bool": lambda m: m.tensor([True, False]) | m.tensor([False, False]),
    "xor_bool": lambda m: m.tensor([True, False]) ^ m.tensor([True, True]),
    "invert_bool": lambda m: ~m.tensor([True, False]),
    "invert_int": lambda m: ~m.tensor([0, 5]),
    "and_int": lambda m: m.tensor([6, 3]) & m.tensor([3, 3]),
    "or_int": lambda m: m.tensor([4, 1]) | 2,
    "rand_scalar": lambda m: True & m.tensor([True, False]),
    # float-valued functions of integer tensors
    "exp_int": lambda m: m.tensor([0, 1]).exp(),
    "sqrt_int": lambda m: m.tensor([4, 9]).sqrt(),
    "log_int": lambda m: m.tensor([1, 4]).log(),
    "sigmoid_int": lambda m: m.tensor([0, 2]).sigmoid(),
    "tanh_bool": lambda m: m.tensor([True, False]).tanh(),
    "logsumexp_int": lambda m: m.tensor([[1, 2]]).logsumexp(1),
    "relu_int": lambda m: m.tensor([-1, 2]).relu(),
    "abs_int": lambda m: m.tensor([-1, 2]).abs(),
    "neg_int32": lambda m: -m.tensor([1], dtype=m.int32),
    "sign_int": lambda m: m.tensor([-3, 0, 2]).sign(),
    # pow
    "pow_neg_base_int_exp": lambda m: m.tensor([-2., -3.]) ** 3,
    "pow_neg_base_frac": lambda m: m.tensor([-2., 4.]) ** 0.5,
    "pow_neg_exponent": lambda m: m.tensor([-2., 2.]) ** -1,
    "pow_int_int": lambda m: m.tensor([2, 3]) ** 2,
    "pow_int_float": lambda m: m.tensor([4, 9]) ** 0.5,
    "pow_bool_int": lambda m: m.tensor([True, False]) ** 2,
    "pow_int_by_float_tensor": lambda m: m.tensor([2, 3]) ** m.tensor([0.5, 1.]),
    "rpow_int": lambda m: 2 ** m.tensor([3, 4]),
    "rpow_float_int": lambda m: 2.5 ** m.tensor([1, 2]),
    "rpow_neg_base": lambda m: (-2.) ** m.tensor([2., 0.5]),
    # clamp / where / masked_fill
    "clamp_both": lambda m: m.tensor([-1., 0.5, 2.]).clamp(0., 1.),
    "clamp_min_only": lambda m: m.tensor([-1., 0.5, 2.]).clamp(min=0.),
    "clamp_max_only": lambda m: m.tensor([-1., 0.5, 2.]).clamp(max=0.),
    "clamp_lo_above_hi": lambda m: m.tensor([0., 2.]).clamp(1., 0.5),
    "clamp_int_int": lambda m: m.tensor([0, 5]).clamp(1, 3),
    "clamp_int_float": lambda m: m.tensor([0, 5]).clamp(min=0.5),
    "clamp_tensor_bound": lambda m: m.tensor([0., 2.]).clamp(m.tensor([1., 1.])),
    "clamp_nan": lambda m: m.tensor([NAN, 3.]).clamp(0., 1.),
    "where_float_scalars": lambda m: m.where(m.tensor([True, False]), 1.0, 0.0),
    "where_int_scalars": lambda m: m.where(m.tensor([True, False]), 1, 0),
    "where_int_and_float_scalar": lambda m: m.where(m.tensor([True, False]), 1, 0.5),
    "where_tensor_scalar": lambda m: m.where(m.tensor([True, False]), m.tensor([1., 2.]), 0),
    "where_int_tensor_float": lambda m: m.where(m.tensor([True, False]), m.tensor([1, 2]),
                                                0.5),
    "where_f16_f32": lambda m: m.where(m.tensor([True, False]), m.ones(2, dtype=m.float16),
                                       m.zeros(2)),
    "where_broadcast": lambda m: m.where(m.tensor([[True], [False]]), m.ones(3), 0.),
    "masked_fill": lambda m: m.ones(2, 2).masked_fill(m.tensor([True, False]), -1.),
    "masked_fill_int_keeps_dtype": lambda m: m.ones(2, dtype=m.int64).masked_fill(
        m.tensor([True, False]), 2.7),
    "masked_fill_tensor_value": lambda m: m.ones(2).masked_fill(m.tensor([True, False]),
                                                                m.tensor(5.)),
    # reductions
    "sum_bool": lambda m: m.tensor([True, True, False]).sum(),
    "sum_int32": lambda m: m.tensor([1, 2], dtype=m.int32).sum(),
    "sum_int32_dim": lambda m: _arange(m, 2, 3, dtype=m.int32).sum(1),
    "sum_bool_dim_keepdim": lambda m: m.tensor([[True, True]]).sum(1, keepdim=True),
    "sum_float16": lambda m: m.ones(3, dtype=m.float16).sum(),
    "sum_neg_dim": lambda m: _arange(m, 2, 3, 4).float().sum(-2),
    "sum_tuple_dims": lambda m: _arange(m, 2, 3, 4).float().sum((0, -1)),
    "sum_tuple_keepdim": lambda m: _arange(m, 2, 3, 4).float().sum((0, 2), keepdim=True),
    "sum_empty": lambda m: m.zeros(0).sum(),
    "sum_0d_dim0": lambda m: m.tensor(3.).sum(0),
    "mean_keepdim_neg": lambda m: _arange(m, 2, 3).float().mean(-1, keepdim=True),
    "mean_0d_dim": lambda m: m.tensor(3.).mean(-1),
    "var_default": lambda m: m.tensor([[1., 2., 4.], [3., 1., 1.]]).var(),
    "var_correction0": lambda m: m.tensor([[1., 2., 4.], [3., 1., 1.]]).var(1, correction=0),
    "var_correction2": lambda m: _arange(m, 2, 3).float().var(1, correction=2),
    "var_unbiased_false": lambda m: m.tensor([1., 2., 4.]).var(unbiased=False),
    "var_tuple": lambda m: m.tensor([[1., 2., 4.], [3., 1., 1.]]).var((0, 1)),
    "std_keepdim": lambda m: m.tensor([[1., 2., 4.], [3., 1., 1.]]).std(0, keepdim=True),
    "std_neg_dim": lambda m: m.tensor([[1., 2., 4.], [3., 1., 1.]]).std(-1),
    "argmax_ties": lambda m: m.tensor([[1, 3, 3], [2, 2, 1]]).argmax(1),
    "argmin_ties_keepdim": lambda m: m.tensor([[1, 3, 1], [2, 2, 1]]).argmin(1, keepdim=True),
    "argmax_all": lambda m: m.tensor([[1, 3, 3], [2, 2, 1]]).argmax(),
    "argmax_all_keepdim": lambda m: m.tensor([[1, 3, 3], [2, 2, 1]]).argmax(keepdim=True),
    "argmax_0d_dim": lambda m: m.tensor(3.).argmax(0),
    "argmax_nan": lambda m: m.tensor([1., NAN, 2.]).argmax(),
    "max_dim_ties": lambda m: tuple(m.tensor([[1., 3., 3.], [2., 2., 1.]]).max(1)),
    "min_dim_ties_keepdim": lambda m: tuple(m.tensor([[1, 3, 1], [1, 2, 1]]).min(
        -1, keepdim=True)),
    "max_dim0": lambda m: tuple(m.tensor([[1., 3.], [2., 2.]]).max(0)),
    "max_dim_nan": lambda m: tuple(m.tensor([[1., NAN, 2.]]).max(1)),
    "max_0d_dim": lambda m: tuple(m.tensor(3.).max(0)),
    "max_all": lambda m: m.tensor([[1, 3, 3], [2, 2, 1]]).max(),
    "min_all_bool": lambda m: m.tensor([True, False]).min(),
    "amax_tuple": lambda m: m.amax(_arange(m, 2, 3, 4), (0, 2)),
    "logsumexp_neg_inf_row": lambda m: m.tensor([[-INF, -INF], [1., 2.]]).logsumexp(1),
    "logsumexp_inf": lambda m: m.tensor([[INF, 1.], [1., 2.]]).logsumexp(1),
    "logsumexp_tuple": lambda m: _arange(m, 2, 3).float().logsumexp((0, 1)),
    "logsumexp_keepdim": lambda m: _arange(m, 2, 3).float().logsumexp(-1, keepdim=True),
    "any_int": lambda m: m.tensor([0, 2]).any(),
    "all_dim": lambda m: m.tensor([[0, 2], [1, 1]]).all(1),
    "all_empty": lambda m: m.zeros(0).all(),
    "norm": lambda m: m.tensor([3., 4.]).norm(),
    "norm_p3": lambda m: m.tensor([1., 2.]).norm(p=3),
    # indexing
    "index_neg": lambda m: _arange(m, 3, 4)[-1],
    "index_steps": lambda m: _arange(m, 3, 4)[::2, 1::2],
    "index_neg_slice": lambda m: _arange(m, 3, 4)[-2:, :-1],
    "index_none": lambda m: _arange(m, 3, 4)[None, :, None],
    "index_ellipsis": lambda m: _arange(m, 2, 3, 4)[..., 1],
    "index_ellipsis_none": lambda m: _arange(m, 2, 3, 4)[..., None, 1],
    "index_int_tensor_repeats": lambda m: _arange(m, 3, 4)[m.tensor([0, 0, 2])],
    "index_list": lambda m: _arange(m, 3, 4)[[0, 0, 2]],
    "index_neg_tensor": lambda m: _arange(m, 3, 4)[m.tensor([-1, 0])],
    "index_int32_tensor": lambda m: _arange(m, 3)[m.tensor([1, 2], dtype=m.int32)],
    "index_2d_int_tensor": lambda m: _arange(m, 3, 4)[m.tensor([[0, 1], [2, 0]])],
    "index_two_lists": lambda m: _arange(m, 3, 4)[[0, 2], [1, 3]],
    "index_0d_tensor": lambda m: _arange(m, 3, 4)[m.tensor(1)],
    "index_empty_list": lambda m: _arange(m, 3)[[]],
    "index_mask_full": lambda m: _arange(m, 3, 4)[_arange(m, 3, 4) > 5],
    "index_mask_partial": lambda m: _arange(m, 3, 4)[m.tensor([True, False, True])],
    "index_mask_second_dim": lambda m: _arange(m, 3, 4)[:, m.tensor([True, False, True,
                                                                     False])],
    "index_mask_0d": lambda m: _arange(m, 3)[m.tensor(True)],
    "index_bool_scalar": lambda m: _arange(m, 2, 3)[True],
    "index_bool_scalar_false": lambda m: _arange(m, 2, 3)[False],
    "index_int_and_bool_scalar": lambda m: _arange(m, 2, 3)[1, True],
    "index_adv_then_slice": lambda m: _arange(m, 3, 4, 5)[:, [0, 2], 1:3],
    "index_adv_split_by_slice": lambda m: _arange(m, 3, 4, 5)[[0, 1], :, [0, 2]],
    "index_int_slice_list": lambda m: _arange(m, 3, 4, 5)[1, :, [0, 2]],
    "index_0d_tensor_slice_list": lambda m: _arange(m, 3, 4, 5)[m.tensor(1), :, [0, 2]],
    "index_int_slice_mask": lambda m: _arange(m, 3, 4, 5)[1, :, m.tensor(
        [True, False, True, False, False])],
    "index_int_slice_2d_list": lambda m: _arange(m, 3, 4, 5)[1, :, [[0, 2]]],
    "index_none_int_slice_list": lambda m: _arange(m, 3, 4, 5)[None, 1, :, [0, 2]],
    "index_int_ellipsis_list": lambda m: _arange(m, 3, 4, 5)[1, ..., [0, 2]],
    "index_list_int_list": lambda m: _arange(m, 3, 4, 5)[[0, 1], 1, [0, 2]],
    "index_list_slice_int": lambda m: _arange(m, 3, 4, 5)[[0, 1], :, 1],
    "index_slice_int_list": lambda m: _arange(m, 3, 4, 5)[:, 1, [0, 1]],
    # joining and splitting
    "cat_neg_dim": lambda m: m.cat([m.ones(2, 3), m.zeros(2, 1)], -1),
    "cat_tuple": lambda m: m.cat((m.ones(2), m.zeros(1))),
    "cat_int_float": lambda m: m.cat([m.tensor([1, 2]), m.tensor([1.5])]),
    "cat_three_dtypes": lambda m: m.cat([m.ones(2, dtype=m.int32), m.ones(1, dtype=m.float16),
                                         m.ones(1, dtype=m.float64)]),
    "stack_neg_dim": lambda m: m.stack([m.tensor([1, 2]), m.tensor([3, 4])], -1),
    "stack_0d": lambda m: m.stack([m.tensor(1.), m.tensor(2.)]),
    "stack_int_float": lambda m: m.stack([m.tensor([1]), m.tensor([2.5])]),
    "split_int": lambda m: m.arange(5).split(2),
    "split_sizes": lambda m: m.arange(5).split([2, 3]),
    "split_neg_dim": lambda m: m.ones(2, 5).split(2, -1),
    "split_with_zero": lambda m: m.arange(5).split([0, 5]),
    "chunk_6_4": lambda m: m.arange(6).chunk(4),
    "chunk_5_3": lambda m: m.arange(5).chunk(3),
    "chunk_4_6": lambda m: m.arange(4).chunk(6),
    "chunk_9_4": lambda m: m.arange(9).chunk(4),
    "chunk_10_4": lambda m: m.arange(10).chunk(4),
    "chunk_empty": lambda m: m.arange(0).chunk(3),
    "chunk_dim1": lambda m: m.ones(2, 5).chunk(2, 1),
    # shapes
    "reshape_minus1": lambda m: m.arange(6).reshape(-1, 3),
    "view_tuple": lambda m: m.arange(6).view((3, 2)),
    "flatten_range": lambda m: m.zeros(2, 3, 4, 5).flatten(1, 2),
    "flatten_neg": lambda m: m.zeros(2, 3, 4).flatten(-2),
    "flatten_0d": lambda m: m.tensor(1.).flatten(),
    "squeeze_all": lambda m: m.zeros(2, 1, 3, 1).squeeze(),
    "squeeze_neg": lambda m: m.zeros(2, 1, 3, 1).squeeze(-1),
    "squeeze_not_one": lambda m: m.zeros(2, 1, 3, 1).squeeze(0),
    "squeeze_tuple": lambda m: m.zeros(2, 1, 3, 1).squeeze((1, 3)),
    "squeeze_0d": lambda m: m.tensor(1.).squeeze(0),
    "unsqueeze_neg": lambda m: m.zeros(2, 3).unsqueeze(-1),
    "unsqueeze_neg3": lambda m: m.zeros(2, 3).unsqueeze(-3),
    "unsqueeze_0d": lambda m: m.tensor(1.).unsqueeze(-1),
    "expand_minus1": lambda m: m.zeros(3, 1).expand(2, -1, 4),
    "expand_same": lambda m: m.zeros(2, 1).expand(-1, -1),
    "expand_as": lambda m: m.ones(3).expand_as(m.zeros(2, 3)),
    "transpose_neg": lambda m: _arange(m, 2, 3, 4).transpose(0, -1),
    "transpose_1d": lambda m: m.arange(3).transpose(0, -1),
    "permute_neg": lambda m: _arange(m, 2, 3, 4).permute(-1, 0, 1),
    "permute_tuple": lambda m: _arange(m, 2, 3, 4).permute((2, 0, 1)),
    "T_2d": lambda m: _arange(m, 2, 3).T,
    "mT_3d": lambda m: _arange(m, 2, 3, 4).mT,
    # matmul shapes
    "matmul_1d_1d": lambda m: m.arange(3.) @ m.ones(3),
    "matmul_1d_2d": lambda m: m.arange(3.) @ m.ones(3, 2),
    "matmul_2d_1d": lambda m: m.ones(2, 3) @ m.arange(3.),
    "matmul_1d_3d": lambda m: m.arange(3.) @ m.ones(4, 3, 2),
    "matmul_3d_1d": lambda m: m.ones(4, 2, 3) @ m.arange(3.),
    "matmul_broadcast": lambda m: _arange(m, 4, 1, 2, 3).float() @ _arange(m, 5, 3, 2).float(),
    "matmul_int": lambda m: _arange(m, 2, 3) @ _arange(m, 3, 2),
    # factories and conversions
    "arange_float": lambda m: m.arange(0, 1, 0.25),
    "arange_int": lambda m: m.arange(5),
    "arange_neg_step": lambda m: m.arange(5, 0, -2),
    "arange_float_end": lambda m: m.arange(5.),
    "arange_numpy_int": lambda m: m.arange(np.int64(4)),
    "arange_float16": lambda m: m.arange(3, dtype=m.float16),
    "linspace": lambda m: m.linspace(0, 1, 5),
    "linspace_int": lambda m: m.linspace(0, 10, 4, dtype=m.int64),
    "linspace_one": lambda m: m.linspace(2, 3, 1),
    "full_float": lambda m: m.full((2,), 1.5),
    "full_int": lambda m: m.full((2, 1), 7),
    "full_bool": lambda m: m.full((2,), True),
    "full_dtype": lambda m: m.full((2,), 1, dtype=m.float64),
    "eye": lambda m: m.eye(3),
    "eye_rect": lambda m: m.eye(2, 3),
    "eye_int": lambda m: m.eye(2, dtype=m.int64),
    "zeros_int": lambda m: m.zeros(2, 3, dtype=m.int64),
    "ones_tuple": lambda m: m.ones((2, 3)),
    "tensor_ints": lambda m: m.tensor([1, 2]),
    "tensor_mixed": lambda m: m.tensor([1, 2.5]),
    "tensor_bools": lambda m: m.tensor([True, False]),
    "tensor_empty": lambda m: m.tensor([]),
    "tensor_0d": lambda m: m.tensor(1.5),
    "tensor_np_float64": lambda m: m.tensor(np.array([1.])),
    "tensor_np_int32": lambda m: m.tensor(np.array([1], dtype=np.int32)),
    "to_dtype": lambda m: m.tensor([1.5, -1.5]).to(m.float64),
    "to_int": lambda m: m.tensor([1.7, -1.7]).to(m.int64),
    "to_cpu_dtype": lambda m: m.tensor([1.5]).to("cpu", m.float16),
    "to_dtype_kw": lambda m: m.tensor([1.5]).to(dtype=m.float64),
    "to_tensor": lambda m: m.tensor([1.5]).to(m.tensor([1], dtype=m.int32)),
    "long": lambda m: m.tensor([2.7, -2.7]).long(),
    "int": lambda m: m.tensor([2.7]).int(),
    "bool": lambda m: m.tensor([0., 2.]).bool(),
    "half": lambda m: m.tensor([0.1]).half(),
    "double_of_int": lambda m: m.tensor([3]).double(),
    "type_as": lambda m: m.tensor([1.5]).type_as(m.tensor([1])),
    "float_of_bool": lambda m: m.tensor([True]).float(),
    "clone": lambda m: m.tensor([1., 2.]).clone(),
}


@pytest.mark.parametrize("name", sorted(FORWARD))
def test_forward_matches_torch(name):
    fn = FORWARD[name]
    assert_same(fn(gg), fn(torch))


def test_item_tolist_and_python_numbers():
    for m in (gg, torch):
        assert m.tensor([2.5]).item() == 2.5 and type(m.tensor([2.5]).item()) is float
        assert type(m.tensor(3).item()) is int and type(m.tensor(True).item()) is bool
        assert m.tensor([[1, 2]]).tolist() == [[1, 2]]
        assert m.tensor(1.5).tolist() == 1.5
        assert int(m.tensor(2.7)) == 2 and float(m.tensor([2])) == 2.0
        assert len(m.zeros(3, 2)) == 3 and m.zeros(2, 3).size(-1) == 3
        assert m.zeros(2, 3).dim() == 2 and m.zeros(2, 3).numel() == 6


def test_repr_basics():
    assert repr(gg.tensor([1., 2.])) == repr(torch.tensor([1., 2.]))
    assert repr(gg.tensor(1.)) == repr(torch.tensor(1.))
    assert repr(gg.tensor([])) == repr(torch.tensor([]))
    assert repr(gg.tensor([1, 2])) == repr(torch.tensor([1, 2]))
    assert repr(gg.tensor([1., 2.], requires_grad=True)) == repr(
        torch.tensor([1., 2.], requires_grad=True))
    assert repr(gg.tensor([1, 2], dtype=gg.int32)).endswith("dtype=gpugrad.int32)")
    assert "grad_fn=<MulBackward" in repr(gg.tensor([1.], requires_grad=True) * 2)


def test_randint_bounds_dtype_and_overloads():
    gg.manual_seed(0)
    draws = gg.randint(3, 5, (200,))
    assert draws.dtype == gg.int64 and draws.shape == (200,)
    assert set(draws.tolist()) == {3, 4}
    # randint(high, size), PyTorch's two-argument form
    assert gg.randint(2, (50,)).shape == tuple(torch.randint(2, (50,)).shape)
    assert set(gg.randint(2, (100,)).tolist()) == {0, 1}
    assert gg.randint(5, size=(2, 3)).shape == (2, 3)
    assert gg.randint(0, 4, (3,), dtype=gg.int32).dtype == gg.int32


def test_cast_to_integer_does_not_require_grad():
    for m in (gg, torch):
        x = m.tensor([1.5], requires_grad=True)
        assert not x.long().requires_grad and not x.bool().requires_grad
        assert x.double().requires_grad


# ---- errors: both refuse ------------------------------------------------------------------
ERRORS = {
    "mean_int": lambda m: m.tensor([1, 2]).mean(),
    "var_int": lambda m: m.tensor([1, 2]).var(),
    "std_int": lambda m: m.tensor([1, 2]).std(),
    "int_requires_grad": lambda m: m.tensor([1, 2], requires_grad=True),
    "pow_int_negative": lambda m: m.tensor([4]) ** -1,
    "flatten_start_after_end": lambda m: m.ones(2, 3, 4).flatten(2, 1),
    "expand_minus1_new_dim": lambda m: m.zeros(3, 1).expand(-1, 3, 4),
    "expand_bad": lambda m: m.ones(2, 3).expand(4, 3),
    "reshape_two_minus1": lambda m: m.ones(2, 3).reshape(-1, -1),
    "reshape_bad": lambda m: m.ones(2, 3).reshape(4, 2),
    "permute_duplicate": lambda m: m.zeros(2, 3, 4).permute(0, 0, 1),
    "cat_0d": lambda m: m.cat([m.tensor(1.), m.tensor(2.)]),
    "stack_shapes": lambda m: m.stack([m.ones(2), m.ones(3)]),
    "split_sizes_sum": lambda m: m.arange(5).split([2, 2]),
    "chunk_zero": lambda m: m.arange(5).chunk(0),
    "matmul_mismatch": lambda m: m.ones(2, 3) @ m.ones(2, 3),
    "matmul_0d": lambda m: m.ones(2) @ m.tensor(1.),
    "clamp_no_bounds": lambda m: m.ones(2).clamp(),
    "neg_bool": lambda m: -m.tensor([True]),
    "sub_bools": lambda m: m.tensor([True]) - m.tensor([True]),
    "invert_float": lambda m: ~m.tensor([1.]),
    "bool_of_many": lambda m: bool(m.ones(2)),
    "item_of_many": lambda m: m.ones(2).item(),
    "len_0d": lambda m: len(m.tensor(1.)),
    "max_empty": lambda m: m.zeros(0).max(),
    "index_float_tensor": lambda m: m.arange(3)[m.tensor([1.])],
    "add_broadcast_into_self": lambda m: m.ones(3).add_(m.ones(2, 3)),
    "add_float_into_int": lambda m: m.ones(3, dtype=m.int64).add_(1.5),
    "div_into_int": lambda m: m.ones(3, dtype=m.int64).div_(2),
    "inplace_leaf_requires_grad": lambda m: m.ones(3, requires_grad=True).add_(1),
    "setitem_bad_shape": lambda m: m.zeros(3, 4).__setitem__(0, m.tensor([1., 2.])),
}
# Where PyTorch's exception type is one a Python user would also expect here.
SAME_TYPE = {
    "index_oob": (lambda m: _arange(m, 3, 4)[5], IndexError),
    "index_oob_tensor": (lambda m: _arange(m, 3, 4)[m.tensor([5])], IndexError),
    "index_oob_list": (lambda m: _arange(m, 3, 4)[:, [0, 4]], IndexError),
    "setitem_oob": (lambda m: m.zeros(3).__setitem__(7, 1.), IndexError),
    "dim_out_of_range": (lambda m: m.ones(2, 3).sum(2), IndexError),
    "unsqueeze_out_of_range": (lambda m: m.ones(2).unsqueeze(3), IndexError),
    "len_0d_type": (lambda m: len(m.tensor(1.)), TypeError),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_where_torch_errors(name):
    fn = ERRORS[name]
    with pytest.raises(Exception):
        fn(torch)
    with pytest.raises((ValueError, TypeError, RuntimeError, IndexError)):
        fn(gg)


@pytest.mark.parametrize("name", sorted(SAME_TYPE))
def test_error_types_match_torch(name):
    fn, kind = SAME_TYPE[name]
    with pytest.raises(kind):
        fn(torch)
    with pytest.raises(kind):
        fn(gg)


# ---- setitem and in-place ops -------------------------------------------------------------
def _setitem(index, value):
    def run(m):
        x = _arange(m, 3, 4, 5).float()
        x[index(m)] = value(m) if callable(value) else value
        return x
    return run


SETITEM = {
    "scalar": _setitem(lambda m: (0, 1), 5.),
    "row_broadcast": _setitem(lambda m: 1, lambda m: m.arange(5.)),
    "mask": _setitem(lambda m: _arange(m, 3, 4, 5) > 40, -1.),
    "mask_tensor_values": _setitem(lambda m: _arange(m, 3, 4, 5) > 56, lambda m: m.tensor(
        [7., 8., 9.])),
    "int_tensor_rows": _setitem(lambda m: m.tensor([2, 0]), lambda m: m.zeros(2, 4, 5)),
    "int_values_into_float": _setitem(lambda m: 0, lambda m: m.ones(4, 5, dtype=m.int64)),
    "float64_values": _setitem(lambda m: 0, lambda m: m.ones(5, dtype=m.float64)),
    "slice_step": _setitem(lambda m: (slice(None), slice(None, None, 2)), 0.),
    "ellipsis": _setitem(lambda m: (Ellipsis, 1), 3.),
    "none": _setitem(lambda m: (None, 1), 3.),
    "neg_index": _setitem(lambda m: (-1, -1), 3.),
    "int_slice_list": _setitem(lambda m: (1, slice(None), [0, 2]),
                               lambda m: m.arange(8.).reshape(4, 2)),
    "bool_scalar": _setitem(lambda m: True, 2.),
    "two_lists": _setitem(lambda m: ([0, 2], [1, 3]), lambda m: m.tensor([[1.], [2.]])),
}


@pytest.mark.parametrize("name", sorted(SETITEM))
def test_setitem_matches_torch(name):
    fn = SETITEM[name]
    assert_same(fn(gg), fn(torch))


def test_setitem_float_into_int_truncates():
    for m in (gg, torch):
        x = m.arange(3)
        x[0] = 2.7
        assert x.tolist() == [2, 1, 2] and x.dtype == m.int64


INPLACE = {
    "add_alpha": lambda m: m.ones(3).add_(m.tensor([1., 2., 3.]), alpha=2),
    "sub_alpha": lambda m: m.ones(3).sub_(m.tensor([1., 2., 3.]), alpha=2),
    "add_int_alpha": lambda m: m.ones(3, dtype=m.int64).add_(m.ones(3, dtype=m.int64),
                                                             alpha=2),
    "add_int_int": lambda m: m.ones(3, dtype=m.int64).add_(2),
    "add_f16_f32": lambda m: m.ones(3, dtype=m.float16).add_(m.full((3,), 0.1)),
    "add_f32_f64": lambda m: m.ones(3).add_(m.full((3,), 0.1, dtype=m.float64)),
    "add_f32_int": lambda m: m.ones(3).add_(m.tensor([1, 2, 3])),
    "add_broadcast": lambda m: m.ones(2, 3).add_(m.arange(3.)),
    "mul_int": lambda m: m.ones(3, dtype=m.int64).mul_(3),
    "div_float": lambda m: m.ones(3).div_(4),
    "clamp_": lambda m: m.tensor([-1., 0.5, 2.]).clamp_(0, 1),
    "clamp_min_": lambda m: m.tensor([-1., 0.5, 2.]).clamp_(min=0),
    "fill_int_with_float": lambda m: m.ones(2, dtype=m.int64).fill_(1.7),
    "zero_": lambda m: m.ones(2).zero_(),
    "copy_broadcast": lambda m: m.zeros(2, 3).copy_(m.tensor([1., 2., 3.])),
    "copy_float_into_int": lambda m: m.zeros(2, dtype=m.int64).copy_(m.tensor([1.7, -1.7])),
    "iadd": lambda m: _iadd(m.ones(2), 1),
    "imul_view": lambda m: _imul_row(_arange(m, 2, 3).float()),
}


def _iadd(x, v):
    x += v
    return x


def _imul_row(x):
    row = x[1]
    row *= 10  # through a view: the base sees it
    return x


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_matches_torch(name):
    fn = INPLACE[name]
    got, want = fn(gg), fn(torch)
    assert_same(got, want)


def test_inplace_returns_self():
    x = gg.ones(3)
    assert x.add_(1) is x and x.mul_(2) is x and x.clamp_(0, 3) is x and x.zero_() is x


# ---- gradients ----------------------------------------------------------------------------
def _leaf(m, spec):
    if isinstance(spec, tuple):
        value, dtype = spec
        return m.tensor(value, dtype=getattr(m, dtype), requires_grad=True)
    return m.tensor(spec, requires_grad=True)


GRADS = {
    "add_broadcast": (lambda m, x, y: x + y, [[[1., 2.], [3., 4.]], [1., 2.]]),
    "sub_scalar": (lambda m, x: 1 - x * 3, [[1., 2.]]),
    "mul_shared": (lambda m, x: x * x, [[1., -2.]]),
    "div": (lambda m, x, y: x / y, [[1., 2.], [3., 4.]]),
    "rdiv": (lambda m, x: 2 / x, [[1., 4.]]),
    "div_by_int": (lambda m, x: x / m.tensor([2, 4]), [[1., 2.]]),
    "mul_int_tensor": (lambda m, x: x * m.tensor([2, 3]), [[1., 2.]]),
    "f16_plus_f32": (lambda m, x, y: x + y, [([1., 2.], "float16"), [1., 2.]]),
    "f16_times_f32": (lambda m, x, y: x * y, [([1., 2.], "float16"), [3., 4.]]),
    "f32_times_0d_f64": (lambda m, x, y: x * y, [[1., 2.], (3., "float64")]),
    "f64_times_f32": (lambda m, x, y: x * y, [([1., 2.], "float64"), [3., 4.]]),
    "pow_2": (lambda m, x: x ** 2, [[-2., 1.]]),
    "pow_3_neg_base": (lambda m, x: x ** 3, [[-2., 0.5]]),
    "pow_0": (lambda m, x: x ** 0, [[0., 1.]]),
    "pow_0_float": (lambda m, x: x ** 0.0, [[0., 2.]]),
    "pow_half": (lambda m, x: x ** 0.5, [[1., 4.]]),
    "pow_neg1": (lambda m, x: x ** -1, [[-2., 4.]]),
    "pow_tensors": (lambda m, x, y: x ** y, [[1., 2.], [3., 0.5]]),
    "pow_tensor_exp_zero": (lambda m, x, y: x ** y, [[0., 1.], [0., 0.]]),
    "pow_zero_base": (lambda m, x, y: x ** y, [[0., 0.], [2., 0.5]]),
    "pow_neg_base_tensor": (lambda m, x, y: x ** y, [[-2.], [3.]]),
    "rpow": (lambda m, x: 2.0 ** x, [[0., 1.5]]),
    "rpow_zero_base": (lambda m, x: 0 ** x, [[0., 1.]]),
    "exp_log": (lambda m, x: x.exp() + x.log(), [[0.5, 2.]]),
    "log_at_zero": (lambda m, x: x.log(), [[0., 1.]]),
    "log1p_sqrt": (lambda m, x: x.log1p() * x.sqrt(), [[0.5, 2.]]),
    "sqrt_at_zero": (lambda m, x: x.sqrt(), [[0., 1.]]),
    "sin_cos_tanh": (lambda m, x: x.sin() * x.cos() + x.tanh(), [[0.3, -1.2]]),
    "sigmoid_extremes": (lambda m, x: x.sigmoid(), [[0., 100., -100.]]),
    "relu_at_zero": (lambda m, x: x.relu(), [[0., 1., -1.]]),
    "abs_at_zero": (lambda m, x: x.abs(), [[0., 1., -1.]]),
    "neg": (lambda m, x: -x, [[1., 2.]]),
    "clamp_at_bounds": (lambda m, x: x.clamp(0., 1.), [[0., 0.5, 1., 2., -1.]]),
    "clamp_min_only": (lambda m, x: x.clamp(min=0.), [[0., 0.5, -1.]]),
    "clamp_max_only": (lambda m, x: x.clamp(max=0.), [[0., 0.5, -1.]]),
    "maximum_ties": (lambda m, x, y: m.maximum(x, y), [[1., 2., 3.], [1., 3., 0.]]),
    "minimum_ties": (lambda m, x, y: m.minimum(x, y), [[1., 2., 3.], [1., 3., 0.]]),
    "where_scalar": (lambda m, x: m.where(x > 1, x, 0.), [[1., 2.]]),
    "where_two": (lambda m, x, y: m.where(x > y, x * 2, y), [[1., 3.], [2., 2.]]),
    "masked_fill": (lambda m, x: x.masked_fill(x > 1, 0.), [[1., 2.]]),
    "sum_all": (lambda m, x: x.sum(), [[[1., 2.], [3., 4.]]]),
    "sum_tuple": (lambda m, x: x.sum((0, -1)), [[[[1., 2.], [3., 4.]]]]),
    "sum_keepdim": (lambda m, x: x.sum(1, keepdim=True) * m.tensor([[1.], [2.]]),
                    [[[1., 2.], [3., 4.]]]),
    "mean_neg_keepdim": (lambda m, x: x.mean(-1, keepdim=True), [[[1., 2.], [3., 4.]]]),
    "var_correction0": (lambda m, x: x.var(1, correction=0),
                        [[[1., 2., 4.], [3., 1., 1.]]]),
    "var_all": (lambda m, x: x.var(), [[[1., 2., 4.], [3., 1., 1.]]]),
    "std": (lambda m, x: x.std(), [[1., 2., 4.]]),
    "std_dim": (lambda m, x: x.std(0), [[[1., 2.], [3., 5.]]]),
    "std_constant": (lambda m, x: x.std(), [[1., 1., 1.]]),
    "std_constant_rows": (lambda m, x: x.std(1, keepdim=True), [[[1., 1.], [1., 3.]]]),
    "norm": (lambda m, x: x.norm(), [[3., 4.]]),
    "norm_zero": (lambda m, x: x.norm(), [[0., 0.]]),
    "norm_p3": (lambda m, x: x.norm(p=3), [[1., -2.]]),
    "norm_p3_zero": (lambda m, x: x.norm(p=3), [[0., 0.]]),
    "norm_p1": (lambda m, x: x.norm(p=1), [[0., -2.]]),
    "norm_inf_ties": (lambda m, x: x.norm(p=INF), [[1., -1.]]),
    "max_all_ties": (lambda m, x: x.max(), [[1., 3., 3.]]),
    "min_all_ties": (lambda m, x: x.min(), [[1., 1., 3.]]),
    "max_dim_ties": (lambda m, x: x.max(1)[0], [[[1., 3., 3.], [2., 2., 1.]]]),
    "min_dim_keepdim": (lambda m, x: x.min(0, keepdim=True)[0],
                        [[[1., 3., 3.], [1., 2., 1.]]]),
    "max_0d_dim": (lambda m, x: x.max(0)[0] * 2, [3.]),
    "amax_tuple_ties": (lambda m, x: m.amax(x, (0, 1)), [[[1., 3., 3.], [3., 2., 1.]]]),
    "logsumexp": (lambda m, x: x.logsumexp(1), [[[1., 2.], [3., -1.]]]),
    "logsumexp_neg_inf": (lambda m, x: x.logsumexp(1), [[[-INF, 0.], [1., 2.]]]),
    "index_repeats": (lambda m, x: x[m.tensor([0, 0, 2])], [[1., 2., 3.]]),
    "index_mask": (lambda m, x: x[x > 1.5], [[1., 2., 3.]]),
    "index_basic": (lambda m, x: x[1:, ::2] * 3, [[[1., 2., 3.], [4., 5., 6.]]]),
    "index_none_ellipsis": (lambda m, x: x[None, ..., 0], [[[1., 2.], [3., 4.]]]),
    "index_adv_slice": (lambda m, x: x[:, [0, 0]] * m.tensor([[1.], [2.]]),
                        [[[1., 2.], [3., 4.]]]),
    "index_int_slice_list": (lambda m, x: x[1, :, [0, 1, 1]] * m.arange(1., 4.),
                             [np.arange(12.).reshape(2, 2, 3).tolist()]),
    "index_bool_scalar": (lambda m, x: x[True] * 2, [[1., 2.]]),
    "cat": (lambda m, x, y: m.cat([x, y * 2]), [[1., 2.], [3.]]),
    "cat_dim1": (lambda m, x, y: m.cat([x, y], 1) * m.arange(1., 4.),
                 [[[1.], [2.]], [[1., 2.], [3., 4.]]]),
    "stack_neg": (lambda m, x, y: m.stack([x, y * 2], -1) * m.tensor([1., 3.]),
                  [[1., 2.], [3., 4.]]),
    "split": (lambda m, x: x.split([1, 2])[1] * 2, [[1., 2., 3.]]),
    "chunk": (lambda m, x: x.chunk(2)[0] * 2, [[1., 2., 3.]]),
    "reshape": (lambda m, x: x.reshape(-1) * m.arange(1., 5.), [[[1., 2.], [3., 4.]]]),
    "flatten": (lambda m, x: x.flatten() * m.arange(1., 5.), [[[1., 2.], [3., 4.]]]),
    "expand": (lambda m, x: x.expand(2, -1) * m.tensor([[1.], [2.]]), [[1., 2.]]),
    "transpose": (lambda m, x: x.transpose(0, 1) * m.tensor([[1., 2.]]), [[[1.], [2.]]]),
    "permute": (lambda m, x: x.permute(2, 0, 1) * m.arange(1., 3.).reshape(2, 1, 1),
                [np.ones((1, 3, 2)).tolist()]),
    "squeeze_unsqueeze": (lambda m, x: x.squeeze(1).unsqueeze(-1) * m.tensor([[1.], [2.]]),
                          [[[1.], [2.]]]),
    "matmul_1d_1d": (lambda m, x, y: x @ y, [[1., 2.], [3., 4.]]),
    "matmul_2d_1d": (lambda m, x, y: x @ y, [[[1., 2.], [3., 4.]], [5., 6.]]),
    "matmul_1d_3d": (lambda m, x, y: x @ y,
                     [[1., 2.], np.arange(8.).reshape(2, 2, 2).tolist()]),
    "matmul_broadcast": (lambda m, x, y: x @ y, [np.ones((2, 1, 2, 3)).tolist(),
                                                  np.arange(18.).reshape(3, 3, 2).tolist()]),
    "to_float64": (lambda m, x: x.to(m.float64) * 2, [[1., 2.]]),
    "half_and_back": (lambda m, x: x.half().float() * 3, [[1., 2.]]),
    "clone": (lambda m, x: x.clone() * 2, [[1., 2.]]),
    "diamond": (lambda m, x: (lambda y: y * y + y.exp())(x * 2), [[1., 2.]]),
}


def _run_grads(m, fn, specs):
    leaves = [_leaf(m, s) for s in specs]
    out = fn(m, *leaves)
    seed = m.ones(tuple(out.shape), dtype=out.dtype) * 0.5 + m.arange(out.numel()).reshape(
        tuple(out.shape)).to(out.dtype)
    out.backward(seed)
    return [out] + [x.grad for x in leaves]


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients_match_torch(name):
    fn, specs = GRADS[name]
    if name in CLAMP_2_14 and _torch_version() < (2, 14):
        pytest.skip(f"PyTorch {torch.__version__} passes clamp's gradient at its bounds; "
                    "gpugrad follows PyTorch 2.14 (see test_clamp_gradient_follows_2_14)")
    assert_same(_run_grads(gg, fn, specs), _run_grads(torch, fn, specs), rtol=1e-5)


# PyTorch 2.14 changed clamp's gradient at its bounds (0 at a number bound, half at a tied
# tensor bound; it was 1); gpugrad follows the newest release.
CLAMP_2_14 = {"clamp_at_bounds", "clamp_min_only", "clamp_max_only"}


def _torch_version():
    return tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])


def test_clamp_gradient_follows_2_14():
    x = gg.tensor([-1.0, 0.0, 0.5, 1.0, 2.0], dtype=gg.float64, requires_grad=True)
    for call, want in [(lambda: x.clamp(0.0, 1.0), [0.0, 0.0, 1.0, 0.0, 0.0]),
                       (lambda: x.clamp(min=0.0), [0.0, 0.0, 1.0, 1.0, 1.0]),
                       (lambda: x.clamp(max=1.0), [1.0, 1.0, 1.0, 0.0, 0.0]),
                       (lambda: gg.clamp(x, gg.tensor(0.0, dtype=gg.float64),
                                         gg.tensor(1.0, dtype=gg.float64)),
                        [0.0, 0.5, 1.0, 0.5, 0.0])]:
        x.grad = None
        call().sum().backward()
        assert x.grad.tolist() == want


# ---- autograd semantics -------------------------------------------------------------------
def _both(fn):
    return fn(gg), fn(torch)


def _values(items):
    return [None if t is None else t.tolist() for t in items]


def test_grad_accumulates_across_backward_calls():
    def run(m):
        x = m.tensor([1., 2.], requires_grad=True)
        (x * 3).sum().backward()
        (x * x).sum().backward()
        return x.grad.tolist()
    got, want = _both(run)
    assert got == want == [5., 7.]


def test_retain_grad_is_idempotent_and_accumulates():
    def run(m):
        x = m.tensor([1., 2.], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.retain_grad()
        (y * y).sum().backward(retain_graph=True)
        first = y.grad.tolist()
        (y * y).sum().backward()
        return first, y.grad.tolist(), x.grad.tolist(), y.retains_grad, x.retains_grad
    got, want = _both(run)
    assert got == want


def test_retain_grad_sees_hooks_registered_after_it():
    def run(m):
        x = m.tensor([1., 2.], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: g * 10)
        y.sum().backward()
        return y.grad.tolist(), x.grad.tolist()
    got, want = _both(run)
    assert got == want == ([10., 10.], [20., 20.])


def test_retain_grad_does_not_alias_leaf_grad():
    def run(m):
        x = m.tensor([1., 2.], requires_grad=True)
        y = x + 0  # Add hands one gradient array to both y and x
        y.retain_grad()
        (y * m.tensor([1., 3.])).sum().backward()
        with m.no_grad():
            x.grad.mul_(5)
        return y.grad.tolist(), x.grad.tolist()
    got, want = _both(run)
    assert got == want


def test_hooks_run_in_order_and_replace_the_gradient():
    def run(m):
        log = []
        x = m.tensor([1., 2.], requires_grad=True)
        y = x * 2
        y.register_hook(lambda g: log.append(("h1", g.tolist())) or g * 10)
        y.register_hook(lambda g: log.append(("h2", g.tolist())))
        handle = y.register_hook(lambda g: g * 1000)
        handle.remove()
        x.register_hook(lambda g: g + 1)
        x.register_hook(lambda g: log.append(("leaf", g.tolist())))
        y.sum().backward()
        return log, x.grad.tolist()
    got, want = _both(run)
    assert got == want


def test_hook_on_fan_out_tensor_sees_the_summed_gradient():
    def run(m):
        log = []
        x = m.tensor([1., 2.], requires_grad=True)
        y = x * 2
        y.register_hook(lambda g: log.append(g.tolist()))
        (y * y + y).sum().backward()
        return log, x.grad.tolist()
    got, want = _both(run)
    assert got == want


def test_grad_allow_unused_and_grad_outputs():
    def run(m):
        grad = _grad_api(m)
        x = m.tensor([1., 2.], requires_grad=True)
        w = m.tensor([1.], requires_grad=True)
        unused = grad((x * 2).sum(), [x, w], allow_unused=True)
        weighted = grad(x * x, x, grad_outputs=m.tensor([1., 10.]))
        several = grad([x * x, x * 3], [x], grad_outputs=[m.tensor([1., 10.]), m.ones(2)])
        nonleaf = x * 2
        of_nonleaf = grad((nonleaf * nonleaf).sum(), [nonleaf, x])
        return [_values(r) for r in (unused, weighted, several, of_nonleaf)] + [x.grad]
    got, want = _both(run)
    assert got == want
    x, w = gg.tensor([1.], requires_grad=True), gg.tensor([1.], requires_grad=True)
    with pytest.raises(RuntimeError):
        gg.grad((x * 2).sum(), [x, w])


def test_create_graph_second_derivatives():
    def run(m):
        grad = _grad_api(m)
        x = m.tensor([1., 2.], requires_grad=True)
        (g,) = grad((x ** 3).sum(), x, create_graph=True)
        (h,) = grad(g.sum(), x)
        y = (x.sin() * x).sum()
        y.backward(create_graph=True)
        first = x.grad
        x.grad = None
        first.sum().backward()
        return g.tolist(), h.tolist(), g.requires_grad, np.round(x.grad.tolist(), 5).tolist()
    got, want = _both(run)
    assert got == want


def test_second_derivative_of_pow_zero_and_std():
    def run(m):
        grad = _grad_api(m)
        x = m.tensor([0.5, 2.], requires_grad=True)
        (g,) = grad((x ** 0).sum() + x.std() * x.sum(), x, create_graph=True)
        (h,) = grad(g.sum(), x)
        return np.round(g.tolist(), 5).tolist(), np.round(h.tolist(), 5).tolist()
    got, want = _both(run)
    assert got == want


def test_shared_subexpressions_on_non_leaf_graph():
    def run(m):
        a = m.tensor(2., requires_grad=True)
        b = m.tensor(1., requires_grad=True)
        s = a + b
        f = s * (b + 1) + s * s
        f.backward()
        return f.item(), a.grad.item(), b.grad.item()
    got, want = _both(run)
    assert got == want


def test_backward_twice_needs_retain_graph():
    for m in (gg, torch):
        x = m.tensor([1., 2.], requires_grad=True)
        y = x.exp().sum()
        y.backward()
        with pytest.raises(RuntimeError):
            y.backward()
    got, want = _both(lambda m: _retain_twice(m))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def _retain_twice(m):
    x = m.tensor([1., 2.], requires_grad=True)
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    return x.grad.tolist()


def test_leaf_flags_and_no_grad():
    def run(m):
        x = m.tensor([1., 2.], requires_grad=True)
        c = m.tensor([1.])
        with m.no_grad():
            z = x * 2
        return (x.is_leaf, c.is_leaf, (x * 2).is_leaf, (c * 2).is_leaf, z.requires_grad,
                x.detach().requires_grad, (x > 1).requires_grad, x.argmax().requires_grad,
                x.grad is None)
    got, want = _both(run)
    assert got == want


def test_nonscalar_backward_needs_gradient():
    for m in (gg, torch):
        x = m.tensor([1., 2.], requires_grad=True)
        with pytest.raises(RuntimeError):
            (x * 2).backward()


JVP_KINKS = {
    "pow_0": (lambda x: x ** 0, [0., 2.]),
    "pow_tensor_exp_0": (lambda x: x ** (x * 0), [0., 2.]),
    "std_constant": (lambda x: x.std(), [1., 1., 1.]),
    "std_constant_rows": (lambda x: x.reshape(2, 2).std(1), [1., 1., 1., 3.]),
    "norm_zero": (lambda x: x.norm(), [0., 0.]),
}


@pytest.mark.parametrize("name", sorted(JVP_KINKS))
def test_forward_mode_takes_backward_values_at_kinks(name):
    """Where these ops are not differentiable, jvp uses the value backward (and PyTorch)
    uses: J t from forward mode equals the J built from reverse-mode rows."""
    fn, values = JVP_KINKS[name]
    x = gg.tensor(values, dtype=gg.float64)
    tangent = gg.tensor(np.linspace(1.0, 2.0, len(values)))
    _, jt = gg.func.jvp(fn, (x,), (tangent.double(),))
    out, vjp_fn = gg.func.vjp(fn, x)
    rows = [vjp_fn(gg.tensor(np.eye(out.numel())[i].reshape(out.shape)))[0].numpy()
            for i in range(out.numel())]
    expected = (np.stack(rows) @ tangent.double().numpy()).reshape(out.shape)
    assert np.isfinite(jt.numpy()).all()
    np.testing.assert_allclose(jt.numpy(), expected, rtol=1e-12, atol=1e-12)
