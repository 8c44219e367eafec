"""``embedding``: rows of a weight matrix picked by integer indices.

Dense gradients scatter-add the output gradient into a (V, D) zero matrix (repeated indices
accumulate): a CUDA kernel on the GPU, a Numba loop on the CPU, Tensor ops when the gradient
will be differentiated again. ``sparse=True`` instead hands the weight a ``RowSparseGrad``
holding only the rows the batch used: since ``backward`` returns Tensors, the op adds that
gradient to the weight's ``.grad`` itself and returns None for it (so the weight must be a
leaf, and ``gg.grad`` with respect to it sees no gradient).
"""
import numpy as np

from ... import cuda
from ...autograd.function import Function
from ...kernels import cpu as cpu_kernels
from ...kernels import embedding as embedding_kernels
from ...ops.errors import DTypeError, ShapeError, public_op
from ...ops.indexing import IndexAdd
from ...sparse import RowSparseGrad
from ...tensor import Tensor
from ._util import differentiating


class Embedding(Function):
    """weight[index]; row ``padding_idx`` gets no gradient (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, xp, weight, index, padding_idx, sparse, leaf):
        ctx.index, ctx.padding_idx, ctx.sparse, ctx.leaf = index, padding_idx, sparse, leaf
        return weight[index]

    @staticmethod
    def backward(ctx, g):
        xp = g._backend.xp
        index, padding_idx = ctx.index, ctx.padding_idx
        if ctx.sparse:
            _accumulate_sparse(ctx, g, xp)
            return None
        if not differentiating():
            dense = _scatter_rows(xp, g._data, index, ctx.input_shapes[0][0], padding_idx)
            if dense is not None:
                return g._like(dense)
        if padding_idx is not None:
            g = g * g._like((index != padding_idx)[..., None].astype(g.dtype))
        return IndexAdd.apply(g, index=index, shape=ctx.input_shapes[0])

    @staticmethod
    def jvp(ctx, t):
        # The true derivative: padding_idx only masks the gradient, as in PyTorch.
        return t[t._like(ctx.index)]


def _scatter_rows(xp, g, index, num, padding_idx):
    """The dense weight gradient by a compiled scatter-add: the CUDA kernel on CuPy, the
    Numba twin on NumPy (5.9x ``np.add.at``); None where neither applies (float16)."""
    if cuda.use_kernels(xp, g):
        return embedding_kernels.embedding_backward(g, index, num, padding_idx)
    if xp is np and g.dtype in (np.float32, np.float64):
        return cpu_kernels.embedding_backward(g, index, num, padding_idx)
    return None


def _accumulate_sparse(ctx, g, xp):
    weight = ctx.leaf
    if cuda.use_kernels(xp, g._data):
        # Sorted unique rows, repeats summed: the coalesced gradient, in one scatter kernel.
        rows, values = embedding_kernels.embedding_backward_sparse(g._data, ctx.index,
                                                                   ctx.padding_idx)
    else:
        rows = ctx.index.reshape(-1)
        # A copy: the values must not alias a gradient array that something else may reuse.
        values = xp.array(g._data.reshape(-1, ctx.input_shapes[0][1]), copy=True)
        if ctx.padding_idx is not None:
            keep = rows != ctx.padding_idx
            rows, values = rows[keep], values[keep]
    weight._accumulate_grad(RowSparseGrad(rows, values, ctx.input_shapes[0]))


@public_op
def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Look up rows of ``weight`` (V, D) at integer ``input`` (any shape) -> input.shape + (D,).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.embedding(gg.tensor([[2, 0]]), gg.eye(3)).tolist()
    [[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]]
    """
    if max_norm is not None or scale_grad_by_freq:
        raise NotImplementedError("embedding: max_norm and scale_grad_by_freq are not "
                                  "supported")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-d (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    num = weight.shape[0]
    index = _index_array(input, weight)
    bad = (index < 0) | (index >= num)
    if bool(bad.any()):  # one host sync; the bad value is read only on the error path
        raise IndexError(f"embedding: index {int(index[bad][0])} is out of range for "
                         f"{num} embeddings (valid: 0..{num - 1})")
    padding_idx = _padding_index(padding_idx, num)
    use_sparse = sparse and weight.requires_grad and weight.grad_fn is None
    return Embedding.apply(weight, index=index, padding_idx=padding_idx, sparse=use_sparse,
                           leaf=weight if use_sparse else None)


def _index_array(input, weight):
    if isinstance(input, Tensor):
        if input.device is not weight.device:
            raise RuntimeError(f"embedding: indices on {input.device}, weight on "
                               f"{weight.device}")
        index = input._data
    else:
        index = weight._backend.xp.asarray(input)
    if index.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {index.dtype}")
    return index


def _padding_index(padding_idx, num):
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise ValueError(f"embedding: padding_idx {padding_idx} must be within "
                         f"num_embeddings ({num})")
    return padding_idx % num


@public_op
def one_hot(tensor, num_classes=-1):
    """int64 one-hot rows of an int64 index tensor: shape ``tensor.shape + (num_classes,)``;
    ``num_classes=-1`` means one more than the largest index.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.one_hot(gg.tensor([0, 2])).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"one_hot(): argument 'tensor' must be a Tensor, not "
                        f"{type(tensor).__name__}")
    if tensor.dtype != np.int64:
        raise DTypeError("one_hot: one_hot is only applicable to index tensor of type "
                         f"LongTensor, got {tensor.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot(): argument 'num_classes' must be int, not "
                        f"{type(num_classes).__name__}")
    xp = tensor._backend.xp
    index = tensor._data
    if num_classes == -1:
        if index.size == 0:
            raise ShapeError("one_hot: Can not infer total number of classes from empty "
                             "tensor.")
        num_classes = int(index.max()) + 1
    if num_classes < 0:
        raise ShapeError(f"one_hot: num_classes should be positive or -1, got {num_classes}")
    if index.size and int(index.min()) < 0:
        raise ShapeError("one_hot: Class values must be non-negative.")
    if index.size and int(index.max()) >= num_classes:
        raise ShapeError("one_hot: Class values must be smaller than num_classes.")
    out = (index[..., None] == xp.arange(num_classes)).astype(np.int64)
    return tensor._like(out)
