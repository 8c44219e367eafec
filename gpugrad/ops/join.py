"""Joining and splitting: cat, stack, hstack, vstack, split, chunk, unbind."""
from ..autograd.function import Function
from ..tensor import Tensor
from ._util import norm_dim, promote_types
from .errors import not_a_tensor, public_op


class Cat(Function):
    @staticmethod
    def forward(ctx, xp, *arrays, axis):
        ctx.axis = axis
        return xp.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        axis = ctx.axis
        grads, start = [], 0
        for shape, need in zip(ctx.input_shapes, ctx.needs_input_grad):
            stop = start + shape[axis]
            if need:
                index = (slice(None),) * axis + (slice(start, stop),)
                grads.append(g[index])
            else:
                grads.append(None)
            start = stop
        return tuple(grads)

    @staticmethod
    def jvp(ctx, *tangents):
        parts = []
        for x, t in zip(ctx.inputs, tangents):
            if t is None:  # a piece without tangent contributes zeros
                t = x._like(x._backend.xp.zeros(x.shape, dtype=ctx.output.dtype))
            parts.append(t)
        return Cat.apply(*parts, axis=ctx.axis)


@public_op
def cat(tensors, dim=0):
    """Concatenate along an existing ``dim``.

    >>> import gpugrad as gg
    >>> gg.cat([gg.ones(2), gg.zeros(1)]).tolist()
    [1.0, 1.0, 0.0]
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:  # int64 with float32 is float32, as in PyTorch (NumPy: float64)
        dtype = promote_types(*dtypes)
        tensors = [t.to(dtype=dtype) for t in tensors]
    return Cat.apply(*tensors, axis=norm_dim(dim, tensors[0].ndim))


@public_op
def stack(tensors, dim=0):
    """Join along a new ``dim``; all tensors must have one shape.

    >>> gg.stack([gg.tensor([1, 2]), gg.tensor([3, 4])])
    tensor([[1, 2],
            [3, 4]])
    >>> gg.stack([gg.zeros(2), gg.ones(2)], dim=1).shape
    (2, 2)
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: expects tensors of equal shape, got {sorted(shapes)}")
    dim = norm_dim(dim, tensors[0].ndim + 1)
    return cat([t.unsqueeze(dim) for t in tensors], dim)


@public_op
def split(a, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the given sizes.

    >>> [p.shape for p in gg.split(gg.zeros(5, 2), 2)]
    [(2, 2), (2, 2), (1, 2)]
    >>> [p.tolist() for p in gg.split(gg.arange(4), [3, 1])]
    [[0, 1, 2], [3]]
    """
    dim = norm_dim(dim, a.ndim)
    n = a.shape[dim]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sections {sizes} do not add up to size {n} of dim {dim}")
    pieces, start = [], 0
    for s in sizes:
        pieces.append(a[(slice(None),) * dim + (slice(start, start + s),)])
        start += s
    return tuple(pieces)


@public_op
def chunk(a, chunks, dim=0):
    """``chunks`` pieces of equal size (the last may be smaller), as in PyTorch.

    >>> [p.tolist() for p in gg.chunk(gg.arange(7), 3)]
    [[0, 1, 2], [3, 4, 5], [6]]
    """
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = a.shape[norm_dim(dim, a.ndim)]
    if n == 0:
        return split(a, [0] * chunks, dim)  # PyTorch gives ``chunks`` empty pieces here
    return split(a, -(-n // chunks), dim)


@public_op
def hstack(tensors):
    """Concatenate horizontally: along dim 0 for 1-d tensors, dim 1 otherwise (0-d tensors
    count as 1-d).

    >>> gg.hstack([gg.tensor([1, 2]), gg.tensor([3])])
    tensor([1, 2, 3])
    >>> gg.hstack([gg.zeros(2, 1), gg.ones(2, 2)]).shape
    (2, 3)
    """
    tensors = [t.reshape(1) if t.ndim == 0 else t for t in _tensor_list("hstack", tensors)]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


@public_op
def vstack(tensors):
    """Concatenate vertically, along dim 0, after making 0-d and 1-d tensors rows.

    >>> gg.vstack([gg.tensor([1, 2]), gg.tensor([3, 4])])
    tensor([[1, 2],
            [3, 4]])
    """
    tensors = _tensor_list("vstack", tensors)
    return cat([t.reshape(1, -1) if t.ndim < 2 else t for t in tensors], 0)


def _tensor_list(name, tensors):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' must be a tuple or list of Tensors, "
                        f"not {type(tensors).__name__}")
    if not tensors:
        raise RuntimeError(f"{name}: expects a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise not_a_tensor(name, t, f"tensors[{i}]")
    return list(tensors)


@public_op
def unbind(input, dim=0):
    """The slices along ``dim``, as a tuple of views with that dim removed.

    >>> gg.unbind(gg.tensor([[1, 2], [3, 4]]), dim=1)
    (tensor([1, 3]), tensor([2, 4]))
    """
    if input.ndim == 0:
        raise IndexError("unbind: dimension specified as 0 but tensor has no dimensions")
    axis = norm_dim(dim, input.ndim)
    lead = (slice(None),) * axis
    return tuple(input[lead + (i,)] for i in range(input.shape[axis]))
