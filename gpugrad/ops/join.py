"""Joining and splitting: cat, stack, split, chunk."""
from ..autograd.function import Function
from ._util import norm_dim, promote_types
from .errors import public_op


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
