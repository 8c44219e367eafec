"""Gradient buckets for data-parallel all-reduce: pack arrays into one flat buffer and back.

Packing and unpacking scale on the fly (e.g. by 1 / world_size), so averaging costs no
extra pass. One launch per array: each copies into (or out of) its slice of the bucket.
"""
import numpy as np

from . import _launch

cuda = None  # numba.cuda, bound by the first launch (see _launch.kernel_factory)


@_launch.kernel_factory
def _kernels(acc):
    @cuda.jit
    def copy_scaled(src, dst, scale):
        i = cuda.grid(1)
        if i < src.size:
            dst[i] = src[i] * scale

    return copy_scaled


def pack_bucket(arrays, scale=1.0, out=None):
    """Flatten ``arrays`` in order into one 1-D buffer (``out`` if given), times ``scale``.

    >>> import numpy as np
    >>> pack_bucket([np.ones((2, 1)), np.zeros(1)], scale=0.5)
    array([0.5, 0.5, 0. ])
    """
    total = sum(a.size for a in arrays)
    if out is None:
        dtype = np.result_type(*[a.dtype for a in arrays])
        out = _launch.empty(arrays[0], (total,), dtype)
    elif out.shape != (total,):
        raise ValueError(f"bucket of shape {out.shape} cannot hold {total} elements")
    start = 0
    for a in arrays:
        src = _launch.contiguous(a).reshape(-1)
        _copy(src, out[start:start + a.size], scale)
        start += a.size
    return out


def unpack_bucket(flat, arrays, scale=1.0):
    """Copy consecutive slices of ``flat``, times ``scale``, into each (contiguous) array.

    >>> import numpy as np
    >>> unpack_bucket(np.arange(3.0), [np.empty(1), np.empty((1, 2))], scale=2.0)[1]
    array([[2., 4.]])
    """
    if flat.shape != (sum(a.size for a in arrays),):
        raise ValueError("bucket size does not match the arrays")
    start = 0
    for a in arrays:
        _copy(flat[start:start + a.size], _launch.flat_view(a), scale)
        start += a.size
    return arrays


def _copy(src, dst, scale):
    kernel = _kernels(dst.dtype)
    _launch.launch(kernel, _launch.blocks_for(src.size), _launch.ELEMENTWISE_THREADS,
                   src, dst, dst.dtype.type(scale))
