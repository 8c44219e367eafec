"""``linear``: x @ W^T + b as one fused op.

Fused because the composite (``x @ weight.T + bias``) hands the weight its gradient through
the transpose's backward, as a strided view that ``.grad`` must then copy; the fused backward
computes ``g^T @ x`` directly into a fresh contiguous array, and adds the bias in place.
"""
from ...autograd.function import Function
from ...ops.errors import ShapeError, public_op, same_dtype


def _rows(t):
    """(N, ..., F) viewed as (N * ..., F), the shape the weight gradient is a product of."""
    return t.reshape(-1, t.shape[-1])


class Linear(Function):
    saves_inputs = (0, 1)

    @staticmethod
    def forward(ctx, xp, x, weight, bias=None):
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = g @ weight if need[0] else None
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
