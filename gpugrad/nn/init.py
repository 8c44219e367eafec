"""Parameter initialisation, in place, with PyTorch's names, gains and fan conventions.

Every draw comes from the generator of the tensor's backend (seeded by ``gg.manual_seed``),
so initialisation is reproducible. Functions write ``tensor.data`` directly: initialising a
parameter is not part of any graph.
"""
import math

import numpy as np

_LINEAR_LIKE = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity, param=None):
    """The recommended scale for ``nonlinearity`` (PyTorch's table).

    >>> import gpugrad as gg
    >>> round(gg.nn.init.calculate_gain("relu"), 4)
    1.4142
    """
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _draw(tensor, sample):
    """Fill ``tensor`` with ``sample(generator, dtype)``; float16 is drawn in float32."""
    if tensor.dtype.kind != "f":
        raise TypeError(f"init: expected a floating point tensor, got {tensor.dtype}")
    gen = tensor._backend.generator(tensor.device)
    dtype = np.float64 if tensor.dtype == np.float64 else np.float32
    with tensor._backend.device_context(tensor.device):
        values = sample(gen, dtype)
        tensor.data[...] = values
    tensor._bump_version()
    return tensor


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with samples of U(a, b).

    >>> import gpugrad as gg
    >>> w = gg.nn.init.uniform_(gg.empty(1000), -1, 1)
    >>> bool(w.min() >= -1 and w.max() < 1)
    True
    """
    return _draw(tensor, lambda g, dt: a + (b - a) * g.random(tensor.shape, dtype=dt))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with samples of N(mean, std^2).

    >>> import gpugrad as gg
    >>> gg.nn.init.normal_(gg.empty(2, 3)).shape
    (2, 3)
    """
    return _draw(tensor, lambda g, dt: mean + std * g.standard_normal(tensor.shape, dtype=dt))


def constant_(tensor, val):
    """Fill with ``val``.

    >>> import gpugrad as gg
    >>> gg.nn.init.constant_(gg.empty(2), 0.5).tolist()
    [0.5, 0.5]
    """
    tensor.data[...] = val
    tensor._bump_version()
    return tensor


def zeros_(tensor):
    """Fill with 0 (``gg.nn.init.zeros_(w)``)."""
    return constant_(tensor, 0)


def ones_(tensor):
    """Fill with 1 (``gg.nn.init.ones_(w)``)."""
    return constant_(tensor, 1)


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight: dims 1 and 0 times the receptive field (conv)."""
    if tensor.ndim < 2:
        raise ValueError(f"init: fan in and fan out can not be computed for a tensor with "
                         f"fewer than 2 dimensions (shape {tensor.shape})")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor, gain=1.0):
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    >>> import gpugrad as gg
    >>> bool(gg.nn.init.xavier_uniform_(gg.empty(3, 3)).abs().max() <= 1.0)
    True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    >>> import gpugrad as gg
    >>> gg.nn.init.xavier_normal_(gg.empty(3, 4)).shape
    (3, 4)
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor, a, mode, nonlinearity):
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan); ``a`` is the leaky-relu slope.

    >>> import gpugrad as gg
    >>> w = gg.nn.init.kaiming_uniform_(gg.empty(4, 6), nonlinearity="relu")
    >>> bool(w.abs().max() <= 1.0)
    True
    """
    if tensor.numel() == 0:
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He normal: N(0, std^2) with std = gain / sqrt(fan).

    >>> import gpugrad as gg
    >>> gg.nn.init.kaiming_normal_(gg.empty(4, 6), mode="fan_out").shape
    (4, 6)
    """
    if tensor.numel() == 0:
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))


__all__ = ["calculate_gain", "constant_", "kaiming_normal_", "kaiming_uniform_", "normal_",
           "ones_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_"]
