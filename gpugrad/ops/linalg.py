"""Matrix products: matmul, outer."""
from ..autograd.function import Function
from ._util import add_tangents, lift
from .errors import ShapeError, public_op, same_dtype


class MatMul(Function):
    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, a, b):
        if a.shape[-1] != b.shape[-2]:
            raise ShapeError(f"matmul: {tuple(a.shape)} @ {tuple(b.shape)}")
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
