"""``linear``: x @ W^T + b as one fused op.

Fused because the composite (``x @ weight.T + bias``) hands the weight its gradient through
the transpose's backward, as a strided view that ``.grad`` must then copy; the fused backward
computes ``g^T @ x`` directly into a fresh contiguous array, and adds the bias in place.
"""
import math

from ...autograd.function import Function
from ...ops.errors import ShapeError, public_op, same_dtype


def _rows(t):
    """(N, ..., F) viewed as (N * ..., F), the shape the weight gradient is a product of. The
    products with the weight take it too: NumPy's matmul of a 3-d array makes one BLAS call
    per leading index, 10-20% slower than one call over all rows."""
    return t.reshape(math.prod(t.shape[:-1]), t.shape[-1])


def _times(t, matrix):
    """t @ matrix over the last dim of ``t``, as one 2-d product."""
    if t.ndim <= 2 or matrix.ndim != 2:
        return t @ matrix
    return (_rows(t) @ matrix).reshape(t.shape[:-1] + matrix.shape[-1:])


class Linear(Function):
    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, x, weight, bias=None):
        out = _times(x, weight.T)
        if out.dtype != x.dtype:  # ml_dtypes' bfloat16 product is float32: round it back
            out = out.astype(x.dtype)
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = _times(g, weight) if need[0] else None
        gw = _rows(g).T @ _rows(x) if need[1] else None
        gb = _rows(g).sum(0) if len(need) > 2 and need[2] else None
        return (gx, gw, gb) if len(need) > 2 else (gx, gw)

    @staticmethod
    def jvp(ctx, tx, tw, tb=None):
        x, weight = ctx.inputs[0], ctx.inputs[1]
        out = None
        for term in (None if tx is None else tx @ weight.T,
                     None if tw is None else x @ tw.T, tb):
            if term is not None:
                out = term if out is None else out + term
        return out if out is not None else ctx.output * 0


@public_op
def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` over the last dimension of ``input``.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.linear(gg.ones(1, 2), gg.ones(3, 2), gg.zeros(3)).tolist()
    [[2.0, 2.0, 2.0]]
    """
    same_dtype("linear", input, weight)
    in_features = weight.shape[-1]
    if input.ndim == 0 or input.shape[-1] != in_features:
        actual = input.shape[-1] if input.ndim else "a 0-d input"
        raise ShapeError(f"linear: expected input with {in_features} features in its last "
                         f"dimension, got {actual} (input shape {input.shape}, weight shape "
                         f"{weight.shape})")
    if bias is None:
        return Linear.apply(input, weight)
    return Linear.apply(input, weight, bias)


@public_op
def bilinear(input1, input2, weight, bias=None):
    """y_k = x1 W_k x2^T + b_k over the last dims: weight is (out, in1, in2); the leading
    dims of the two inputs must agree.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.bilinear(gg.ones(2, 3), gg.ones(2, 4), gg.ones(5, 3, 4)).shape
    (2, 5)
    """
    same_dtype("bilinear", input1, weight)
    same_dtype("bilinear", input2, weight)
    if weight.ndim != 3:
        raise ShapeError(f"bilinear(): weight must be 3-D (out, in1, in2), got shape "
                         f"{weight.shape}")
    for k, x in ((1, input1), (2, input2)):
        if x.ndim == 0 or x.shape[-1] != weight.shape[k]:
            raise ShapeError(f"bilinear(): input{k} size does not match weight size: got "
                             f"{x.shape[-1] if x.ndim else 0} but expected {weight.shape[k]}")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise ShapeError(f"bilinear(): input batch dimensions do not match: got "
                         f"{input1.shape[:-1]} and {input2.shape[:-1]}")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != weight.shape[0]):
        raise ShapeError(f"bilinear(): bias size does not match weight size: got "
                         f"{bias.shape} but expected ({weight.shape[0]},)")
    # (x1 @ W_k) . x2 for every k: one matmul against W viewed as (in1, out * in2).
    out_f, in1, in2 = weight.shape
    left = input1 @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    out = (left.reshape(input1.shape[:-1] + (out_f, in2)) * input2.unsqueeze(-2)).sum(-1)
    return out if bias is None else out + bias
