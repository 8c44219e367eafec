"""The ``torch.*`` functions and ``Tensor`` methods that real PyTorch programs reach for first
(issue 13), against PyTorch.

Each case is written once against a module ``m`` and runs as ``m = gpugrad``; where PyTorch
is installed it also runs as ``m = torch`` and values, shapes and dtypes must agree. Without
PyTorch the gpugrad half still runs and the comparison is reported as skipped, with the
reason. Gradients are checked twice: against PyTorch's, and numerically in float64 with
``gg.gradcheck``. The samplers get statistical checks, and bad inputs must raise PyTorch's
kind of exception.
"""
import warnings

import numpy as np
import pytest

import gpugrad as gg
from torch_parity import assert_same, describe as _describe, flat as _flat

try:
    import torch
except ImportError:  # the gpugrad half of every case still runs
    torch = None

NO_TORCH = "PyTorch is not installed: gpugrad's result was computed but not compared"

# Edge values (NaN, inf) are the point of several cases; scatter's reduce= warns in PyTorch.
pytestmark = [pytest.mark.filterwarnings("ignore::RuntimeWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]

INF, NAN = float("inf"), float("nan")
RNG = np.random.default_rng(13)
A34 = RNG.standard_normal((3, 4))
A234 = RNG.standard_normal((2, 3, 4))
B43 = RNG.standard_normal((4, 3))
P23 = RNG.standard_normal((2, 3))
Q43 = RNG.standard_normal((4, 3))


def _f(m, array, dtype="float32"):
    """A NumPy array as a tensor of module ``m`` with the dtype named ``dtype``."""
    return m.tensor(np.asarray(array).astype(dtype))


def compare(case):
    """Run ``case`` on gpugrad; with PyTorch present, run it there too and compare."""
    got = case(gg)
    if torch is None:
        pytest.skip(NO_TORCH)
    assert_same(got, case(torch))


def _ptr_offsets(x):
    return x[1].data_ptr() - x.data_ptr(), x[:, 2].data_ptr() - x.data_ptr()


def _scatter_(m):
    return m.zeros(2, 3).scatter_(1, m.tensor([[2, 0], [1, 1]]), _f(m, [[1, 2], [3, 4]]))


# ---- forward: values, shapes and dtypes --------------------------------------------------
FORWARD = {
    # creation
    "as_tensor_list_dtype": lambda m: m.as_tensor([1, 2], dtype=m.float32),
    "as_tensor_ints": lambda m: m.as_tensor([1, 2]),
    "as_tensor_floats": lambda m: m.as_tensor([1.5, 2.5]),
    "as_tensor_numpy": lambda m: m.as_tensor(np.arange(3.0)),
    "as_tensor_tensor_cast": lambda m: m.as_tensor(m.tensor([1, 2]), dtype=m.float64),
    "legacy_constructor": lambda m: m.Tensor([1.0, 2.0]),
    "legacy_constructor_ints": lambda m: m.Tensor([[1, 2], [3, 4]]),
    "new_tensor": lambda m: m.zeros(1, dtype=m.float64).new_tensor([1, 2]),
    "new_zeros": lambda m: m.zeros(1, dtype=m.int32).new_zeros(2, 3),
    "new_zeros_tuple": lambda m: m.zeros(1).new_zeros((2,)),
    "new_ones": lambda m: m.zeros(1, dtype=m.float64).new_ones(2),
    "new_ones_dtype": lambda m: m.zeros(1).new_ones((2,), dtype=m.int64),
    "new_full": lambda m: m.zeros(1, dtype=m.int64).new_full((2, 2), 7),
    "new_empty_shape": lambda m: m.zeros(1, dtype=m.float64).new_empty(2, 3).shape,
    # joining and splitting
    "hstack_1d": lambda m: m.hstack([m.tensor([1, 2]), m.tensor([3])]),
    "hstack_2d": lambda m: m.hstack([_f(m, P23[:, :1]), _f(m, P23)]),
    "hstack_0d": lambda m: m.hstack([m.tensor(1.0), m.tensor([2.0, 3.0])]),
    "hstack_promotes": lambda m: m.hstack([m.tensor([1]), m.tensor([2.5])]),
    "vstack_1d": lambda m: m.vstack([m.tensor([1, 2]), m.tensor([3, 4])]),
    "vstack_mixed": lambda m: m.vstack((m.tensor([1.0, 2.0]), m.ones(2, 2))),
    "unbind": lambda m: m.unbind(_f(m, A34)),
    "unbind_dim": lambda m: m.unbind(_f(m, A234), dim=-1),
    "unbind_method": lambda m: _f(m, A34).unbind(1),
    # rearranging
    "t_2d": lambda m: m.t(_f(m, A34)),
    "t_1d": lambda m: m.t(m.tensor([1, 2])),
    "t_0d": lambda m: m.t(m.tensor(3.0)),
    "t_method": lambda m: _f(m, A34).t(),
    "movedim": lambda m: m.movedim(_f(m, A234), 0, -1),
    "movedim_tuple": lambda m: m.movedim(_f(m, A234), (0, 1), (2, 0)),
    "flip": lambda m: m.flip(_f(m, A34), (0, 1)),
    "flip_last": lambda m: m.flip(_f(m, A234), [-1]),
    "flip_none": lambda m: m.flip(_f(m, A34), ()),
    "flip_0d": lambda m: m.flip(m.tensor(2.0), (0,)),
    "flip_method_varargs": lambda m: _f(m, A234).flip(0, 2),
    "flip_method_one": lambda m: m.tensor([1, 2, 3]).flip(0),
    "roll_flat": lambda m: m.roll(_f(m, A34), 5),
    "roll_dim": lambda m: m.roll(_f(m, A34), -1, 1),
    "roll_dims": lambda m: m.roll(_f(m, A34), (1, -2), (0, 1)),
    "roll_0d": lambda m: m.roll(m.tensor(5.0), 3),
    "roll_method": lambda m: m.tensor([1, 2, 3]).roll(1, 0),
    "tile_short_dims": lambda m: m.tile(_f(m, A34), (2,)),
    "tile_long_dims": lambda m: m.tile(m.tensor([1, 2]), (2, 3)),
    "tile_zero": lambda m: m.tile(_f(m, A34), (0, 2)),
    "repeat": lambda m: _f(m, A34).repeat(2, 1, 3),
    "repeat_tuple": lambda m: m.tensor([1, 2]).repeat((3,)),
    "repeat_0d": lambda m: m.tensor(7).repeat(2, 2),
    "repeat_interleave_int": lambda m: m.repeat_interleave(_f(m, A34), 2),
    "repeat_interleave_counts": lambda m: m.repeat_interleave(_f(m, A34), m.tensor([1, 0, 2]),
                                                              dim=0),
    "repeat_interleave_dim1": lambda m: m.repeat_interleave(_f(m, A34), 3, dim=1),
    "repeat_interleave_0d_counts": lambda m: m.repeat_interleave(_f(m, A34), m.tensor(2),
                                                                 dim=0),
    "repeat_interleave_arange": lambda m: m.repeat_interleave(m.tensor([2, 0, 1])),
    "repeat_interleave_output_size": lambda m: m.repeat_interleave(m.tensor([1, 2]), 2, dim=0,
                                                                   output_size=4),
    "repeat_interleave_method": lambda m: _f(m, A34).repeat_interleave(2, dim=-1),
    "broadcast_to": lambda m: m.broadcast_to(m.tensor([1, 2]), (3, 2)),
    "broadcast_to_keep": lambda m: m.broadcast_to(_f(m, A34[:, :1]), (2, -1, 4)),
    "narrow": lambda m: m.narrow(_f(m, A34), 1, 1, 2),
    "narrow_negative_start": lambda m: m.narrow(_f(m, A34), 0, -2, 2),
    "narrow_tensor_start": lambda m: m.narrow(_f(m, A34), 1, m.tensor(1), 3),
    "narrow_method": lambda m: m.arange(5).narrow(0, 1, 3),
    "unflatten": lambda m: m.unflatten(_f(m, A234), 2, (2, 2)),
    "unflatten_method": lambda m: _f(m, A234).unflatten(-1, (-1, 1)),
    "reshape_as": lambda m: _f(m, A34).reshape_as(m.zeros(6, 2)),
    "meshgrid_ij": lambda m: m.meshgrid(m.tensor([1, 2]), m.tensor([3, 4, 5]), indexing="ij"),
    "meshgrid_xy": lambda m: m.meshgrid(m.tensor([1, 2]), m.tensor([3, 4, 5]),
                                        m.tensor([6, 7, 8, 9]), indexing="xy"),
    "meshgrid_list": lambda m: m.meshgrid([m.tensor([1.0, 2.0]), m.tensor([3.0])],
                                          indexing="xy"),
    "meshgrid_0d": lambda m: m.meshgrid(m.tensor(1), m.tensor([3, 4]), indexing="ij"),
    # indexing
    "masked_select": lambda m: m.masked_select(_f(m, A34), _f(m, A34) > 0),
    "masked_select_broadcast": lambda m: m.masked_select(
        _f(m, A34), m.tensor([True, False, True, False])),
    "masked_select_0d": lambda m: m.masked_select(m.tensor(2.0), m.tensor([True, False])),
    "scatter": lambda m: m.scatter(m.zeros(3, 4), 0, m.tensor([[0, 1, 2, 0]]), _f(m, B43.T)),
    "scatter_dim1": lambda m: m.scatter(m.zeros(2, 3), 1, m.tensor([[2], [0]]),
                                        _f(m, [[1.0], [2.0]])),
    "scatter_value_kw": lambda m: m.scatter(m.zeros(3), 0, m.tensor([1]), value=5.0),
    "scatter_value_pos": lambda m: m.scatter(m.zeros(2, 2), 1, m.tensor([[1], [0]]), 2.5),
    "scatter_int_value": lambda m: m.scatter(m.zeros(3, dtype=m.int64), 0, m.tensor([1]), 2.5),
    "scatter_reduce_add": lambda m: m.scatter(m.ones(3), 0, m.tensor([0, 0, 2]),
                                              m.tensor([1.0, 2.0, 3.0]), reduce="add"),
    "scatter_reduce_multiply": lambda m: m.scatter(m.full((3,), 2.0), 0, m.tensor([0, 0, 2]),
                                                   m.tensor([3.0, 4.0, 5.0]),
                                                   reduce="multiply"),
    "scatter_method": lambda m: m.zeros(3).scatter(0, m.tensor([2]), 1.0),
    "scatter_": _scatter_,
    "scatter__value": lambda m: m.zeros(2, 3).scatter_(1, m.tensor([[2], [0]]), 1.0),
    "scatter_add_": lambda m: m.zeros(3).scatter_add_(0, m.tensor([0, 0, 2]),
                                                      m.tensor([1.0, 2.0, 3.0])),
    "index_add_": lambda m: m.zeros(3).index_add_(0, m.tensor([0, 0, 2]),
                                                  m.tensor([1.0, 2.0, 3.0])),
    "index_add_alpha_dim1": lambda m: m.zeros(2, 3).index_add_(1, m.tensor([2, 0]),
                                                               _f(m, P23[:, :2]), alpha=2),
    "index_add_int": lambda m: m.zeros(3, dtype=m.int64).index_add_(
        0, m.tensor([1, 1]), m.tensor([4, 5])),
    "index_add": lambda m: m.index_add(_f(m, A34), 1, m.tensor([3, 3]), _f(m, A34[:, :2])),
    "nonzero": lambda m: m.nonzero(m.tensor([[1, 0], [0, 3]])),
    "nonzero_as_tuple": lambda m: m.nonzero(_f(m, A234) > 0.5, as_tuple=True),
    "nonzero_0d": lambda m: m.nonzero(m.tensor(5)),
    "nonzero_0d_zero": lambda m: m.nonzero(m.tensor(0.0)),
    "nonzero_0d_tuple": lambda m: m.nonzero(m.tensor(5), as_tuple=True),
    "nonzero_method": lambda m: m.tensor([0.0, 3.0, 0.0, 4.0]).nonzero(),
    "nonzero_method_tuple": lambda m: m.tensor([[True, False]]).nonzero(as_tuple=True),
    "where_condition_only": lambda m: m.where(_f(m, A34) > 0),
    "where_method": lambda m: _f(m, A34).where(_f(m, A34) > 0, _f(m, -A34)),
    "where_method_scalar": lambda m: m.tensor([1.0, 2.0]).where(m.tensor([True, False]), 0.0),
    # matrix products
    "mm": lambda m: m.mm(_f(m, A34), _f(m, B43)),
    "mm_int": lambda m: m.mm(m.tensor([[1, 2]]), m.tensor([[3], [4]])),
    "mm_method": lambda m: _f(m, A34, "float64").mm(_f(m, B43, "float64")),
    "bmm": lambda m: m.bmm(_f(m, A234), _f(m, A234.transpose(0, 2, 1))),
    "bmm_method": lambda m: _f(m, A234).bmm(_f(m, A234.transpose(0, 2, 1))),
    "dot": lambda m: m.dot(m.tensor([1.0, 2.0]), m.tensor([3.0, 4.0])),
    "dot_int32": lambda m: m.dot(m.tensor([1, 2], dtype=m.int32), m.tensor([3, 4],
                                                                          dtype=m.int32)),
    "addmm": lambda m: m.addmm(_f(m, P23[:, :1] @ np.ones((1, 3))), _f(m, P23),
                               _f(m, Q43.T @ Q43), beta=0.5, alpha=2),
    "addmm_row_input": lambda m: m.addmm(_f(m, [1.0, 2.0, 3.0]), _f(m, P23),
                                         _f(m, Q43.T @ Q43)),
    "addmm_beta0_ignores_nan": lambda m: m.addmm(m.full((2, 3), NAN), _f(m, P23),
                                                 _f(m, Q43.T @ Q43), beta=0),
    "kron_2d": lambda m: m.kron(m.tensor([[1, 2], [3, 4]]), m.tensor([[0, 1], [1, 0]])),
    "kron_mixed_dims": lambda m: m.kron(_f(m, P23), _f(m, [1.0, -1.0])),
    "kron_1d_2d": lambda m: m.kron(_f(m, [1.0, 2.0]), _f(m, P23)),
    "kron_promotes": lambda m: m.kron(m.tensor([1, 2]), m.tensor([0.5, 1.5])),
    "kron_0d": lambda m: m.kron(m.tensor(2.0), m.tensor([1.0, 2.0])),
    "trace": lambda m: m.trace(_f(m, A34)),
    "trace_int32": lambda m: m.trace(m.ones(2, 3, dtype=m.int32)),
    "diag_vector": lambda m: m.diag(m.tensor([1, 2, 3])),
    "diag_vector_above": lambda m: m.diag(_f(m, [1.0, 2.0]), 1),
    "diag_vector_below": lambda m: m.diag(_f(m, [1.0, 2.0]), -2),
    "diag_matrix": lambda m: m.diag(_f(m, A34)),
    "diag_matrix_offset": lambda m: m.diag(_f(m, A34), -1),
    "diag_matrix_far": lambda m: m.diag(_f(m, A34), 7),
    "cdist": lambda m: m.cdist(_f(m, P23), _f(m, Q43)),
    "cdist_p1": lambda m: m.cdist(_f(m, P23), _f(m, Q43), p=1),
    "cdist_inf": lambda m: m.cdist(_f(m, P23), _f(m, Q43), p=INF),
    "cdist_p0": lambda m: m.cdist(m.tensor([[0.0, 1.0]]), m.tensor([[0.0, 2.0], [0.0, 1.0]]),
                                  p=0),
    "cdist_p3": lambda m: m.cdist(_f(m, P23, "float64"), _f(m, Q43, "float64"), p=3),
    "cdist_batch": lambda m: m.cdist(_f(m, A234), _f(m, A234[:1, :2])),
    # einsum
    "einsum_matmul": lambda m: m.einsum("ij,jk->ik", _f(m, A34), _f(m, B43)),
    "einsum_implicit": lambda m: m.einsum("ij,jk", _f(m, A34), _f(m, B43)),
    "einsum_implicit_transpose": lambda m: m.einsum("ba", _f(m, A34)),
    "einsum_trace": lambda m: m.einsum("ii", _f(m, A34[:, :3])),
    "einsum_diagonal": lambda m: m.einsum("ii->i", _f(m, A34[:, :3])),
    "einsum_repeat_3d": lambda m: m.einsum("iij->j", _f(m, np.stack([A34[:, :3]] * 2, -1))),
    "einsum_outer": lambda m: m.einsum("i,j->ij", _f(m, [1.0, 2.0]), _f(m, [3.0, 4.0, 5.0])),
    "einsum_batch": lambda m: m.einsum("bij,bjk->bik", _f(m, A234),
                                       _f(m, A234.transpose(0, 2, 1))),
    "einsum_ellipsis_broadcast": lambda m: m.einsum("...ij,...jk->...ik", _f(m, A234),
                                                    _f(m, B43)),
    "einsum_ellipsis_sum": lambda m: m.einsum("i...->...", _f(m, A234)),
    "einsum_ellipsis_implicit": lambda m: m.einsum("...j,j", _f(m, A234), _f(m, B43[:, 0])),
    "einsum_ellipsis_middle": lambda m: m.einsum("a...c->ca", _f(m, A234)),
    "einsum_bilinear": lambda m: m.einsum("bn,anm,bm->ba", _f(m, P23), _f(m, A234[:, :3, :3]),
                                          _f(m, P23)),
    "einsum_chain": lambda m: m.einsum("ij,jk,kl->il", _f(m, A34), _f(m, B43), _f(m, P23.T)),
    "einsum_list": lambda m: m.einsum("i,i->", [_f(m, [1.0, 2.0]), _f(m, [3.0, 4.0])]),
    "einsum_spaces": lambda m: m.einsum("i j , j k -> i k", _f(m, A34), _f(m, B43)),
    "einsum_size1_broadcast": lambda m: m.einsum("ij,ij->ij", _f(m, [[1.0], [2.0]]),
                                                 _f(m, [[1.0, 2.0, 3.0]])),
    "einsum_int": lambda m: m.einsum("i,i", m.tensor([1, 2]), m.tensor([3, 4])),
    "einsum_uppercase": lambda m: m.einsum("Ab,bC", _f(m, A34), _f(m, B43)),
    "einsum_0d": lambda m: m.einsum("", m.tensor(2.0)),
    "einsum_empty": lambda m: m.einsum("i->", m.zeros(0)),
    # comparisons
    "isclose": lambda m: m.isclose(m.tensor([1.0, 1.1, INF, NAN]),
                                   m.tensor([1.0 + 1e-7, 1.0, INF, NAN])),
    "isclose_equal_nan": lambda m: m.isclose(m.tensor([NAN, 1.0]), m.tensor([NAN, 2.0]),
                                             equal_nan=True),
    "isclose_tolerances": lambda m: m.isclose(m.tensor([1.0, 2.0]), m.tensor([1.05, 2.5]),
                                              rtol=0.0, atol=0.1),
    "isclose_int": lambda m: m.isclose(m.tensor([1, 2]), m.tensor([1, 3])),
    "isclose_bool": lambda m: m.isclose(m.tensor([True, False]), m.tensor([True, True])),
    "allclose": lambda m: m.allclose(_f(m, A34), _f(m, A34 + 1e-9)),
    "allclose_false": lambda m: m.allclose(_f(m, A34), _f(m, A34 + 1e-3)),
    "allclose_method": lambda m: m.tensor([1.0]).allclose(m.tensor([1.5]), atol=0.6),
    "equal": lambda m: m.equal(m.tensor([1, 2]), m.tensor([1, 2])),
    "equal_promotes": lambda m: m.equal(m.tensor([1, 2]), m.tensor([1.0, 2.0])),
    "equal_shapes": lambda m: m.equal(m.ones(2), m.ones(1, 2)),
    "equal_values": lambda m: m.equal(m.ones(2), m.zeros(2)),
    "eq_method": lambda m: m.tensor([1, 2]).eq(m.tensor([1, 3])),
    "ne_method": lambda m: m.tensor([1.0, 2.0]).ne(2),
    "lt_method": lambda m: m.tensor([1, 2]).lt(1.5),
    "le_method": lambda m: m.tensor([1, 2]).le(m.tensor([1, 1])),
    "gt_method": lambda m: m.tensor([1.0, 2.0]).gt(m.tensor(1)),
    "ge_method": lambda m: m.tensor([True, False]).ge(True),
    # sorting and searching
    "unique": lambda m: m.unique(m.tensor([3, 1, 3, 2])),
    "unique_inverse_counts": lambda m: m.unique(m.tensor([[3, 1], [1, 2]]), return_inverse=True,
                                                return_counts=True),
    "unique_inverse": lambda m: m.unique(m.tensor([2.0, 1.0, 2.0]), return_inverse=True),
    "unique_dim": lambda m: m.unique(m.tensor([[1, 2], [0, 5], [1, 2]]), dim=0,
                                     return_inverse=True, return_counts=True),
    "unique_0d": lambda m: m.unique(m.tensor(5), return_inverse=True),
    "unique_nan": lambda m: m.unique(m.tensor([2.0, NAN, NAN, 1.0])),
    "unique_method": lambda m: m.tensor([2, 1, 2]).unique(return_counts=True),
    "searchsorted": lambda m: m.searchsorted(m.tensor([1, 3, 5, 7]), m.tensor([3, 6, 9, 0])),
    "searchsorted_right": lambda m: m.searchsorted(m.tensor([1, 3, 5, 7]), m.tensor([3, 6]),
                                                   right=True),
    "searchsorted_side": lambda m: m.searchsorted(m.tensor([1, 3, 5, 7]), m.tensor([3, 6]),
                                                  side="right"),
    "searchsorted_scalar": lambda m: m.searchsorted(m.tensor([1, 3, 5, 7]), 3),
    "searchsorted_int32": lambda m: m.searchsorted(m.tensor([1, 3, 5, 7]), m.tensor([3, 6]),
                                                   out_int32=True),
    "searchsorted_rows": lambda m: m.searchsorted(m.tensor([[1, 3, 5], [2, 4, 6]]),
                                                  m.tensor([[3, 6], [1, 4]])),
    "searchsorted_rows_right": lambda m: m.searchsorted(m.tensor([[1.0, 3.0], [2.0, 4.0]]),
                                                        m.tensor([[3.0], [4.0]]), right=True),
    "searchsorted_sorter": lambda m: m.searchsorted(m.tensor([5, 1, 3]), m.tensor([2, 4]),
                                                    sorter=m.tensor([1, 2, 0])),
    "searchsorted_float_values": lambda m: m.searchsorted(m.tensor([1, 3, 5]),
                                                          m.tensor([2.5, 5.0])),
    "bucketize": lambda m: m.bucketize(m.tensor([3, 6, 9]), m.tensor([1, 3, 5, 7])),
    "bucketize_right": lambda m: m.bucketize(m.tensor([[3, 6]]), m.tensor([1, 3, 5, 7]),
                                             right=True),
    "bucketize_scalar": lambda m: m.bucketize(3, m.tensor([1, 3, 5, 7])),
    "bucketize_int32": lambda m: m.bucketize(m.tensor([3.5]), m.tensor([1.0, 3.0]),
                                             out_int32=True),
    # pointwise
    "lerp_scalar": lambda m: m.lerp(_f(m, A34), _f(m, -A34), 0.3),
    "lerp_weight_above_half": lambda m: m.lerp(_f(m, A34), _f(m, -A34), 0.8),
    "lerp_tensor_weight": lambda m: m.lerp(_f(m, A34), _f(m, B43.T), _f(m, A34 / 3)),
    "lerp_broadcast": lambda m: m.lerp(_f(m, A34), _f(m, A34[0]), _f(m, A34[:, :1])),
    "lerp_int_weight": lambda m: m.lerp(_f(m, [1.0, 2.0]), _f(m, [3.0, 6.0]), 1),
    "lerp_0d_weight": lambda m: m.lerp(_f(m, [1.0, 2.0]), _f(m, [3.0, 6.0]), m.tensor(0.5)),
    "lerp_method": lambda m: m.tensor([0.0, 10.0]).lerp(m.tensor([10.0, 20.0]), 0.25),
    "nan_to_num": lambda m: m.nan_to_num(m.tensor([NAN, INF, -INF, 1.0])),
    "nan_to_num_values": lambda m: m.nan_to_num(m.tensor([NAN, INF, -INF, 1.0]), nan=2.0,
                                                posinf=9.0, neginf=-9.0),
    "nan_to_num_float16": lambda m: m.nan_to_num(m.tensor([NAN, INF, -INF], dtype=m.float16),
                                                 posinf=1e10),
    "nan_to_num_float64": lambda m: m.nan_to_num(m.tensor([INF, -INF], dtype=m.float64)),
    "nan_to_num_int": lambda m: m.nan_to_num(m.tensor([1, 2])),
    "softmax": lambda m: m.softmax(_f(m, A34), 1),
    "softmax_dtype": lambda m: m.softmax(_f(m, A34), 0, m.float64),
    "log_softmax": lambda m: m.log_softmax(_f(m, A34), dim=-1),
    "log_softmax_dtype": lambda m: m.log_softmax(_f(m, A34), 1, dtype=m.float64),
    "softmax_method": lambda m: _f(m, A34).softmax(0),
    "log_softmax_method": lambda m: _f(m, A34).log_softmax(-1, m.float64),
    "diff": lambda m: m.diff(m.tensor([1, 3, 6, 10])),
    "diff_n_dim": lambda m: m.diff(_f(m, A34), n=2, dim=0),
    "diff_zero": lambda m: m.diff(_f(m, A34), n=0),
    "diff_too_many": lambda m: m.diff(_f(m, A34), n=5),
    "diff_prepend_append": lambda m: m.diff(m.tensor([[1, 3, 6], [0, 1, 5]]),
                                            prepend=m.tensor([[0], [0]]),
                                            append=m.tensor([[9], [9]])),
    "diff_promotes": lambda m: m.diff(m.tensor([1, 2]), prepend=m.tensor([0.5])),
    "diff_bool": lambda m: m.diff(m.tensor([True, False, False])),
    # reductions and scans with dtype=
    "sum_dtype": lambda m: m.sum(m.tensor([1, 2]), dtype=m.float64),
    "sum_dtype_method": lambda m: _f(m, A34, "float16").sum(1, dtype=m.float32),
    "sum_dtype_keepdim": lambda m: m.tensor([[1, 2]], dtype=m.int32).sum(1, True,
                                                                          dtype=m.int64),
    "mean_dtype": lambda m: m.tensor([1, 2]).mean(dtype=m.float64),
    "mean_dtype_fn": lambda m: m.mean(_f(m, A34), 0, dtype=m.float64),
    "prod_dtype": lambda m: m.tensor([2, 3]).prod(dtype=m.int32),
    "prod_dtype_float": lambda m: m.prod(m.tensor([2, 3]), dtype=m.float32),
    "cumsum_dtype": lambda m: m.tensor([1, 2]).cumsum(0, dtype=m.float64),
    "cumsum_dtype_fn": lambda m: m.cumsum(m.tensor([1, 2], dtype=m.int32), 0, dtype=m.int32),
    "cumprod_dtype": lambda m: m.tensor([1, 2, 3]).cumprod(0, dtype=m.float32),
    # division with rounding, in-place ops
    "div_trunc": lambda m: m.div(m.tensor([7.0, -7.0]), 2, rounding_mode="trunc"),
    "div_floor": lambda m: m.div(m.tensor([7.0, -7.0]), 2, rounding_mode="floor"),
    "div_trunc_int": lambda m: m.div(m.tensor([7, -7, 6, -6]), m.tensor([2, 2, -4, 4]),
                                     rounding_mode="trunc"),
    "div_floor_int": lambda m: m.tensor([7, -7]).div(2, rounding_mode="floor"),
    "div__trunc_int": lambda m: m.tensor([7, -7]).div_(2, rounding_mode="trunc"),
    "div__float": lambda m: m.tensor([7.0, -7.0]).div_(m.tensor([2.0, 4.0])),
    "div__floor_float": lambda m: m.tensor([7.0, -7.0]).div_(2, rounding_mode="floor"),
    "masked_fill_": lambda m: m.zeros(2, 3).masked_fill_(m.tensor([True, False, True]), 2.0),
    "masked_fill__int": lambda m: m.zeros(3, dtype=m.int64).masked_fill_(
        m.tensor([True, False, False]), 4),
    # metadata and conversions
    "type_cast": lambda m: m.tensor([1, 2]).type(m.float32),
    "type_name_cast": lambda m: m.tensor([1.5]).type("torch.LongTensor"),
    "numel": lambda m: m.numel(m.zeros(2, 3)),
    "is_tensor": lambda m: (m.is_tensor(m.zeros(1)), m.is_tensor([1.0]), m.is_tensor(1)),
    "element_size": lambda m: [m.zeros(1, dtype=d).element_size()
                               for d in (m.float16, m.float32, m.float64, m.int32, m.int64,
                                         m.bool)],
    "nbytes": lambda m: (m.zeros(2, 3).nbytes, m.zeros(3, dtype=m.int64).nbytes),
    "stride": lambda m: (m.zeros(2, 3, 4).stride(), m.zeros(2, 3, 4).stride(1),
                         m.zeros(2, 3).t().stride(), m.zeros(3, 1).expand(3, 4).stride(),
                         m.zeros(2, 3).stride(-1)),
    "stride_0d": lambda m: m.tensor(1.0).stride(),
    "data_ptr_offset": lambda m: _ptr_offsets(m.arange(6).reshape(2, 3)),
    "iterate": lambda m: list(_f(m, A34)),
    "iterate_rows_sum": lambda m: [row.sum() for row in m.tensor([[1, 2], [3, 4]])],
    "format_0d": lambda m: f"{m.tensor(0.123456):.4f}|{m.tensor(3):>4d}|{m.tensor(True)}",
    "format_empty_spec": lambda m: format(m.tensor(2.5), ""),
}


@pytest.mark.parametrize("name", sorted(FORWARD))
def test_forward_matches_torch(name):
    compare(FORWARD[name])


def test_type_names_follow_torch_with_our_prefix():
    for dtype, name in [("float32", "FloatTensor"), ("float64", "DoubleTensor"),
                        ("float16", "HalfTensor"), ("int32", "IntTensor"),
                        ("int64", "LongTensor"), ("bool", "BoolTensor")]:
        assert gg.zeros(1, dtype=getattr(gg, dtype)).type() == f"gpugrad.{name}"
        if torch is not None:
            assert torch.zeros(1, dtype=getattr(torch, dtype)).type() == f"torch.{name}"
    assert gg.tensor([1]).type("gpugrad.DoubleTensor").dtype == gg.float64


def test_as_tensor_shares_memory_and_identity():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    assert gg.as_tensor(x) is x and gg.as_tensor(x, dtype=gg.float32) is x
    a = np.arange(3.0)
    t = gg.as_tensor(a)
    a[0] = 7.0
    assert t.tolist() == [7.0, 1.0, 2.0]
    b = np.arange(3.0)
    gg.as_tensor(b, dtype=gg.float32)[0] = 5.0  # a cast copies
    assert b[0] == 0.0
    y = gg.as_tensor(x, dtype=gg.float64)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]  # the cast stays in the graph, as in PyTorch


def test_legacy_constructor_keeps_array_wrapping():
    array = np.arange(3, dtype=np.int32)
    t = gg.Tensor(array)
    assert t.dtype == gg.int32 and t.numpy() is array
    assert gg.Tensor((1, 2)).dtype == gg.float32
    assert gg.Tensor([1.0], requires_grad=True).requires_grad


def test_default_dtype_round_trip():
    assert gg.get_default_dtype() == gg.float32
    try:
        gg.set_default_dtype(gg.float64)
        assert gg.get_default_dtype() == gg.float64
        assert gg.tensor([1.5]).dtype == gg.float64 and gg.zeros(2).dtype == gg.float64
        assert gg.rand(2).dtype == gg.float64 and gg.Tensor([1]).dtype == gg.float64
        assert (gg.tensor([1, 2]) * 0.5).dtype == gg.float64
        assert (gg.tensor([1, 2]) / 2).dtype == gg.float64
        if torch is not None:
            previous = torch.get_default_dtype()
            torch.set_default_dtype(torch.float64)
            try:
                assert_same(gg.tensor([1, 2]) * 0.5, torch.tensor([1, 2]) * 0.5)
                assert_same(gg.arange(0, 1, 0.5), torch.arange(0, 1, 0.5))
            finally:
                torch.set_default_dtype(previous)
    finally:
        gg.set_default_dtype(gg.float32)
    assert gg.tensor([1.5]).dtype == gg.float32
    with pytest.raises(TypeError, match="set_default_dtype"):
        gg.set_default_dtype(gg.int64)


def test_iteration_and_format_errors():
    with pytest.raises(TypeError, match="0-d"):
        iter(gg.tensor(1.0))
    with pytest.raises(TypeError):
        f"{gg.ones(2):.2f}"
    rows = list(gg.arange(6).reshape(2, 3))
    assert [r.tolist() for r in rows] == [[0, 1, 2], [3, 4, 5]]
    if torch is not None:
        for m in (gg, torch):
            with pytest.raises(TypeError):
                iter(m.tensor(1.0))
            with pytest.raises(TypeError):
                format(m.ones(2), ".2f")
            assert format(m.ones(2), "") == str(m.ones(2))


def test_inplace_methods_return_self():
    x = gg.zeros(2, 3)
    idx = gg.tensor([[0, 1, 2]])
    assert x.scatter_(1, idx, 1.0) is x and x.scatter_add_(1, idx, gg.ones(1, 3)) is x
    assert x.index_add_(0, gg.tensor([1]), gg.ones(1, 3)) is x
    assert x.masked_fill_(x > 1, 0.0) is x and x.div_(2, rounding_mode="floor") is x


def test_inference_mode_forms():
    x = gg.ones(2, requires_grad=True)
    with gg.inference_mode():
        assert not gg.is_grad_enabled() and not (x * 2).requires_grad
    assert gg.is_grad_enabled()

    @gg.inference_mode()
    def called(t):
        return t * 2

    @gg.inference_mode
    def bare(t):
        return t * 2

    assert not called(x).requires_grad and not bare(x).requires_grad
    with gg.no_grad():
        with gg.inference_mode(False):
            assert (x * 2).requires_grad  # inference_mode(False) turns recording on
        assert not gg.is_grad_enabled()
    assert bare.__name__ == "bare"


def test_backward_inputs_accumulates_only_those():
    def run(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        w = m.tensor(3.0, requires_grad=True)
        h = x * w
        h.retain_grad()
        (h * h).sum().backward(inputs=[w])
        assert x.grad is None
        first = w.grad.clone()
        (x * w).sum().backward(inputs=w)
        return first, w.grad, x.grad is None

    got = run(gg)
    if torch is None:
        pytest.skip(NO_TORCH)
    want = run(torch)
    assert_same(got[:2], want[:2])
    assert got[2] and want[2]


def test_backward_inputs_with_a_non_leaf():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    (h * h).sum().backward(inputs=[h])
    assert h.grad.tolist() == [4.0, 8.0] and x.grad is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward(inputs=[gg.ones(2)])


def test_seed_reseeds_and_reproduces():
    s = gg.seed()
    assert isinstance(s, int) and 0 <= s < 2**63
    a = gg.randperm(10).tolist()
    gg.manual_seed(s)
    assert gg.randperm(10).tolist() == a
    assert gg.seed() != s  # fresh entropy each call (a 1 in 2**63 chance of a false alarm)


# ---- random functions: shapes and dtypes against PyTorch, statistics ----------------------
RANDOM = {
    "randperm": lambda m: m.randperm(5),
    "randperm_dtype": lambda m: m.randperm(4, dtype=m.float32),
    "randperm_empty": lambda m: m.randperm(0),
    "normal_tensor_number": lambda m: m.normal(m.zeros(2, 3), 1.0),
    "normal_number_tensor": lambda m: m.normal(0.0, m.ones(3, dtype=m.float64)),
    "normal_broadcast": lambda m: m.normal(m.zeros(2, 1), m.ones(3)),
    "normal_size": lambda m: m.normal(0.0, 1.0, (2, 3)),
    "normal_size_dtype": lambda m: m.normal(0.0, 1.0, size=(2,), dtype=m.float64),
    "normal_requires_grad": lambda m: m.normal(m.zeros(2, requires_grad=True), 1.0),
    "bernoulli": lambda m: m.bernoulli(m.full((2, 3), 0.5)),
    "bernoulli_float64": lambda m: m.bernoulli(m.full((2,), 0.5, dtype=m.float64)),
    "bernoulli_p": lambda m: m.bernoulli(m.zeros(4), 0.3),
    "bernoulli_requires_grad": lambda m: m.bernoulli(m.full((2,), 0.5, requires_grad=True)),
    "multinomial": lambda m: m.multinomial(m.tensor([0.2, 0.3, 0.5]), 2),
    "multinomial_rows": lambda m: m.multinomial(m.ones(4, 3), 5, True),
    "randint_like": lambda m: m.randint_like(m.zeros(2, 3), 10),
    "randint_like_range_dtype": lambda m: m.randint_like(m.zeros(2, dtype=m.int32), 3, 10),
    "randint_like_cast": lambda m: m.randint_like(m.zeros(2), 0, 5, dtype=m.int64),
}


def _shape_dtype_grad(t):
    return _describe(t)[:2] + (t.requires_grad,)


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_shapes_and_dtypes_match_torch(name):
    got = _shape_dtype_grad(RANDOM[name](gg))
    if torch is None:
        pytest.skip(NO_TORCH)
    assert got == _shape_dtype_grad(RANDOM[name](torch))


@pytest.mark.parametrize("n", [0, 1, 2, 7, 100])
def test_randperm_is_a_permutation(n):
    for _ in range(5):
        p = gg.randperm(n)
        assert p.dtype == gg.int64 and sorted(p.tolist()) == list(range(n))


def test_randperm_is_uniform():
    counts = np.zeros((3, 3))
    for _ in range(3000):
        for position, value in enumerate(gg.randperm(3).tolist()):
            counts[position, value] += 1
    assert np.all(np.abs(counts - 1000) < 150)  # ~ 5 sigma of a binomial(3000, 1/3)


def test_multinomial_without_replacement_never_repeats():
    weights = gg.tensor([[5.0, 1.0, 0.1, 3.0, 0.0, 2.0]] * 50)
    for _ in range(20):
        draws = gg.multinomial(weights, 5).numpy()
        for row in draws:
            assert len(set(row.tolist())) == 5 and 4 not in row  # zero weight never drawn
    full = gg.multinomial(gg.ones(7), 7)
    assert sorted(full.tolist()) == list(range(7))


def test_multinomial_frequencies_follow_the_weights():
    weights = np.array([1.0, 0.0, 3.0, 6.0])
    draws = gg.multinomial(gg.tensor(weights), 20000, replacement=True).numpy()
    freq = np.bincount(draws, minlength=4) / draws.size
    np.testing.assert_allclose(freq, weights / weights.sum(), atol=0.015)
    # The first pick without replacement also follows the weights.
    firsts = gg.multinomial(gg.tensor(np.tile(weights, (20000, 1))), 2).numpy()[:, 0]
    np.testing.assert_allclose(np.bincount(firsts, minlength=4) / firsts.size,
                               weights / weights.sum(), atol=0.015)
    # Rows are drawn independently; zero weights at either end are never picked.
    one_hot = gg.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    assert gg.multinomial(one_hot, 50, True).tolist() == [[2] * 50, [0] * 50, [1] * 50]


def test_bernoulli_mean_and_values():
    p = gg.tensor([0.0, 0.1, 0.5, 0.9, 1.0], dtype=gg.float64)
    draws = gg.bernoulli(p.expand(20000, 5))
    assert set(np.unique(draws.numpy()).tolist()) <= {0.0, 1.0}
    mean = draws.mean(0).numpy()
    np.testing.assert_allclose(mean, p.numpy(), atol=4 * np.sqrt(0.25 / 20000))
    assert mean[0] == 0.0 and mean[-1] == 1.0
    assert abs(gg.bernoulli(gg.zeros(20000), 0.3).mean().item() - 0.3) < 0.015


def test_normal_moments():
    x = gg.normal(gg.full((20000,), 2.0, dtype=gg.float64), 3.0)
    assert abs(x.mean().item() - 2.0) < 0.1 and abs(x.std().item() - 3.0) < 0.1
    y = gg.normal(-1.0, gg.tensor([0.0, 1.0]).expand(20000, 2))
    assert (y[:, 0] == -1.0).all() and abs(y[:, 1].std().item() - 1.0) < 0.05


def test_randint_like_bounds():
    x = gg.randint_like(gg.zeros(5000, dtype=gg.int32), -3, 4)
    assert x.dtype == gg.int32 and x.min().item() == -3 and x.max().item() == 3


def test_samplers_follow_manual_seed():
    def draw():
        return (gg.randperm(6).tolist(), gg.normal(gg.zeros(3), 1.0).tolist(),
                gg.bernoulli(gg.full((4,), 0.5)).tolist(),
                gg.multinomial(gg.ones(5), 3).tolist(),
                gg.multinomial(gg.ones(5), 3, True).tolist(),
                gg.randint_like(gg.zeros(3), 9).tolist())
    gg.manual_seed(5)
    first = draw()
    gg.manual_seed(5)
    assert draw() == first


# ---- gradients against PyTorch ----------------------------------------------------------
def _weights(shape):
    """A fixed random cotangent, so every output element's gradient path counts."""
    return np.random.default_rng(len(shape) + int(np.prod(shape))).standard_normal(shape)


def _loss(m, out):
    total = 0
    for o in _flat(out):
        if o.dtype in (m.float32, m.float64) and o.requires_grad:
            total = total + (o * m.tensor(_weights(tuple(o.shape)))).sum()
    return total


GRADS = {
    "einsum_matmul": (lambda m, a, b: m.einsum("ij,jk->ik", a, b), [A34, B43]),
    "einsum_diagonal": (lambda m, a: m.einsum("ii->i", a), [A34[:, :3]]),
    "einsum_trace": (lambda m, a: m.einsum("ii", a), [A34[:, :3]]),
    "einsum_repeat_3d": (lambda m, a: m.einsum("iji->j", a), [A234[:2, :, :2]]),
    "einsum_same_operand": (lambda m, a: m.einsum("i,i->", a, a), [A34[0]]),
    "einsum_ellipsis": (lambda m, a, b: m.einsum("...ij,...jk->...ik", a, b), [A234, B43]),
    "einsum_size1": (lambda m, a, b: m.einsum("ij,ij->ij", a, b), [P23[:, :1], P23[:1]]),
    "einsum_sum_only": (lambda m, a, b: m.einsum("ij,k->k", a, b), [A34, P23[0]]),
    "cdist_p2_with_zero": (lambda m, a, b: m.cdist(a, b), [P23, np.vstack([P23[:1], Q43])]),
    "cdist_p1": (lambda m, a, b: m.cdist(a, b, p=1), [P23, Q43]),
    "cdist_inf": (lambda m, a, b: m.cdist(a, b, p=INF), [P23, Q43]),
    "cdist_p3": (lambda m, a, b: m.cdist(a, b, p=3), [P23, Q43]),
    "lerp": (lambda m, a, b, w: m.lerp(a, b, w), [A34, B43.T, A34[:, :1] / 3]),
    "lerp_scalar": (lambda m, a, b: m.lerp(a, b, 0.7), [A34, B43.T]),
    "nan_to_num_at_inf": (lambda m, a: m.nan_to_num(a * m.tensor([INF, 1.0, NAN, -INF])),
                          [A34]),
    "scatter": (lambda m, a, s: m.scatter(a, 1, m.tensor([[2, 0], [3, 1], [0, 0]]), s),
                [A34, A34[:, :2]]),
    "scatter_": (lambda m, a, s: a.clone().scatter_(0, m.tensor([[1, 0, 2, 1]]), s),
                 [A34, A34[:1]]),
    "index_add_": (lambda m, a, s: a.clone().index_add_(1, m.tensor([3, 0, 3]), s, alpha=2),
                   [A34, A34[:, :3]]),
    "masked_select": (lambda m, a: m.masked_select(a, m.tensor(A34[0] > 0)), [A34]),
    "masked_fill_": (lambda m, a: a.clone().masked_fill_(m.tensor(A34 > 0), 1.5), [A34]),
    "narrow": (lambda m, a: m.narrow(a, 1, -3, 2), [A34]),
    "unbind": (lambda m, a: m.unbind(a, 1), [A34]),
    "flip": (lambda m, a: m.flip(a, (0, 2)), [A234]),
    "roll": (lambda m, a: m.roll(a, (1, -1), (0, 2)), [A234]),
    "roll_flat": (lambda m, a: m.roll(a, 3), [A34]),
    "tile": (lambda m, a: m.tile(a, (2, 1, 2)), [A34]),
    "repeat": (lambda m, a: a.repeat(2, 3), [A34[0]]),
    "repeat_interleave": (lambda m, a: m.repeat_interleave(a, m.tensor([2, 0, 1]), dim=0),
                          [A34]),
    "broadcast_to": (lambda m, a: m.broadcast_to(a, (2, 3, 4)), [A34[:, :1]]),
    "movedim": (lambda m, a: m.movedim(a, (0, 2), (1, 0)), [A234]),
    "t": (lambda m, a: a.t(), [A34]),
    "kron": (lambda m, a, b: m.kron(a, b), [P23, A34[:2, :2]]),
    "trace": (lambda m, a: m.trace(a), [A34]),
    "diag_vector": (lambda m, a: m.diag(a, -1), [A34[0]]),
    "diag_matrix": (lambda m, a: m.diag(a, 1), [A34]),
    "dot": (lambda m, a, b: m.dot(a, b), [A34[0], A34[1]]),
    "mm": (lambda m, a, b: m.mm(a, b), [A34, B43]),
    "bmm": (lambda m, a, b: m.bmm(a, b), [A234, A234.transpose(0, 2, 1)]),
    "addmm": (lambda m, c, a, b: m.addmm(c, a, b, beta=0.5, alpha=2), [A34[:, :3], A34, B43]),
    "diff": (lambda m, a, p: m.diff(a, n=2, dim=1, prepend=p), [A34, A34[:, :1]]),
    "hstack_vstack": (lambda m, a, b: m.vstack([m.hstack([a, b]), m.hstack([b, a])]),
                      [P23, P23[:, :1]]),
    "meshgrid": (lambda m, a, b: m.meshgrid(a, b, indexing="xy"), [A34[0], P23[0]]),
    "unflatten": (lambda m, a: a.unflatten(1, (2, 2)), [A34]),
    "softmax": (lambda m, a: m.softmax(a, 0), [A34]),
    "log_softmax_method": (lambda m, a: a.log_softmax(1), [A34]),
    "normal_zero_grad": (lambda m, a: m.normal(a, 1.0) * 0 + a * 0, [A34]),
    "div_floor_zero_grad": (lambda m, a: m.div(a, 0.3, rounding_mode="floor") + a, [A34]),
    "div_trunc_zero_grad": (lambda m, a: m.div(a, 0.3, rounding_mode="trunc") + a, [A34]),
    "sum_dtype_float32": (lambda m, a: a.sum(0, dtype=m.float32), [A34]),
    "cumsum_dtype": (lambda m, a: a.to(m.float32).cumsum(1, dtype=m.float64), [A34]),
    "where_method": (lambda m, a, b: a.where(a > 0, b), [A34, B43.T]),
    "iterate": (lambda m, a: m.stack([row * i for i, row in enumerate(a)]), [A34]),
}


def _grads(m, fn, arrays):
    leaves = [m.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = fn(m, *leaves)
    _loss(m, out).backward()
    return out, [leaf.grad if leaf.grad is not None else m.zeros_like(leaf) for leaf in leaves]


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients_match_torch(name):
    fn, arrays = GRADS[name]
    got = _grads(gg, fn, arrays)
    if torch is None:
        pytest.skip(NO_TORCH)
    assert_same(got, _grads(torch, fn, arrays), rtol=1e-6)


def test_bernoulli_and_normal_are_in_the_graph_with_zero_gradient():
    for sample in (lambda p: gg.bernoulli(p), lambda p: gg.normal(p, 0.5)):
        p = gg.full((3,), 0.5, requires_grad=True)
        out = sample(p)
        assert out.requires_grad
        out.sum().backward()
        assert p.grad.tolist() == [0.0, 0.0, 0.0]


# ---- numeric gradient checks in float64 ---------------------------------------------------
def _leaf(array):
    return gg.tensor(np.array(array, dtype=np.float64), requires_grad=True)


GRADCHECK = {
    "einsum_matmul": (lambda a, b: gg.einsum("ij,jk->ik", a, b), [A34, B43]),
    "einsum_batch": (lambda a, b: gg.einsum("bij,bjk->bik", a, b),
                     [A234, A234.transpose(0, 2, 1)]),
    "einsum_ellipsis_broadcast": (lambda a, b: gg.einsum("...ij,...jk", a, b), [A234, B43]),
    "einsum_ellipsis_sum": (lambda a: gg.einsum("i...->...", a), [A234]),
    "einsum_diagonal": (lambda a: gg.einsum("ii->i", a), [A34[:, :3]]),
    "einsum_trace": (lambda a: gg.einsum("ii", a), [A34[:, :3]]),
    "einsum_repeated_two_operands": (lambda a, b: gg.einsum("iij,jk->ik", a, b),
                                     [np.stack([A34[:, :3]] * 2, -1), P23]),
    "einsum_three_operands": (lambda a, b, c: gg.einsum("bn,anm,bm->ba", a, b, c),
                              [P23, A234[:, :3, :3], P23]),
    "einsum_outer_implicit": (lambda a, b: gg.einsum("j,i", a, b), [A34[0], P23[0]]),
    "einsum_size1_broadcast": (lambda a, b: gg.einsum("ij,ij->ij", a, b),
                               [P23[:, :1], P23[:1]]),
    "einsum_summed_inside": (lambda a: gg.einsum("ijk->j", a), [A234]),
    "kron": (lambda a, b: gg.kron(a, b), [P23, A34[:2, :2]]),
    "kron_mixed_dims": (lambda a, b: gg.kron(a, b), [A34[0], P23]),
    "cdist_p2": (lambda a, b: gg.cdist(a, b), [P23, Q43]),
    "cdist_p1": (lambda a, b: gg.cdist(a, b, p=1), [P23, Q43]),
    "cdist_p3": (lambda a, b: gg.cdist(a, b, p=3), [P23, Q43]),
    "cdist_inf": (lambda a, b: gg.cdist(a, b, p=INF), [P23, Q43]),
    "cdist_batch": (lambda a, b: gg.cdist(a, b), [A234, A234[:1, :2] + 0.1]),
    "lerp": (lambda a, b, w: gg.lerp(a, b, w), [A34, B43.T, A34 / 4]),
    "lerp_broadcast_weight": (lambda a, b, w: gg.lerp(a, b, w), [A34, A34[0], A34[:, :1]]),
    "addmm": (lambda c, a, b: gg.addmm(c, a, b, beta=0.5, alpha=-2), [A34[0, :3], A34, B43]),
    "diff": (lambda a: gg.diff(a, n=2), [A34]),
    "diff_prepend_append": (lambda a, p, q: gg.diff(a, dim=0, prepend=p, append=q),
                            [A34, A34[:1], A34[:2]]),
    "roll": (lambda a: gg.roll(a, (1, 2), (0, 1)), [A34]),
    "roll_flat": (lambda a: gg.roll(a, -5), [A234]),
    "flip": (lambda a: gg.flip(a, (0, 2)), [A234]),
    "tile": (lambda a: gg.tile(a, (2, 1, 3)), [A34]),
    "repeat": (lambda a: a.repeat(3, 1, 2), [A34]),
    "repeat_interleave": (lambda a: gg.repeat_interleave(a, gg.tensor([1, 3, 0]), dim=0),
                          [A34]),
    "repeat_interleave_flat": (lambda a: gg.repeat_interleave(a, 2), [A34]),
    "narrow": (lambda a: gg.narrow(a, 2, 1, 2), [A234]),
    "masked_select": (lambda a: gg.masked_select(a, gg.tensor(A34 > 0)), [A34]),
    "masked_select_broadcast": (lambda a: gg.masked_select(a, gg.tensor(A234 > 0)), [A34]),
    "unbind": (lambda a: gg.unbind(a, 1), [A34]),
    "movedim": (lambda a: gg.movedim(a, 0, 2), [A234]),
    "trace": (lambda a: gg.trace(a), [A34]),
    "diag_vector": (lambda a: gg.diag(a, 2), [A34[0]]),
    "diag_matrix": (lambda a: gg.diag(a, -1), [A34]),
    "dot": (lambda a, b: gg.dot(a, b), [A34[0], B43[:, 0]]),
    "mm": (lambda a, b: gg.mm(a, b), [A34, B43]),
    "bmm": (lambda a, b: gg.bmm(a, b), [A234, A234.transpose(0, 2, 1)]),
    "broadcast_to": (lambda a: gg.broadcast_to(a, (2, 3, 4)), [A34[:1]]),
    "scatter": (lambda a, s: gg.scatter(a, 1, gg.tensor([[3, 1], [0, 2], [1, 2]]), s),
                [A34, A34[:, 1:3]]),
    "scatter_value": (lambda a: gg.scatter(a, 0, gg.tensor([[2, 0, 1, 2]]), value=0.5), [A34]),
    "index_add": (lambda a, s: gg.index_add(a, 0, gg.tensor([2, 2, 0]), s), [A34, A34]),
    "nan_to_num": (lambda a: gg.nan_to_num(a, posinf=2.0), [A34]),
    "meshgrid": (lambda a, b: gg.meshgrid(a, b, indexing="ij"), [A34[0], P23[0]]),
    "t": (lambda a: gg.t(a), [A34]),
    "hstack": (lambda a, b: gg.hstack([a, b]), [A34, A34[:, :1]]),
    "vstack": (lambda a, b: gg.vstack([a, b]), [A34[0], A34]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck(name):
    fn, arrays = GRADCHECK[name]
    assert gg.gradcheck(fn, [_leaf(a) for a in arrays])


def test_einsum_second_derivative():
    # Einsum's backward is an einsum, so gradients of gradients work (a Hessian-vector
    # product of a quadratic form equals (A + A^T) v).
    a = gg.tensor(A34[:, :3], dtype=gg.float64)
    x = gg.tensor(A34[0, :3], dtype=gg.float64, requires_grad=True)
    (g,) = gg.grad(gg.einsum("i,ij,j->", x, a, x), [x], create_graph=True)
    v = gg.tensor([1.0, -2.0, 0.5], dtype=gg.float64)
    (hv,) = gg.grad((g * v).sum(), [x])
    np.testing.assert_allclose(hv.numpy(), (A34[:, :3] + A34[:, :3].T) @ v.numpy())
    assert gg.gradcheck(lambda t: gg.grad(gg.einsum("i,ij,j->", t, a, t), [t],
                                          create_graph=True)[0], [_leaf(A34[1, :3])])


def test_einsum_forward_mode():
    a, b = gg.tensor(A34, dtype=gg.float64), gg.tensor(B43, dtype=gg.float64)
    ta = gg.tensor(A34[::-1].copy(), dtype=gg.float64)
    out, tangent = gg.func.jvp(lambda x: gg.einsum("ij,jk", x, b), (a,), (ta,))
    np.testing.assert_allclose(tangent.numpy(), A34[::-1] @ B43)


def test_einsum_result_never_aliases_its_input():
    x = gg.arange(6.0).reshape(2, 3)
    y = gg.einsum("ij->ji", x)
    y[0, 0] = 100.0
    assert x[0, 0].item() == 0.0


def test_flip_and_roll_copy():
    x = gg.arange(4.0)
    for y in (gg.flip(x, (0,)), gg.roll(x, 1), gg.tile(x, (1,))):
        y[0] = 9.0
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_narrow_and_movedim_are_views():
    x = gg.zeros(3, 4)
    gg.narrow(x, 1, 1, 2)[0, 0] = 5.0
    gg.movedim(x, 0, 1)[3, 2] = 7.0
    assert x[0, 1].item() == 5.0 and x[2, 3].item() == 7.0


# ---- bad inputs raise PyTorch's kind of error ----------------------------------------------
ERRORS = {
    "mm_shapes": (lambda m: m.mm(m.ones(2, 3), m.ones(2, 3)), RuntimeError),
    "mm_vector": (lambda m: m.mm(m.ones(3), m.ones(3, 3)), RuntimeError),
    "mm_dtypes": (lambda m: m.mm(m.ones(2, 3), m.ones(3, 3, dtype=m.float64)), RuntimeError),
    "bmm_batch": (lambda m: m.bmm(m.ones(2, 2, 3), m.ones(3, 3, 3)), RuntimeError),
    "bmm_2d": (lambda m: m.bmm(m.ones(2, 3), m.ones(3, 3)), RuntimeError),
    "dot_2d": (lambda m: m.dot(m.ones(2, 2), m.ones(2, 2)), RuntimeError),
    "dot_lengths": (lambda m: m.dot(m.ones(2), m.ones(3)), RuntimeError),
    "dot_dtypes": (lambda m: m.dot(m.ones(2), m.ones(2, dtype=m.float64)), RuntimeError),
    "addmm_input_shape": (lambda m: m.addmm(m.ones(4), m.ones(2, 3), m.ones(3, 3)),
                          RuntimeError),
    "einsum_too_many_operands": (lambda m: m.einsum("ij", m.ones(2, 3), m.ones(2)),
                                 RuntimeError),
    "einsum_too_few_operands": (lambda m: m.einsum("i,i", m.ones(2)), RuntimeError),
    "einsum_bad_subscript": (lambda m: m.einsum("1->", m.ones(2)), RuntimeError),
    "einsum_ndim": (lambda m: m.einsum("ijk", m.ones(2, 3)), RuntimeError),
    "einsum_output_unknown": (lambda m: m.einsum("ij->ik", m.ones(2, 3)), RuntimeError),
    "einsum_output_repeated": (lambda m: m.einsum("ii->ii", m.ones(2, 2)), RuntimeError),
    "einsum_repeat_sizes": (lambda m: m.einsum("ii", m.ones(2, 3)), RuntimeError),
    "einsum_sizes": (lambda m: m.einsum("i,i", m.ones(2), m.ones(3)), RuntimeError),
    "einsum_dtypes": (lambda m: m.einsum("i,i", m.tensor([1, 2]), m.tensor([1.0, 2.0])),
                      RuntimeError),
    "t_3d": (lambda m: m.t(m.ones(2, 2, 2)), RuntimeError),
    "narrow_start": (lambda m: m.narrow(m.arange(3), 0, 5, 1), IndexError),
    "narrow_length": (lambda m: m.narrow(m.arange(3), 0, 1, 5), RuntimeError),
    "narrow_0d": (lambda m: m.narrow(m.tensor(1.0), 0, 0, 1), RuntimeError),
    "flip_repeated_dim": (lambda m: m.flip(m.ones(2, 3), (0, 0)), RuntimeError),
    "flip_dim_range": (lambda m: m.flip(m.ones(2, 3), (2,)), IndexError),
    "roll_misaligned": (lambda m: m.roll(m.ones(2, 3), (1, 1), 0), RuntimeError),
    "movedim_range": (lambda m: m.movedim(m.ones(2, 3), 0, 5), IndexError),
    "movedim_repeated": (lambda m: m.movedim(m.ones(2, 3), (0, 0), (1, 0)), RuntimeError),
    "repeat_too_few": (lambda m: m.ones(2, 3).repeat(2), RuntimeError),
    "repeat_negative": (lambda m: m.ones(2).repeat(-1), RuntimeError),
    "repeat_interleave_negative": (lambda m: m.repeat_interleave(m.ones(2), -1), RuntimeError),
    "repeat_interleave_sizes": (lambda m: m.repeat_interleave(m.ones(2, 3), m.tensor([1, 2]),
                                                              dim=1), RuntimeError),
    "unflatten_sizes": (lambda m: m.ones(2, 3).unflatten(1, (2, 2)), RuntimeError),
    "broadcast_to_bad": (lambda m: m.broadcast_to(m.ones(2, 3), (3, 3)), RuntimeError),
    "meshgrid_2d": (lambda m: m.meshgrid(m.ones(2, 2), indexing="ij"), RuntimeError),
    "meshgrid_indexing": (lambda m: m.meshgrid(m.ones(2), indexing="xx"), RuntimeError),
    "meshgrid_dtypes": (lambda m: m.meshgrid(m.ones(2), m.tensor([1]), indexing="ij"),
                        RuntimeError),
    "unbind_0d": (lambda m: m.unbind(m.tensor(1.0)), IndexError),
    "hstack_empty": (lambda m: m.hstack([]), RuntimeError),
    "trace_vector": (lambda m: m.trace(m.ones(3)), RuntimeError),
    "trace_bool": (lambda m: m.trace(m.ones(2, 2, dtype=m.bool)), RuntimeError),
    "diag_3d": (lambda m: m.diag(m.ones(2, 2, 2)), RuntimeError),
    "diag_0d": (lambda m: m.diag(m.tensor(3.0)), RuntimeError),
    "cdist_1d": (lambda m: m.cdist(m.ones(3), m.ones(4, 3)), RuntimeError),
    "cdist_columns": (lambda m: m.cdist(m.ones(2, 3), m.ones(4, 2)), RuntimeError),
    "cdist_int": (lambda m: m.cdist(m.ones(2, 3, dtype=m.int64), m.ones(4, 3, dtype=m.int64)),
                  RuntimeError),
    "cdist_negative_p": (lambda m: m.cdist(m.ones(2, 3), m.ones(4, 3), p=-1), RuntimeError),
    "cdist_dtypes": (lambda m: m.cdist(m.ones(2, 3), m.ones(4, 3, dtype=m.float64)),
                     RuntimeError),
    "scatter_dtypes": (lambda m: m.scatter(m.zeros(3), 0, m.tensor([0]),
                                           m.ones(1, dtype=m.float64)), RuntimeError),
    "scatter_out_of_range": (lambda m: m.scatter(m.zeros(3), 0, m.tensor([3]), m.ones(1)),
                             RuntimeError),
    "scatter_reduce_unknown": (lambda m: m.scatter(m.zeros(3), 0, m.tensor([0]), m.ones(1),
                                                   reduce="mean"), RuntimeError),
    "scatter_reduce_grad": (lambda m: m.scatter(m.zeros(3, requires_grad=True), 0,
                                                m.tensor([0]), m.ones(1),
                                                reduce="add").sum().backward(),
                            RuntimeError),
    "scatter_nothing": (lambda m: m.scatter(m.zeros(3), 0, m.tensor([0])), TypeError),
    "index_add_out_of_range": (lambda m: m.zeros(3).index_add_(0, m.tensor([0, 3]),
                                                               m.ones(2)), IndexError),
    "index_add_count": (lambda m: m.zeros(3).index_add_(0, m.tensor([0, 1]), m.ones(3)),
                        RuntimeError),
    "index_add_dtypes": (lambda m: m.zeros(3).index_add_(0, m.tensor([0]),
                                                         m.ones(1, dtype=m.float64)),
                         RuntimeError),
    "index_add_2d_index": (lambda m: m.zeros(3).index_add_(0, m.tensor([[0, 1]]), m.ones(2)),
                           IndexError),
    "index_add_float_index": (lambda m: m.zeros(3).index_add_(0, m.tensor([0.0]), m.ones(1)),
                              RuntimeError),
    "masked_select_int_mask": (lambda m: m.masked_select(m.ones(3), m.tensor([1, 0, 1])),
                               RuntimeError),
    "isclose_dtypes": (lambda m: m.isclose(m.tensor([1]), m.tensor([1.0])), RuntimeError),
    "searchsorted_rows": (lambda m: m.searchsorted(m.tensor([[1, 3], [2, 4]]),
                                                   m.tensor([2, 3])), RuntimeError),
    "searchsorted_0d": (lambda m: m.searchsorted(m.tensor(1), m.tensor([2])), RuntimeError),
    "searchsorted_opposites": (lambda m: m.searchsorted(m.tensor([1, 2]), m.tensor([1]),
                                                        right=True, side="left"),
                               RuntimeError),
    "bucketize_2d": (lambda m: m.bucketize(m.tensor([3]), m.tensor([[1, 2]])), RuntimeError),
    "lerp_dtypes": (lambda m: m.lerp(m.ones(2), m.ones(2, dtype=m.float64), 0.5),
                    RuntimeError),
    "lerp_weight_dtype": (lambda m: m.lerp(m.ones(2), m.ones(2),
                                           m.ones(2, dtype=m.float64)), RuntimeError),
    "lerp_int": (lambda m: m.lerp(m.tensor([1, 2]), m.tensor([3, 4]), 0.5), RuntimeError),
    "diff_0d": (lambda m: m.diff(m.tensor(1.0)), RuntimeError),
    "diff_negative": (lambda m: m.diff(m.ones(3), n=-1), RuntimeError),
    "diff_prepend_dims": (lambda m: m.diff(m.ones(2, 3), prepend=m.tensor([0.0])),
                          RuntimeError),
    "diff_prepend_number": (lambda m: m.diff(m.ones(2), prepend=5), TypeError),
    "unique_dim_range": (lambda m: m.unique(m.ones(2), dim=3), IndexError),
    "multinomial_too_many": (lambda m: m.multinomial(m.tensor([0.2, 0.8]), 3), RuntimeError),
    "multinomial_zero_sum": (lambda m: m.multinomial(m.tensor([0.0, 0.0]), 1), RuntimeError),
    "multinomial_negative": (lambda m: m.multinomial(m.tensor([-1.0, 2.0]), 1), RuntimeError),
    "multinomial_int": (lambda m: m.multinomial(m.tensor([1, 2]), 1), RuntimeError),
    "multinomial_no_samples": (lambda m: m.multinomial(m.tensor([1.0, 2.0]), 0), RuntimeError),
    "multinomial_3d": (lambda m: m.multinomial(m.ones(2, 2, 2), 1), RuntimeError),
    "normal_negative_std": (lambda m: m.normal(m.zeros(2), -1.0), RuntimeError),
    "normal_negative_std_size": (lambda m: m.normal(0.0, -1.0, (2,)), RuntimeError),
    "normal_numbers_no_size": (lambda m: m.normal(0.0, 1.0), TypeError),
    "normal_int_mean": (lambda m: m.normal(m.zeros(2, dtype=m.int64), 1.0), RuntimeError),
    "bernoulli_range": (lambda m: m.bernoulli(m.tensor([1.2, 0.8])), RuntimeError),
    "bernoulli_int": (lambda m: m.bernoulli(m.tensor([1, 0])), RuntimeError),
    "randperm_negative": (lambda m: m.randperm(-1), RuntimeError),
    "randint_like_order": (lambda m: m.randint_like(m.zeros(2), 10, 3), RuntimeError),
    "where_two_arguments": (lambda m: m.where(m.tensor([True]), m.ones(1)), TypeError),
    "div_rounding_mode": (lambda m: m.div(m.ones(2), 2, rounding_mode="round"), RuntimeError),
    "stride_range": (lambda m: m.ones(2).stride(1), IndexError),
    "set_default_dtype_int": (lambda m: m.set_default_dtype(m.int64), TypeError),
    "iterate_0d": (lambda m: list(m.tensor(1.0)), TypeError),
    "format_spec_on_vector": (lambda m: f"{m.ones(2):.3f}", TypeError),
    "backward_inputs_no_grad": (lambda m: (m.ones(2, requires_grad=True) * 2).sum().backward(
        inputs=[m.ones(2)]), RuntimeError),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_are_torch_kinds(name):
    fn, kind = ERRORS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(kind):
            fn(gg)
        if torch is None:
            pytest.skip(NO_TORCH)
        with pytest.raises(kind):
            fn(torch)


def test_error_messages_name_the_op():
    cases = [(lambda: gg.einsum("ij,jk", gg.ones(2, 3)), "einsum"),
             (lambda: gg.cdist(gg.ones(3), gg.ones(3)), "cdist"),
             (lambda: gg.multinomial(gg.tensor([0.0]), 1), "multinomial"),
             (lambda: gg.zeros(3).index_add_(0, gg.tensor([5]), gg.ones(1)), "index_add"),
             (lambda: gg.narrow(gg.ones(2), 0, 1, 5), "narrow")]
    for fn, name in cases:
        with pytest.raises(Exception, match=name):
            fn()


# ---- every backend: the same ops on each device give the CPU's values and gradients --------
ON_DEVICE = {
    "einsum": lambda t, d: gg.einsum("...ij,jk->...ik", t(A234), t(B43)),
    "einsum_diagonal": lambda t, d: gg.einsum("ii->i", t(A34[:, :3])),
    "cdist": lambda t, d: [gg.cdist(t(P23), t(Q43), p=p) for p in (2, 1, INF)],
    "kron": lambda t, d: gg.kron(t(P23), t(A34[:2, :2])),
    "diag": lambda t, d: (gg.diag(t(A34[0]), 1), gg.diag(t(A34), -1)),
    "trace_dot": lambda t, d: (gg.trace(t(A34)), gg.dot(t(A34[0]), t(A34[1]))),
    "mm_bmm_addmm": lambda t, d: (gg.mm(t(A34), t(B43)),
                                  gg.bmm(t(A234), t(A234.transpose(0, 2, 1))),
                                  gg.addmm(t(A34[0, :3]), t(A34), t(B43), beta=0.5)),
    "flip_roll_tile": lambda t, d: (gg.flip(t(A34), (0, 1)), gg.roll(t(A34), (1, 2), (0, 1)),
                                    gg.tile(t(A34), (2, 1)), t(A34).repeat(1, 2, 1)),
    "repeat_interleave": lambda t, d: gg.repeat_interleave(t(A34), t([1, 0, 2], "int64"),
                                                           dim=0),
    "views": lambda t, d: (gg.narrow(t(A34), 1, 1, 2), gg.movedim(t(A234), 0, 2),
                           gg.broadcast_to(t(A34[:1]), (2, 3, 4)),
                           t(A34).unflatten(1, (2, 2)), gg.t(t(A34))),
    "join": lambda t, d: (gg.hstack([t(P23), t(P23)]), gg.vstack([t(P23[0]), t(P23)]),
                          gg.unbind(t(A34), 1)),
    "meshgrid": lambda t, d: gg.meshgrid(t(A34[0]), t(P23[0]), indexing="xy"),
    "masked_select": lambda t, d: gg.masked_select(t(A34), t(A34[0] > 0, "bool")),
    "scatter": lambda t, d: (gg.scatter(t(A34), 1, t([[3, 1], [0, 2], [1, 2]], "int64"),
                                        t(A34[:, :2])),
                             gg.scatter(t(A34), 0, t([[2, 0, 1, 2]], "int64"), value=0.5)),
    "scatter_add_reduce": lambda t, d: gg.scatter(
        t([1, 1, 1], "int64"), 0, t([0, 0, 2], "int64"), t([1, 2, 3], "int64"), reduce="add"),
    "inplace": lambda t, d: (
        t(A34).clone().scatter_(1, t([[0], [1], [2]], "int64"), 2.0),
        t(A34).clone().index_add_(1, t([3, 3, 0], "int64"), t(A34[:, :3]), alpha=2),
        t(A34).clone().masked_fill_(t(A34 > 0, "bool"), 1.0),
        t([7, -7], "int64").div_(2, rounding_mode="trunc")),
    "nonzero_where": lambda t, d: (gg.nonzero(t(A34) > 0), gg.where(t(A34) > 0),
                                   gg.nonzero(t(5, "int64"))),
    "unique": lambda t, d: gg.unique(t([[3, 1], [1, 2]], "int64"), return_inverse=True,
                                     return_counts=True),
    "search": lambda t, d: (gg.searchsorted(t([1, 3, 5], "int64"), t([3, 6], "int64")),
                            gg.searchsorted(t([[1, 3], [2, 4]]), t([[3.0], [1.0]]),
                                            right=True),
                            gg.bucketize(t([3.0, 6.0]), t([1.0, 3.0, 5.0]))),
    "compare": lambda t, d: (gg.isclose(t([1.0, NAN]), t([1.0, NAN]), equal_nan=True),
                             gg.allclose(t(A34), t(A34)), gg.equal(t([1, 2], "int64"),
                                                                   t([1.0, 2.0])),
                             t([1, 2], "int64").ge(2)),
    "pointwise": lambda t, d: (gg.lerp(t(A34), t(B43.T), t(A34[:, :1])),
                               gg.nan_to_num(t(A34) * t([INF, 1.0, NAN, -INF])),
                               gg.diff(t(A34), n=2, prepend=t(A34[:, :1])),
                               gg.softmax(t(A34), 1), t(A34).log_softmax(0)),
    "dtype_reductions": lambda t, d: (t([1, 2], "int32").sum(dtype=gg.float64),
                                      t(A34).cumsum(1, dtype=gg.float64),
                                      t([2, 3], "int64").prod(dtype=gg.int32)),
    "type": lambda t, d: (t([1, 2], "int64").type(gg.float32), t(A34).type()[-11:]),
}


def _on_device(device, case):
    leaves = []

    def make(array, dtype="float32"):
        array = np.asarray(array).astype(dtype)
        leaf = gg.tensor(array, device=device, requires_grad=array.dtype.kind == "f")
        leaves.append(leaf)
        return leaf

    out = case(make, device)
    tensors = [o for o in _flat(out) if isinstance(o, gg.Tensor)]
    for o in tensors:
        assert o.device == gg.device(device)
    floats = [o for o in tensors if o.requires_grad]
    if floats:
        sum(((o * o).sum() for o in floats), gg.zeros((), device=device)).backward()
    grads = [leaf.grad if leaf.grad is not None else gg.zeros(1, device=device)
             for leaf in leaves if leaf.requires_grad]
    return [o.cpu() if isinstance(o, gg.Tensor) else o for o in _flat(out) + grads]


@pytest.mark.parametrize("name", sorted(ON_DEVICE))
def test_same_results_on_every_device(name, device):
    want = _on_device("cpu", ON_DEVICE[name])
    got = _on_device(device, ON_DEVICE[name])
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if isinstance(w, gg.Tensor):
            assert (g.shape, g.dtype) == (w.shape, w.dtype)
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-6)
        else:
            assert g == w


def test_samplers_on_every_device(device):
    dev = gg.device(device)
    p = gg.randperm(50, device=device)
    assert p.device == dev and sorted(p.cpu().tolist()) == list(range(50))
    draws = gg.multinomial(gg.ones(20, 6, device=device), 4)
    assert draws.device == dev and all(len(set(r)) == 4 for r in draws.cpu().tolist())
    with_replacement = gg.multinomial(gg.tensor([0.0, 1.0, 0.0], device=device), 5, True)
    assert with_replacement.cpu().tolist() == [1] * 5
    coins = gg.bernoulli(gg.full((4000,), 0.25, device=device))
    assert coins.device == dev and abs(coins.mean().item() - 0.25) < 0.05
    x = gg.normal(gg.zeros(4000, device=device), 2.0)
    assert x.device == dev and abs(x.std().item() - 2.0) < 0.2
    r = gg.randint_like(gg.zeros(100, dtype=gg.int32, device=device), 2, 5)
    assert r.device == dev and r.dtype == gg.int32 and 2 <= r.min().item() <= r.max().item() < 5


# ---- the last call forms: einsum's sublists, norm(dtype=), Tensor(*sizes) -----------------
@pytest.mark.parametrize("args", [
    lambda a, b: (a, [0, 1], b, [1, 2], [0, 2]),
    lambda a, b: (a, [0, 1], b, [1, 2]),
    lambda a, b: (a, [Ellipsis, 1], b, [1, 2], [Ellipsis, 2]),
    lambda a, b: (a, [0, 0]),
])
def test_einsum_sublist_format_matches_torch(args, device):
    a, b = RNG.standard_normal((3, 3)), RNG.standard_normal((3, 4))
    ga = gg.tensor(a, requires_grad=True, device=device)
    gb = gg.tensor(b, requires_grad=True, device=device)
    out = gg.einsum(*args(ga, gb))
    if torch is None:
        pytest.skip(NO_TORCH)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    want = torch.einsum(*args(ta, tb))
    np.testing.assert_allclose(out.cpu().numpy(), want.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(ga.grad.cpu().numpy(), ta.grad.numpy(), rtol=1e-12)


def test_einsum_sublist_errors():
    with pytest.raises(ValueError, match="pairs of an operand"):
        gg.einsum(gg.ones(2), [0], gg.ones(2))
    with pytest.raises(ValueError, match=r"ints in \[0, 52\)"):
        gg.einsum(gg.ones(2), [60])


def test_norm_dtype_matches_torch(device):
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    got = [gg.norm(gg.tensor(x, device=device), dtype=gg.float64),
           gg.tensor(x, device=device).norm(p=1, dim=1, dtype=gg.float64)]
    assert all(g.dtype == gg.float64 for g in got)
    if torch is None:
        pytest.skip(NO_TORCH)
    want = [torch.norm(torch.tensor(x), dtype=torch.float64),
            torch.tensor(x).norm(p=1, dim=1, dtype=torch.float64)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.cpu().numpy(), w.numpy(), rtol=1e-12)


def test_legacy_constructor_takes_sizes():
    assert gg.Tensor(2, 3).shape == (2, 3) and gg.Tensor(2, 3).dtype == gg.float32
    assert gg.Tensor().shape == (0,) and gg.Tensor([1, 2]).tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="expected sizes"):
        gg.Tensor(2, "a")
