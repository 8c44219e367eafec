"""Writing at indices and selecting by mask: scatter, index_add, masked_select, nonzero.

The out-of-place ops here are what the in-place Tensor methods (``scatter_``,
``index_add_``) compute before storing the result in ``self``.
"""
import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..tensor import Tensor
from ._util import lift, norm_dim
from .errors import DTypeError, ShapeError, public_op
from .indexing import (Index, IndexAdd, _along, _check_index_shape, _check_range,
                       _index_array, getitem)


class Scatter(Function):
    """``a`` with ``src`` written at ``index`` (an index tuple); later writes win."""

    @staticmethod
    def forward(ctx, xp, a, src, index):
        ctx.index = index
        out = a.copy()
        out[index] = src
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_src = ctx.needs_input_grad
        # The overwritten positions of ``a`` do not reach the output.
        ga = Scatter.apply(g, g._like(g._backend.xp.zeros((), g.dtype)),
                           index=ctx.index) if need_a else None
        gsrc = Index.apply(g, index=ctx.index) if need_src else None
        return ga, gsrc

    @staticmethod
    def jvp(ctx, ta, tsrc):
        out = ctx.output
        zero = out._like(out._backend.xp.zeros((), out.dtype))
        return Scatter.apply(ta if ta is not None else zero.expand(out.shape),
                             tsrc if tsrc is not None else zero, index=ctx.index)


@public_op
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """A copy of ``input`` with ``src[i][j][k]`` written at ``[i][index[i][j][k]][k]`` for
    ``dim == 1`` (only the part of ``src`` the shape of ``index`` is read); ``src`` may be a
    number, or given as ``value=``. ``reduce='add'`` or ``'multiply'`` combines instead of
    overwriting (no gradient, as in PyTorch). Where ``index`` repeats a position, the last
    write wins (PyTorch leaves the order undefined).

    >>> gg.scatter(gg.zeros(2, 3), 1, gg.tensor([[2], [0]]), gg.tensor([[1.0], [2.0]]))
    tensor([[0., 0., 1.],
            [2., 0., 0.]])
    >>> gg.scatter(gg.zeros(3), 0, gg.tensor([1]), value=5.0)
    tensor([0., 5., 0.])
    """
    if (src is None) == (value is None):
        raise TypeError("scatter(): give exactly one of src (a tensor or number) and value")
    if src is None or not isinstance(src, Tensor):
        src = lift(value if src is None else src, input, "scatter").to(dtype=input.dtype)
    axis = norm_dim(dim, input.ndim)
    idx = _index_array("scatter", input, index, input.ndim)
    if src.ndim == 0:
        src = src.expand(index.shape)
    elif src.ndim != index.ndim:
        raise ShapeError(f"scatter(): index and src must have the same number of dims, got "
                         f"{index.ndim} and {src.ndim}")
    if src.dtype != input.dtype:
        raise DTypeError(f"scatter(): expected self.dtype to be equal to src.dtype, got "
                         f"{input.dtype} and {src.dtype}")
    _check_index_shape("scatter", input, index, axis, src)
    _check_range("scatter", idx, input.shape[axis] if input.ndim else 1, axis)
    if src.shape != index.shape:
        src = src[tuple(slice(0, n) for n in index.shape)]
    where = _along(input._backend.xp, idx, axis) if input.ndim else ()
    if reduce is None:
        return Scatter.apply(input, src, index=where)
    if reduce not in ("add", "multiply"):
        raise RuntimeError("scatter(): reduce argument must be either add or multiply.")
    if state.grad_enabled and (input.requires_grad or src.requires_grad):
        raise RuntimeError("scatter(): the derivative with reduce is not implemented")
    out = input._data.copy()
    ufunc = np.add if reduce == "add" else np.multiply
    if input._backend.xp is np:
        ufunc.at(out, where, src._data)
    elif reduce == "add":
        import cupyx
        cupyx.scatter_add(out, where, src._data)
    else:
        raise NotImplementedError("scatter(): reduce='multiply' is not implemented on the GPU")
    return input._like(out)


@public_op
def index_add(input, dim, index, source, *, alpha=1):
    """A copy of ``input`` with ``alpha * source`` added at the entries ``index`` (a 1-d
    integer tensor) along ``dim``; repeated indices accumulate.

    >>> gg.index_add(gg.zeros(3), 0, gg.tensor([0, 0, 2]), gg.tensor([1.0, 2.0, 3.0]))
    tensor([3., 0., 3.])
    """
    axis = norm_dim(dim, input.ndim)
    if not isinstance(index, Tensor) or index.dtype.kind not in "iu":
        raise DTypeError("index_add_(): expected an int32/int64 index tensor")
    if index.ndim > 1:
        raise IndexError(f"index_add_(): Index is supposed to be a vector, but got dim: "
                         f"{index.ndim}")
    idx = _index_array("index_add_", input, index, index.ndim).reshape(-1)
    if source.dtype != input.dtype:
        raise DTypeError(f"index_add_(): self ({input.dtype}) and source ({source.dtype}) "
                         f"must have the same scalar type")
    want = list(input.shape)
    if input.ndim:
        want[axis] = idx.size
    if list(source.shape) != want and not (source.ndim == 0 and want in ([], [1])):
        raise ShapeError(f"index_add_(): source of shape {source.shape} does not fit: expected "
                         f"{tuple(want)} ({idx.size} indices along dim {axis})")
    _check_range("index_add_", idx, input.shape[axis] if input.ndim else 1, axis)
    if alpha != 1:
        source = source * alpha
    where = (slice(None),) * axis + (idx,) if input.ndim else ()
    return input + IndexAdd.apply(source.reshape(tuple(want)), index=where, shape=input.shape)


@public_op
def masked_select(input, mask):
    """The elements of ``input`` where the bool ``mask`` is True, as a 1-d tensor; the two
    broadcast against each other first.

    >>> gg.masked_select(gg.tensor([[1, 2], [3, 4]]), gg.tensor([True, False]))
    tensor([1, 3])
    """
    if not isinstance(mask, Tensor) or mask.dtype.kind != "b":
        raise DTypeError("masked_select: expected BoolTensor for mask")
    try:
        shape = tuple(np.broadcast_shapes(input.shape, mask.shape))
    except ValueError:
        raise ShapeError(f"masked_select: the shapes of input {input.shape} and mask "
                         f"{mask.shape} do not broadcast") from None
    return getitem(input.expand(shape), mask.expand(shape))


@public_op
def nonzero(input, *, as_tuple=False):
    """The indices of the nonzero elements: an int64 tensor with one row per element, or
    (``as_tuple=True``) one 1-d tensor per dim, as NumPy's ``nonzero`` gives.

    >>> gg.nonzero(gg.tensor([[1, 0], [0, 3]]))
    tensor([[0, 0],
            [1, 1]])
    >>> gg.nonzero(gg.tensor([0, 2, 5]), as_tuple=True)
    (tensor([1, 2]),)
    """
    xp = input._backend.xp
    data = input._data
    if data.ndim == 0:
        data = data.reshape(1)  # PyTorch counts a 0-d tensor as one element in one dim
        if not as_tuple:
            return input._like(xp.zeros((int(bool(data[0])), 0), dtype=xp.int64))
    found = [xp.asarray(i, dtype=xp.int64) for i in xp.nonzero(data)]
    if as_tuple:
        return tuple(input._like(i) for i in found)
    return input._like(xp.stack(found, axis=1))
