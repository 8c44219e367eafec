"""Dropout with a counter-based RNG: element i's keep bit is a pure function of (seed, offset + i).

Nothing is stored between forward and backward: backward regenerates the mask. The draw is
SplitMix64: element i uses output number ``offset + i`` of the SplitMix64 stream whose state
starts at mix64(seed), i.e. ``mix64(mix64(seed) + (offset + i) * GOLDEN)``. The same
:func:`mix64` source runs vectorised on NumPy/CuPy uint64 arrays and, compiled by Numba, on
the device, so the CPU and GPU paths draw bit-identical masks. An element is kept when the
top 53 bits of its hash are >= p * 2**53, compared as integers (no float rounding).

Callers advance ``offset`` by ``x.size`` after each call so that successive dropout calls
with one seed draw fresh masks.
"""
import numpy as np

from . import _launch

cuda = None  # numba.cuda, bound by the first launch (see _launch.kernel_factory)

GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's odd increment, 2**64 / phi
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11))


def mix64(z):
    """SplitMix64's finaliser (Stafford's mix 13) on uint64 scalars or arrays.

    Multiplications wrap modulo 2**64, as they do in C and on the device.

    >>> int(mix64(np.zeros(1, np.uint64))[0])
    0
    """
    z = (z ^ (z >> _SHIFTS[0])) * _MUL1
    z = (z ^ (z >> _SHIFTS[1])) * _MUL2
    return z ^ (z >> _SHIFTS[2])


def stream_key(seed):
    """The SplitMix64 starting state for ``seed`` (any int, taken modulo 2**64)."""
    with np.errstate(over="ignore"):  # uint64 wrap-around is intended
        return mix64(np.uint64(seed % 2**64))


def keep_threshold(p):
    """Integer threshold on the top 53 hash bits: keep iff bits >= p * 2**53.

    >>> int(keep_threshold(0.5)) == 2**52
    True
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    return np.uint64(int(p * 2.0**53))


def dropout_mask(seed, offset, shape, p, xp=np):
    """Boolean keep-mask (C order) of a dropout call; identical on NumPy, CuPy and the kernel.

    >>> dropout_mask(seed=0, offset=0, shape=(2, 3), p=0.0).all()
    np.True_
    >>> m = dropout_mask(seed=1, offset=0, shape=(100000,), p=0.25)
    >>> bool(abs(m.mean() - 0.75) < 0.01)
    True
    """
    n = int(np.prod(shape))
    counters = xp.arange(offset, offset + n, dtype=xp.uint64)
    with np.errstate(over="ignore"):
        bits = mix64(stream_key(seed) + counters * GOLDEN) >> _SHIFTS[3]
    return (bits >= keep_threshold(p)).reshape(shape)


@_launch.kernel_factory
def _kernels(acc):
    device_mix64 = cuda.jit(device=True)(mix64)
    top_bits = _SHIFTS[3]

    @cuda.jit
    def apply_mask(x, y, key, offset, threshold, scale):
        i = cuda.grid(1)
        if i < x.size:
            h = device_mix64(key + (offset + np.uint64(i)) * GOLDEN)
            if (h >> top_bits) >= threshold:
                y[i] = x[i] * scale
            else:
                y[i] = 0

    return apply_mask


def dropout_forward(x, p, seed, offset=0):
    """y = x * mask / (1 - p) with the mask of :func:`dropout_mask` (all zeros if p == 1).

    >>> dropout_forward(np.ones(3, np.float32), 0.0, seed=7)
    array([1., 1., 1.], dtype=float32)
    """
    x = _launch.contiguous(x)
    flat = x.reshape(-1)
    y = _launch.empty(flat, flat.shape)
    scale = x.dtype.type(0.0 if p >= 1 else 1.0 / (1.0 - p))
    kernel = _kernels(x.dtype)
    _launch.launch(kernel, _launch.blocks_for(flat.size), _launch.ELEMENTWISE_THREADS,
                   flat, y, stream_key(seed), np.uint64(offset), keep_threshold(p), scale)
    return y.reshape(x.shape)


def dropout_backward(grad_out, p, seed, offset=0):
    """Gradient of :func:`dropout_forward`: regenerates the mask from (seed, offset).

    >>> dropout_backward(np.ones(2), 0.0, seed=7)
    array([1., 1.])
    """
    return dropout_forward(grad_out, p, seed, offset)
