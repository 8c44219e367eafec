"""Matrix products and friends: matmul, mm, bmm, dot, outer, addmm, kron, trace, diag,
cdist."""
import numpy as np

from ..autograd.function import Function
from ._util import add_tangents, lift
from .errors import DTypeError, ShapeError, public_op, same_dtype


class MatMul(Function):
    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, a, b):
        if a.shape[-1] != b.shape[-2]:
            raise ShapeError(f"matmul: {tuple(a.shape)} @ {tuple(b.shape)}")
        if a.dtype.name == "bfloat16":
            # ml_dtypes' own loop is slow and returns float32: do what PyTorch's CPU
            # kernels do, a float32 product rounded back to bfloat16.
            return xp.matmul(a.astype(np.float32), b.astype(np.float32)).astype(a.dtype)
        return xp.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        # Batch dimensions that were broadcast are summed back by the engine.
        ga = g @ b.mT if need_a else None
        gb = a.mT @ g if need_b else None
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.inputs
        return add_tangents(MatMul.apply(ta, b) if ta is not None else None,
                            MatMul.apply(a, tb) if tb is not None else None)


@public_op
def matmul(a, b):
    """Matrix product with NumPy's rules: 1-D operands are promoted, batch dims broadcast.

    >>> import gpugrad as gg
    >>> (gg.ones(2, 3) @ gg.ones(3)).tolist()
    [3.0, 3.0]
    """
    from ..tensor import Tensor
    if not isinstance(a, Tensor):
        a = lift(a, b)
    elif not isinstance(b, Tensor):
        b = lift(b, a)
    same_dtype("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{a.shape} @ {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim >= 2 else 0]:
        raise ShapeError(f"matmul: {a.shape} @ {b.shape}")
    if a.ndim >= 2 and b.ndim >= 2:
        return MatMul.apply(a, b)
    out = MatMul.apply(a.unsqueeze(0) if a.ndim == 1 else a,
                       b.unsqueeze(-1) if b.ndim == 1 else b)
    shape = out.shape
    if b.ndim == 1:
        shape = shape[:-1]  # drop the appended column dim
    if a.ndim == 1:
        shape = shape[:-2] + shape[-1:] if b.ndim > 1 else shape[:-1]  # the prepended row
    return out.reshape(shape)


@public_op
def outer(a, b):
    """The outer product of two 1-d tensors: ``out[i, j] = a[i] * b[j]``.

    >>> import gpugrad as gg
    >>> gg.outer(gg.tensor([1, 2]), gg.tensor([3, 4])).tolist()
    [[3, 4], [6, 8]]
    """
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: expected 1-d tensors, got shapes {a.shape} and {b.shape}")
    return a.reshape(-1, 1) * b.reshape(1, -1)


@public_op
def mm(input, mat2):
    """The product of two matrices (no broadcasting; see ``matmul`` for that).

    >>> gg.mm(gg.tensor([[1.0, 2.0]]), gg.tensor([[3.0], [4.0]]))
    tensor([[11.]])
    """
    if input.ndim != 2 or mat2.ndim != 2:
        raise ShapeError(f"mm: expected two matrices, got shapes {input.shape} and {mat2.shape}")
    same_dtype("mm", input, mat2)
    if input.shape[1] != mat2.shape[0]:
        raise ShapeError(f"mm: mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x"
                         f"{input.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    return MatMul.apply(input, mat2)


@public_op
def bmm(input, mat2):
    """Batched matrix product of ``(b, n, m)`` and ``(b, m, p)`` tensors (no broadcasting).

    >>> gg.bmm(gg.ones(5, 2, 3), gg.ones(5, 3, 4)).shape
    (5, 2, 4)
    """
    if input.ndim != 3 or mat2.ndim != 3:
        raise ShapeError(f"bmm: expected two 3-d tensors, got shapes {input.shape} and "
                         f"{mat2.shape}")
    same_dtype("bmm", input, mat2)
    b, _, m = input.shape
    if mat2.shape[:2] != (b, m):
        raise ShapeError(f"bmm: expected size for first two dimensions of batch2 tensor to be: "
                         f"[{b}, {m}] but got: {list(mat2.shape[:2])}")
    return MatMul.apply(input, mat2)


@public_op
def dot(input, tensor):
    """The inner product of two 1-d tensors of one length and dtype.

    >>> gg.dot(gg.tensor([1.0, 2.0]), gg.tensor([3.0, 4.0]))
    tensor(11.)
    """
    if input.ndim != 1 or tensor.ndim != 1:
        raise ShapeError(f"dot: 1D tensors expected, but got {input.ndim}D and {tensor.ndim}D "
                         f"tensors")
    same_dtype("dot", input, tensor)
    if input.shape != tensor.shape:
        raise ShapeError(f"dot: inconsistent tensor size, expected tensors of one length, got "
                         f"{input.shape[0]} and {tensor.shape[0]}")
    return (input * tensor).sum(dtype=input.dtype)  # int32 stays int32, as in PyTorch


@public_op
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``, ``input`` broadcast to the product's shape;
    with ``beta == 0`` the values of ``input`` are ignored (NaN in it does not spread).

    >>> gg.addmm(gg.ones(2), gg.eye(2), gg.tensor([[1.0, 2.0], [3.0, 4.0]]), alpha=2)
    tensor([[3., 5.],
            [7., 9.]])
    """
    product = mm(mat1, mat2)
    same_dtype("addmm", input, product)
    try:
        fits = np.broadcast_shapes(input.shape, product.shape) == product.shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"addmm: input of shape {input.shape} does not broadcast to the "
                         f"product's shape {product.shape}")
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return product + (input if beta == 1 else input * beta)


@public_op
def kron(input, other):
    """The Kronecker product: ``other`` scaled by each element of ``input``, in blocks.

    >>> gg.kron(gg.tensor([[1, 2], [3, 4]]), gg.ones(2, 2, dtype=gg.int64))
    tensor([[1, 1, 2, 2],
            [1, 1, 2, 2],
            [3, 3, 4, 4],
            [3, 3, 4, 4]])
    """
    ndim = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (ndim - input.ndim) + input.shape)
    b = other.reshape((1,) * (ndim - other.ndim) + other.shape)
    # Interleave the dims, (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...), then merge each pair.
    spread_a = a.reshape(tuple(n for s in a.shape for n in (s, 1)))
    spread_b = b.reshape(tuple(n for s in b.shape for n in (1, s)))
    return (spread_a * spread_b).reshape(tuple(x * y for x, y in zip(a.shape, b.shape)))


@public_op
def trace(input):
    """The sum of the main diagonal of a matrix (integers sum to int64).

    >>> gg.trace(gg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor(5.)
    """
    if input.ndim != 2:
        raise ShapeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    if input.dtype.kind == "b":
        raise DTypeError("trace: not implemented for bool tensors")
    return input.diagonal().sum()


@public_op
def diag(input, diagonal=0):
    """A 1-d ``input`` becomes the diagonal ``diagonal`` of a square matrix; of a 2-d
    ``input``, diagonal ``diagonal`` is returned as a 1-d tensor.

    >>> gg.diag(gg.tensor([1, 2]))
    tensor([[1, 0],
            [0, 2]])
    >>> gg.diag(gg.tensor([[1, 2], [3, 4]]), 1)
    tensor([2])
    """
    if input.ndim == 2:
        return input.diagonal(offset=diagonal)
    if input.ndim != 1:
        raise ShapeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    from .indexing import IndexAdd
    xp = input._backend.xp
    n, k = input.shape[0], abs(diagonal)
    steps = xp.arange(n)
    rows, cols = (steps, steps + k) if diagonal >= 0 else (steps + k, steps)
    return IndexAdd.apply(input, index=(rows, cols), shape=(n + k, n + k))


@public_op
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The ``p``-norm distance between each row of ``x1`` (..., P, M) and each row of ``x2``
    (..., R, M), as a (..., P, R) tensor; batch dims broadcast. ``p`` is any value >= 0
    (0 counts differing coordinates; inf takes the largest). Distances are computed
    directly, never through the matrix-product shortcut (``compute_mode`` is accepted for
    PyTorch's signature); the gradient at a zero distance is 0, as in PyTorch.

    >>> gg.cdist(gg.tensor([[0.0, 0.0]]), gg.tensor([[3.0, 4.0], [1.0, 0.0]]))
    tensor([[5., 1.]])
    >>> gg.cdist(gg.tensor([[0.0, 0.0]]), gg.tensor([[3.0, 4.0]]), p=1)
    tensor([[7.]])
    """
    if x1.ndim < 2 or x2.ndim < 2:
        raise ShapeError(f"cdist only supports at least 2D tensors, got shapes {x1.shape} and "
                         f"{x2.shape}")
    if x1.shape[-1] != x2.shape[-1]:
        raise ShapeError(f"cdist: X1 and X2 must have the same number of columns. X1: "
                         f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if x1.dtype.kind != "f" or x2.dtype.kind != "f":
        raise DTypeError(f"cdist only supports floating-point dtypes, got {x1.dtype} and "
                         f"{x2.dtype}")
    same_dtype("cdist", x1, x2)
    if not p >= 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if p == 0:
        return (diff != 0).sum(-1).to(dtype=diff.dtype)
    return diff.norm(p=p, dim=-1)
