"""Parameter initialisation, in place, with PyTorch's names, gains and fan conventions.

Every draw comes from the generator of the tensor's backend (seeded by ``gg.manual_seed``),
or from the ``gg.Generator`` passed as ``generator=``, so initialisation is reproducible.
Functions write ``tensor._data`` directly: initialising a parameter is not part of any
graph.
"""
import math
import warnings

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


def _draw(tensor, sample, generator=None, op="init"):
    """Fill ``tensor`` with ``sample(generator, dtype)``; float16 is drawn in float32.
    ``generator`` is a ``gg.Generator`` on the tensor's device, or None for the global one."""
    from ..random import generator_for
    if tensor.dtype.kind != "f":
        raise TypeError(f"init: expected a floating point tensor, got {tensor.dtype}")
    with tensor._backend.device_context(tensor.device):
        gen = generator_for(generator, tensor.device, op, tensor._backend)
    dtype = np.float64 if tensor.dtype == np.float64 else np.float32
    with tensor._backend.device_context(tensor.device):
        values = sample(gen, dtype)
        tensor._data[...] = values
    tensor._bump_version()
    return tensor


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with samples of U(a, b).

    >>> import gpugrad as gg
    >>> w = gg.nn.init.uniform_(gg.empty(1000), -1, 1)
    >>> bool(w.min() >= -1 and w.max() < 1)
    True
    """
    return _draw(tensor, lambda g, dt: a + (b - a) * g.random(tensor.shape, dtype=dt),
                 generator, "uniform_")


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with samples of N(mean, std^2).

    >>> import gpugrad as gg
    >>> gg.nn.init.normal_(gg.empty(2, 3)).shape
    (2, 3)
    """
    return _draw(tensor, lambda g, dt: mean + std * g.standard_normal(tensor.shape, dtype=dt),
                 generator, "normal_")


def constant_(tensor, val):
    """Fill with ``val``.

    >>> import gpugrad as gg
    >>> gg.nn.init.constant_(gg.empty(2), 0.5).tolist()
    [0.5, 0.5]
    """
    with tensor._backend.device_context(tensor.device):
        tensor._data[...] = val
    tensor._bump_version()
    return tensor


def zeros_(tensor):
    """Fill with 0 (``gg.nn.init.zeros_(w)``).

    >>> w = gg.nn.Parameter(gg.ones(2))
    >>> gg.nn.init.zeros_(w).tolist()
    [0.0, 0.0]
    """
    return constant_(tensor, 0)


def ones_(tensor):
    """Fill with 1 (``gg.nn.init.ones_(w)``).

    >>> w = gg.nn.Parameter(gg.zeros(2, 2))
    >>> gg.nn.init.ones_(w).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
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


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    >>> import gpugrad as gg
    >>> bool(gg.nn.init.xavier_uniform_(gg.empty(3, 3)).abs().max() <= 1.0)
    True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    >>> import gpugrad as gg
    >>> gg.nn.init.xavier_normal_(gg.empty(3, 4)).shape
    (3, 4)
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan); ``a`` is the leaky-relu slope.

    >>> import gpugrad as gg
    >>> w = gg.nn.init.kaiming_uniform_(gg.empty(4, 6), nonlinearity="relu")
    >>> bool(w.abs().max() <= 1.0)
    True
    """
    if tensor.numel() == 0:
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std^2) with std = gain / sqrt(fan).

    >>> import gpugrad as gg
    >>> gg.nn.init.kaiming_normal_(gg.empty(4, 6), mode="fan_out").shape
    (4, 6)
    """
    if tensor.numel() == 0:
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with samples of N(mean, std^2) truncated to [a, b] (absolute bounds, as in
    PyTorch), by the inverse CDF: a uniform draw between the CDF values of a and b, mapped
    back through erfinv.

    >>> import gpugrad as gg
    >>> w = gg.nn.init.trunc_normal_(gg.empty(1000), std=0.02, a=-0.04, b=0.04)
    >>> bool(w.abs().max() <= 0.04)
    True
    """
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    low = _normal_cdf((a - mean) / std)
    high = _normal_cdf((b - mean) / std)

    def sample(gen, dtype):
        xp = tensor._backend.xp
        u = (2 * low - 1) + (2 * (high - low)) * gen.random(tensor.shape, dtype=np.float64)
        # erfinv(+-1) is infinite: stay one ulp inside, the clip to [a, b] does the rest.
        u = xp.clip(u, -1 + 2.0 ** -52, 1 - 2.0 ** -52)
        values = mean + std * math.sqrt(2.0) * _erfinv(xp, u)
        return xp.clip(values, a, b).astype(dtype)
    return _draw(tensor, sample, generator, "trunc_normal_")


