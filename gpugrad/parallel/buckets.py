"""Gradient buckets: which parameters share a flat buffer, and packing into / out of it.

Every replica and every rank derives the same plan from the same parameter order, so one
collective per bucket lines up everywhere. Packing scales on the fly, so weighting gradients
costs no extra pass.
"""
from ..backends.device import get_array_module
from ..cuda import use_kernels
from ..kernels import _launch

#: Default bucket size, as in PyTorch DDP: big enough to amortise a collective's latency,
#: small enough that the first buckets start while backward is still running.
DEFAULT_CAP_MB = 25


def plan_buckets(tensors, cap_mb=DEFAULT_CAP_MB):
    """Positions of ``tensors`` grouped into buckets of at most ``cap_mb`` megabytes.

    Positions run in reverse order (backward produces the last layers' gradients first) and a
    bucket holds one dtype; a tensor larger than the cap gets a bucket of its own.

    >>> import gpugrad as gg
    >>> plan_buckets([gg.zeros(4), gg.zeros(4), gg.zeros(4, dtype=gg.float64)], cap_mb=1e-5)
    [[2], [1], [0]]
    >>> plan_buckets([gg.zeros(4), gg.zeros(4)])
    [[1, 0]]
    """
    cap = cap_mb * 2 ** 20
    buckets, current, size, dtype = [], [], 0, None
    for i in reversed(range(len(tensors))):
        t = tensors[i]
        nbytes = t.numel() * t.dtype.itemsize
        if current and (t.dtype != dtype or size + nbytes > cap):
            buckets.append(current)
            current, size = [], 0
        current.append(i)
        size += nbytes
        dtype = t.dtype
    if current:
        buckets.append(current)
    return buckets


def pack(arrays, out, scale=1.0):
    """Copy ``arrays`` (flattened, times ``scale``) one after another into the 1-D ``out``.

    CuPy arrays go through the ``kernels.bucket`` launcher (on CuPy's current stream) when
    the fused kernels run, else through CuPy's own ufuncs.

    >>> import numpy as np
    >>> pack([np.ones((2, 1)), np.full(1, 3.0)], np.empty(3), scale=0.5)
    array([0.5, 0.5, 1.5])
    """
    xp = get_array_module(out)
    if use_kernels(xp, out):
        from ..kernels import bucket
        return bucket.pack_bucket(arrays, scale=scale, out=out)
    start = 0
    for a in arrays:
        stop = start + a.size
        # Write through a view of the slice shaped like ``a``: a strided (transposed)
        # gradient is then read in place, never copied first.
        xp.multiply(a, scale, out=out[start:stop].reshape(a.shape), casting="same_kind")
        start = stop
    return out


def unpack(flat, arrays, scale=1.0):
    """Copy consecutive slices of ``flat`` (times ``scale``) into each C-contiguous array.

    >>> import numpy as np
    >>> a, b = np.empty(1), np.empty((1, 2))
    >>> _ = unpack(np.arange(3.0), [a, b]); b
    array([[1., 2.]])
    """
    xp = get_array_module(flat)
    if use_kernels(xp, flat):
        from ..kernels import bucket
        return bucket.unpack_bucket(flat, arrays, scale=scale)
    start = 0
    for a in arrays:
        stop = start + a.size
        xp.multiply(flat[start:stop], scale, out=_launch.flat_view(a), casting="same_kind")
        start = stop
    return arrays
