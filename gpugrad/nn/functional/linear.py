"""``linear``: x @ W^T + b, a composition of Tensor ops."""


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` over the last dimension of ``input``.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.linear(gg.ones(1, 2), gg.ones(3, 2), gg.zeros(3)).tolist()
    [[2.0, 2.0, 2.0]]
    """
    in_features = weight.shape[-1]
    if input.ndim == 0 or input.shape[-1] != in_features:
        actual = input.shape[-1] if input.ndim else "a 0-d input"
        raise ValueError(f"linear: expected input with {in_features} features in its last "
                         f"dimension, got {actual} (input shape {input.shape}, weight shape "
                         f"{weight.shape})")
    out = input @ weight.T
    if bias is not None:
        out = out + bias
    return out