def _normal_cdf(x):
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


_erfinv_ufunc = None


def _erfinv(xp, y):
    """erfinv on the array backend: CuPy's special function, or on the CPU (NumPy has none)
    a Numba ufunc compiled on first use."""
    global _erfinv_ufunc
    if xp is not np:
        from cupyx.scipy.special import erfinv
        return erfinv(y)
    if _erfinv_ufunc is None:
        import numba
        _erfinv_ufunc = numba.vectorize(["float64(float64)"], cache=False)(_erfinv_scalar)
    return _erfinv_ufunc(y)


def _erfinv_scalar(y):
    """Giles' single-precision approximation ("Approximating the erfinv function", 2010),
    then Newton steps; above 0.5 they solve log erfc(x) = log(1 - |y|) (1 - |y| is exact
    there), which erf's rounding would swamp."""
    a = abs(y)
    if a >= 1.0:
        return math.copysign(math.inf, y) if a == 1.0 else math.nan
    w = -math.log((1.0 - a) * (1.0 + a))
    if w < 5.0:
        w -= 2.5
        p = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941):
            p = c + p * w
    else:
        w = math.sqrt(w) - 3.0
        p = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                  -0.0076224613, 0.00943887047, 1.00167406, 2.83297682):
            p = c + p * w
    x = p * a
    for _ in range(3):
        slope = 2.0 / math.sqrt(math.pi) * math.exp(-x * x)
        if a > 0.5:
            # log erfc is nearly quadratic in the tail: Newton on it converges fast.
            tail = math.erfc(x)
            x += (math.log(tail) - math.log(1.0 - a)) * tail / slope
        else:
            x -= (math.erf(x) - a) / slope
    return math.copysign(x, y)


def orthogonal_(tensor, gain=1.0, generator=None):
    """Fill with a (semi-)orthogonal matrix times ``gain``: the Q of a Gaussian matrix's QR,
    signs fixed by R's diagonal so Q is uniformly distributed (Saxe et al.). Trailing
    dimensions are flattened. The QR runs in NumPy on the host; the Gaussian is drawn by
    the tensor's own generator and the result is copied back to its device.

    >>> import gpugrad as gg
    >>> w = gg.nn.init.orthogonal_(gg.empty(3, 5, dtype=gg.float64))
    >>> import numpy as np; bool(np.allclose(w.numpy() @ w.numpy().T, np.eye(3)))
    True
    """
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    with tensor._backend.device_context(tensor.device):  # on the tensor's own GPU
        scratch = tensor._like(tensor._backend.xp.empty((rows, cols), np.float64))
    gaussian = _draw(scratch, lambda g, dt: g.standard_normal((rows, cols), dtype=dt),
                     generator, "orthogonal_")
    flat = gaussian._host()
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    with tensor._backend.device_context(tensor.device):
        tensor._data[...] = tensor._backend.xp.asarray(gain * q.reshape(tensor.shape))
    tensor._bump_version()
    return tensor


def eye_(tensor):
    """Fill a 2-D tensor with the identity (ones on the diagonal of a non-square one).

    >>> import gpugrad as gg
    >>> gg.nn.init.eye_(gg.empty(2, 3)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    with tensor._backend.device_context(tensor.device):
        tensor._data[...] = tensor._backend.xp.eye(*tensor.shape)
    tensor._bump_version()
    return tensor


def dirac_(tensor, groups=1):
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta: the convolution keeps
    as many input channels as it can (per group), unchanged.

    >>> import gpugrad as gg
    >>> w = gg.nn.init.dirac_(gg.empty(2, 2, 3, 3))
    >>> w[0, 0, 1, 1].item(), w[0, 1].sum().item()
    (1.0, 0.0)
    """
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    out_per_group, rem = divmod(tensor.shape[0], groups)
    if rem:
        raise ValueError("dim 0 must be divisible by groups")
    centre = tuple(size // 2 for size in tensor.shape[2:])
    with tensor._backend.device_context(tensor.device):
        tensor._data[...] = 0
        for g in range(groups):
            for d in range(min(out_per_group, tensor.shape[1])):
                tensor._data[(g * out_per_group + d, d) + centre] = 1
    tensor._bump_version()
    return tensor


__all__ = ["calculate_gain", "constant_", "dirac_", "eye_", "kaiming_normal_",
           "kaiming_uniform_", "normal_", "ones_", "orthogonal_", "trunc_normal_", "uniform_",
           "xavier_normal_", "xavier_uniform_", "zeros_"]
