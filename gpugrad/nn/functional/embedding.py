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
from ...backends.checks import require_valid
from ...kernels import cpu as cpu_kernels
from ...kernels import embedding as embedding_kernels
from ...ops.errors import DTypeError, ShapeError, public_op
from ...ops.indexing import IndexAdd
from ...ops.reduction import amax
from ...ops.scatter import index_add
from ...sparse import RowSparseGrad
from ...tensor import Tensor
from ._util import differentiating


class Embedding(Function):
    """weight[index]; row ``padding_idx`` gets no gradient (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, xp, weight, index, padding_idx, sparse, leaf, scale_grad_by_freq=False):
        ctx.index, ctx.padding_idx, ctx.sparse, ctx.leaf = index, padding_idx, sparse, leaf
        ctx.scale_grad_by_freq = scale_grad_by_freq
        return weight[index]

    @staticmethod
    def backward(ctx, g):
        xp = g._backend.xp
        index, padding_idx = ctx.index, ctx.padding_idx
        if ctx.scale_grad_by_freq:
            g = g * g._like(_inverse_frequency(xp, index, ctx.input_shapes[0][0], g.dtype))
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


def _inverse_frequency(xp, index, num, dtype):
    """1 / (how often each position's index occurs in the batch), shaped index.shape + (1,):
    the factor ``scale_grad_by_freq`` puts on each looked-up row's gradient."""
    counts = xp.bincount(index.reshape(-1), minlength=num)
    return (1.0 / counts[index]).astype(dtype)[..., None]


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

    With ``max_norm``, the looked-up rows of ``weight`` whose ``norm_type``-norm exceeds it
    are first rescaled in place (without gradient) to norm ``max_norm``, as in PyTorch.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.embedding(gg.tensor([[2, 0]]), gg.eye(3)).tolist()
    [[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]]
    >>> w = gg.full((2, 2), 3.0)
    >>> F.embedding(gg.tensor([1]), w, max_norm=1.0).norm().item(), w[0].tolist()
    (1.0, [3.0, 3.0])
    """
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-d (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    num = weight.shape[0]
    index = _index_array(input, weight)
    require_valid((index < 0) | (index >= num), IndexError, lambda value: (
        f"embedding: index {'' if value is None else str(value) + ' '}is out of range for "
        f"{num} embeddings (valid: 0..{num - 1})"), index)
    padding_idx = _padding_index(padding_idx, num)
    if max_norm is not None:
        _renorm_rows(weight, index, max_norm, norm_type)
    use_sparse = sparse and weight.requires_grad and weight.grad_fn is None
    if use_sparse and scale_grad_by_freq:
        raise RuntimeError("embedding: scale_grad_by_freq is not supported with sparse "
                           "gradients")
    return Embedding.apply(weight, index=index, padding_idx=padding_idx, sparse=use_sparse,
                           leaf=weight if use_sparse else None,
                           scale_grad_by_freq=bool(scale_grad_by_freq))


def _renorm_rows(weight, index, max_norm, norm_type):
    """Scale the rows ``index`` of ``weight`` whose norm exceeds ``max_norm`` down to it, in
    place and outside autograd (PyTorch's ``embedding_renorm_``, its 1e-7 included)."""
    xp = weight._backend.xp
    rows = xp.unique(index.reshape(-1))
    data = weight._data
    picked = data[rows]
    if norm_type == float("inf"):
        norms = xp.abs(picked).max(axis=1)
    else:
        norms = (xp.abs(picked) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    # Rows within the norm keep a scale of exactly 1: no host sync to find the others.
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(data.dtype)
    data[rows] = picked * scale[:, None]
    weight._bump_version()


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
    require_valid(index < 0, ShapeError, lambda _: "one_hot: Class values must be "
                  "non-negative.")
    require_valid(index >= num_classes, ShapeError, lambda _: "one_hot: Class values must "
                  "be smaller than num_classes.")
    out = (index[..., None] == xp.arange(num_classes)).astype(np.int64)
    return tensor._like(out)


_BAG_MODES = ("sum", "mean", "max")


@public_op
def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2.0,
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """Sums, means or maxima of bags of embedding rows, without the intermediate lookups'
    shape: a 2-d ``input`` (B, N) holds B bags of N indices; a 1-d one is cut into bags
    starting at ``offsets``. Entries equal to ``padding_idx`` are left out of their bag
    (and of its mean's count); an empty bag gives zeros. ``per_sample_weights`` (``input``'s
    shape) scales each row first, with ``mode="sum"`` only. Returns (B, D).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> w = gg.tensor([[1.0, 0.0], [0.0, 2.0], [4.0, 4.0]])
    >>> F.embedding_bag(gg.tensor([0, 1, 2]), w, gg.tensor([0, 2]), mode="sum").tolist()
    [[1.0, 2.0], [4.0, 4.0]]
    """
    if mode not in _BAG_MODES:
        raise ValueError(f"embedding_bag: mode must be one of {_BAG_MODES}, got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights only work with "
                                  f"mode='sum', got mode={mode!r}")
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise ValueError("embedding_bag: weight must be a 2-d Tensor")
    index = np.asarray(_host(_index_array(input, weight)))
    bag_of, n_bags = _bags(index, offsets, include_last_offset)
    flat = index.reshape(-1)
    keep = np.ones(flat.shape, dtype=bool)
    pad = _padding_index(padding_idx, weight.shape[0])
    if pad is not None:
        keep = flat != pad
    xp = weight._backend.xp
    rows = embedding(_like_index(weight, flat[keep]), weight, max_norm=max_norm,
                     norm_type=norm_type, sparse=sparse)
    bag_of = bag_of[keep]
    if per_sample_weights is not None:
        if tuple(per_sample_weights.shape) != tuple(index.shape):
            raise ValueError(f"embedding_bag: per_sample_weights of shape "
                             f"{tuple(per_sample_weights.shape)} do not match the input's "
                             f"{tuple(index.shape)}")
        weights = per_sample_weights.reshape(-1)[_like_index(weight, np.nonzero(keep)[0])]
        rows = rows * weights.unsqueeze(1)
    dim = weight.shape[1]
    if mode == "max":
        return _bag_max(rows, bag_of, n_bags, weight)
    zeros = weight._like(xp.zeros((n_bags, dim), dtype=weight.dtype))
    total = index_add(zeros, 0, _like_index(weight, bag_of), rows)
    if mode == "sum":
        return total
    counts = np.bincount(bag_of, minlength=n_bags).astype(weight.dtype)
    counts = weight._like(xp.asarray(np.maximum(counts, 1)))
    return total / counts.unsqueeze(1)


def _host(array):
    return array.get() if hasattr(array, "get") else array


def _like_index(weight, host_index):
    return weight._like(weight._backend.xp.asarray(host_index.astype(np.int64)))


def _bags(index, offsets, include_last_offset):
    """The bag of each entry of ``index`` (flattened), and the number of bags."""
    if index.ndim == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: offsets must be None for a 2-d input")
        return np.repeat(np.arange(index.shape[0]), index.shape[1]), index.shape[0]
    if index.ndim != 1:
        raise ValueError(f"embedding_bag: input must be 1-d or 2-d, got {index.ndim}-d")
    if offsets is None:
        raise ValueError("embedding_bag: a 1-d input needs offsets")
    starts = np.asarray(_host(offsets._data if isinstance(offsets, Tensor) else offsets))
    starts = starts.astype(np.int64).reshape(-1)
    if starts.size == 0 or starts[0] != 0 or np.any(np.diff(starts) < 0) \
            or starts[-1] > index.size:
        raise ValueError("embedding_bag: offsets must start at 0, not decrease and stay "
                         f"within the input's {index.size} entries")
    n_bags = starts.size - 1 if include_last_offset else starts.size
    bag_of = np.searchsorted(starts, np.arange(index.size), side="right") - 1
    return np.minimum(bag_of, max(n_bags - 1, 0)), n_bags


def _bag_max(rows, bag_of, n_bags, weight):
    from ...ops.join import stack
    out = []
    for b in range(n_bags):
        members = np.nonzero(bag_of == b)[0]
        if members.size == 0:
            out.append(weight._like(weight._backend.xp.zeros(weight.shape[1],
                                                             dtype=weight.dtype)))
        else:
            out.append(amax(rows[_like_index(weight, members)], 0))
    if not out:
        return weight._like(weight._backend.xp.zeros((0, weight.shape[1]), dtype=weight.dtype))
    return stack(out)
