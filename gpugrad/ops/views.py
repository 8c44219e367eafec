"""Rearrangements that are views of their input, built on the view ops of ``shape``:
movedim, t, narrow, broadcast_to, unflatten, meshgrid. Like PyTorch's, their results share
the input's memory (and version counter), so in-place writes through them reach the input.
"""
import numpy as np

from ..tensor import Tensor
from ._util import norm_dim
from .errors import DTypeError, ShapeError, not_a_tensor, public_op
from .rearrange import _dims
from .shape import expand, permute, reshape, transpose


@public_op
def movedim(input, source, destination):
    """Move the dims ``source`` to the positions ``destination``; the rest keep their order.

    >>> gg.movedim(gg.zeros(2, 3, 4), 0, -1).shape
    (3, 4, 2)
    >>> gg.movedim(gg.zeros(2, 3, 4), (0, 1), (2, 0)).shape
    (3, 4, 2)
    """
    source = _dims("movedim", source, input.ndim)
    destination = _dims("movedim", destination, input.ndim)
    if len(source) != len(destination):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source {source} "
                           f"and destination {destination} have different lengths")
    if input.ndim == 0:
        return input  # dims 0 and -1 name the tensor itself
    order = [None] * input.ndim
    for s, d in zip(source, destination):
        order[d] = s
    rest = iter(d for d in range(input.ndim) if d not in source)
    return permute(input, tuple(next(rest) if o is None else o for o in order))


@public_op
def t(input):
    """The transpose of a matrix; 0-d and 1-d tensors come back as they are.

    >>> gg.t(gg.tensor([[1, 2, 3]]))
    tensor([[1],
            [2],
            [3]])
    """
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else input


@public_op
def narrow(input, dim, start, length):
    """The view of ``length`` entries from ``start`` along ``dim`` (negative ``start``
    counts from the end).

    >>> gg.narrow(gg.tensor([[1, 2, 3], [4, 5, 6]]), 1, 1, 2)
    tensor([[2, 3],
            [5, 6]])
    """
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    axis = norm_dim(dim, input.ndim)
    size = input.shape[axis]
    start = int(start)
    if not -size <= start <= size:
        raise IndexError(f"narrow: start out of range (expected to be in range of "
                         f"[{-size}, {size}], but got {start})")
    start %= max(size, 1)
    if length < 0 or start + length > size:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension "
                           f"size ({size}).")
    return input[(slice(None),) * axis + (slice(start, start + int(length)),)]


@public_op
def broadcast_to(input, size):
    """``input`` broadcast to ``size`` without copying (-1 keeps a dimension's size); the
    gradient sums back.

    >>> gg.broadcast_to(gg.tensor([1, 2]), (2, 2))
    tensor([[1, 2],
            [1, 2]])
    """
    size = tuple(size)
    lead = len(size) - input.ndim
    for n, want in zip(input.shape, size[lead:]):
        if n not in (1, want) and want != -1:
            raise ShapeError(f"broadcast_to: the expanded size of the tensor ({want}) must "
                             f"match the existing size ({n}) at a non-singleton dimension; "
                             f"target sizes {list(size)}, tensor sizes {list(input.shape)}")
    return expand(input, size)


@public_op
def unflatten(input, dim, sizes):
    """Split dim ``dim`` into the dims ``sizes`` (one of them may be -1).

    >>> gg.unflatten(gg.zeros(2, 6), 1, (2, 3)).shape
    (2, 2, 3)
    """
    axis = norm_dim(dim, input.ndim)
    sizes = tuple(sizes)
    known = int(np.prod([s for s in sizes if s != -1]))
    n = input.shape[axis] if input.ndim else 1
    if not sizes or sizes.count(-1) > 1 or (n != known if -1 not in sizes
                                            else known == 0 or n % known):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    return reshape(input, input.shape[:axis] + sizes + input.shape[axis + 1:])


@public_op
def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-d tensors: output ``i`` varies along dim ``i``
    (``indexing='ij'``, the default), or with the first two dims swapped (``'xy'``, as
    NumPy's default). The grids are broadcast views of the inputs.

    >>> xs, ys = gg.meshgrid(gg.tensor([1, 2]), gg.tensor([3, 4, 5]), indexing="ij")
    >>> xs.shape, ys.tolist()
    ((2, 3), [[3, 4, 5], [3, 4, 5]])
    >>> gg.meshgrid(gg.tensor([1, 2]), gg.tensor([3, 4, 5]), indexing="xy")[0].shape
    (3, 2)
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    indexing = "ij" if indexing is None else indexing
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'meshgrid: indexing must be one of "xy" or "ij", but received: '
                         f'{indexing}')
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise not_a_tensor("meshgrid", t, f"tensors[{i}]")
        if t.ndim > 1:
            raise RuntimeError(f"meshgrid: expected 0D or 1D tensors, got shape {t.shape}")
    if len({t.dtype for t in tensors}) > 1:
        raise DTypeError("meshgrid: expects all tensors to have the same dtype")
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        tensors = (tensors[1], tensors[0]) + tuple(tensors[2:])
    shape = tuple(t._data.size for t in tensors)
    grids = []
    for i, t in enumerate(tensors):
        column = reshape(t, tuple(-1 if d == i else 1 for d in range(len(tensors))))
        grids.append(expand(column, shape))
    if swap:  # the grids already have the xy shape; only their order is swapped back
        grids = [grids[1], grids[0]] + grids[2:]
    return tuple(grids)
