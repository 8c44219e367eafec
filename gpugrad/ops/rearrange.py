"""Reordering and repeating elements into a new tensor: flip, roll, tile/repeat,
repeat_interleave. They copy, as in PyTorch (the view-like rearrangements are in
``views``)."""
import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from ._util import norm_dim
from .errors import not_a_tensor, public_op
from .indexing import index_select
from .shape import reshape


class Flip(Function):
    @staticmethod
    def forward(ctx, xp, a, axes):
        ctx.axes = axes
        return xp.flip(a, axis=axes).copy()

    @staticmethod
    def backward(ctx, g):
        return Flip.apply(g, axes=ctx.axes)

    @staticmethod
    def jvp(ctx, t):
        return Flip.apply(t, axes=ctx.axes)


class Roll(Function):
    @staticmethod
    def forward(ctx, xp, a, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return xp.roll(a, shifts, axis=axes)

    @staticmethod
    def backward(ctx, g):
        return Roll.apply(g, shifts=tuple(-s for s in ctx.shifts), axes=ctx.axes)

    @staticmethod
    def jvp(ctx, t):
        return Roll.apply(t, shifts=ctx.shifts, axes=ctx.axes)


class Tile(Function):
    @staticmethod
    def forward(ctx, xp, a, reps):
        ctx.reps = reps
        return xp.tile(a, reps)

    @staticmethod
    def backward(ctx, g):
        # Each output dim d is (rep_d, size_d) in row-major order: split and sum the reps.
        shape = ctx.input_shapes[0]
        split = [n for pair in zip(ctx.reps, shape) for n in pair]
        return g.reshape(split).sum(tuple(range(0, 2 * len(shape), 2)))

    @staticmethod
    def jvp(ctx, t):
        return Tile.apply(t, reps=ctx.reps)


def _dims(name, dims, ndim):
    """``dims`` (an int or a sequence) as distinct non-negative axes."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    axes = tuple(norm_dim(d, ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"{name}: dim {dims} appears multiple times in the list of dims")
    return axes


@public_op
def flip(input, dims):
    """A copy with the order of the elements reversed along each of ``dims``.

    >>> gg.flip(gg.tensor([[1, 2], [3, 4]]), (0, 1))
    tensor([[4, 3],
            [2, 1]])
    """
    axes = _dims("flip", dims, input.ndim)
    if input.ndim == 0 or not axes:
        return input.clone()
    return Flip.apply(input, axes=axes)


@public_op
def roll(input, shifts, dims=None):
    """Shift the elements by ``shifts`` along ``dims``, wrapping around; with ``dims=None``
    the flattened tensor is rolled and the shape restored.

    >>> gg.roll(gg.tensor([1, 2, 3, 4]), 1)
    tensor([4, 1, 2, 3])
    >>> gg.roll(gg.tensor([[1, 2], [3, 4]]), (1, 1), (0, 1))
    tensor([[4, 3],
            [2, 1]])
    """
    shifts = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: with dims=None, shifts must be one int, got {shifts}")
        return reshape(Roll.apply(reshape(input, (-1,)), shifts=shifts, axes=(0,)),
                       input.shape)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims: {len(dims)}")
    axes = tuple(norm_dim(d, input.ndim) for d in dims)
    if input.ndim == 0:
        return input.clone()
    return Roll.apply(input, shifts=shifts, axes=axes)


@public_op
def tile(input, dims):
    """``input`` repeated ``dims[i]`` times along each dim; a short ``dims`` is padded with
    leading 1s, a long one adds leading dims (``Tensor.repeat`` needs it long enough).

    >>> gg.tile(gg.tensor([1, 2]), (2,))
    tensor([1, 2, 1, 2])
    >>> gg.tile(gg.tensor([[1, 2]]), (2, 1))
    tensor([[1, 2],
            [1, 2]])
    """
    reps = (dims,) if isinstance(dims, int) else tuple(dims)
    reps = (1,) * (input.ndim - len(reps)) + reps
    return _repeat("tile", input, reps)


def _repeat(name, input, reps):
    if any(not isinstance(r, (int, np.integer)) or r < 0 for r in reps):
        raise RuntimeError(f"{name}: repeats must be non-negative ints, got {list(reps)}")
    if len(reps) < input.ndim:
        raise RuntimeError(f"{name}: Number of dimensions of repeat dims can not be smaller "
                           f"than number of dimensions of tensor")
    lead = (1,) * (len(reps) - input.ndim)
    return Tile.apply(reshape(input, lead + input.shape), reps=tuple(int(r) for r in reps))


@public_op
def repeat(input, sizes):
    """``Tensor.repeat``: ``input`` repeated ``sizes[i]`` times along each dim (``sizes`` has
    at least ``input.ndim`` entries; extra ones add leading dims).

    >>> repeat(gg.tensor([1, 2]), (2, 2))
    tensor([[1, 2, 1, 2],
            [1, 2, 1, 2]])
    """
    return _repeat("repeat", input, tuple(sizes))


@public_op
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element (or slice along ``dim``) repeated ``repeats`` times in place (an int,
    or one count per element). ``dim=None`` works on the flattened tensor; called with only
    a tensor of counts, it repeats ``arange(len(counts))``.

    >>> gg.repeat_interleave(gg.tensor([1, 2]), 2)
    tensor([1, 1, 2, 2])
    >>> gg.repeat_interleave(gg.tensor([[1, 2], [3, 4]]), gg.tensor([1, 2]), dim=0)
    tensor([[1, 2],
            [3, 4],
            [3, 4]])
    >>> gg.repeat_interleave(gg.tensor([2, 1]))
    tensor([0, 0, 1])
    """
    if repeats is None:
        counts = input
        if counts.ndim != 1 or counts.dtype.kind not in "iu":
            raise RuntimeError("repeat_interleave: repeats must be a 1-d integer tensor")
        input = counts._like(counts._backend.xp.arange(counts.shape[0]))
        repeats = counts
    if dim is None:
        input, axis = reshape(input, (-1,)), 0
    else:
        axis = norm_dim(dim, input.ndim)
    n = input.shape[axis] if input.ndim else 1
    if isinstance(repeats, Tensor):
        if repeats.dtype.kind not in "iu" or repeats.ndim > 1:
            raise RuntimeError("repeat_interleave: repeats must be an int or a 0-d or 1-d "
                               "integer tensor")
        counts = repeats._backend.to_host(repeats._data).reshape(-1)
    elif isinstance(repeats, (int, np.integer)) and not isinstance(repeats, bool):
        counts = np.array([int(repeats)])
    else:
        raise not_a_tensor("repeat_interleave", repeats, "repeats")
    if counts.size == 1:
        counts = np.repeat(counts, n)
    if counts.size != n:
        raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along "
                           f"dim, but got repeats.size(0) = {counts.size} and input.size"
                           f"({axis}) = {n}")
    if (counts < 0).any():
        raise RuntimeError("repeat_interleave: repeats must be non-negative")
    if output_size is not None and int(counts.sum()) != output_size:
        raise RuntimeError(f"repeat_interleave: output_size {output_size} does not match the "
                           f"sum of repeats {int(counts.sum())}")
    xp = input._backend.xp
    index = input._like(xp.asarray(np.repeat(np.arange(n), counts)))
    return index_select(input, axis, index)
