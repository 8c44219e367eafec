"""Simulated ``cupy.lib.stride_tricks.as_strided``: a view with the given shape and byte
strides over the same memory, on the array's device (no kernel), as CuPy documents. CuPy's
signature has no ``writeable`` (its view is writable); like CuPy, nothing checks the bounds.

>>> from gpugrad import cuda_sim
>>> a = cuda_sim.arange(4.0)
>>> as_strided(a, shape=(2,), strides=(2 * a.itemsize,)).tolist()
[0.0, 2.0]
"""
import numpy as np

from .._array import ndarray


def as_strided(x, shape=None, strides=None):
    """A view of ``x`` with ``shape`` and ``strides`` (in bytes); defaults are x's own.

    >>> from gpugrad import cuda_sim
    >>> as_strided(cuda_sim.arange(3.0), shape=(2, 3), strides=(0, 8)).tolist()
    [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
    """
    if type(x) is not ndarray:
        raise TypeError(f"Unsupported type {type(x)}")
    shape = x.shape if shape is None else tuple(shape)
    strides = x.strides if strides is None else tuple(strides)
    view = np.lib.stride_tricks.as_strided(x._a, shape=shape, strides=strides)
    return x._view(view)
