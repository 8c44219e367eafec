"""Simulated CUDA devices: a strict NumPy-backed stand-in for the part of CuPy gpugrad uses.

``install(n)`` makes ``import cupy`` (and ``cupyx``, ``cupy.cuda.nccl``) resolve to this
package with ``n`` devices; arrays are :class:`ndarray` (see ``_array`` for the CuPy rules
enforced). Not yet wired into ``gg.cuda`` (issue 12 continues there).

>>> from gpugrad import cuda_sim
>>> x = cuda_sim.arange(3.0)
>>> x.device.id, type(x.sum()).__name__, x.sum().ndim
(0, 'ndarray', 0)
"""
import sys

import numpy as np

from . import _array, _dispatch, cuda, linalg, nccl, random
from ._array import ndarray
from .cuda import MemoryPool

cuda.nccl = nccl
_POOL = cuda._pool


def install(n):
    """Simulate ``n`` devices and make ``import cupy`` / ``import cupyx`` find this package.

    Changes the whole process (``sys.modules``), so it is not run here:

    >>> install(2)  # doctest: +SKIP
    """
    from . import cupyx
    from .cupyx import scipy as cupyx_scipy
    from .cupyx.scipy import special
    if n < 1:
        raise ValueError(f"simulate at least one device, got {n}")
    _array._count[0] = int(n)
    module = sys.modules[__name__]
    sys.modules.update({"cupy": module, "cupy.cuda": cuda, "cupy.cuda.runtime": cuda.runtime,
                        "cupy.cuda.nccl": nccl, "cupy.random": random,
                        "cupy.linalg": linalg, "cupyx": cupyx, "cupyx.scipy": cupyx_scipy,
                        "cupyx.scipy.special": special})


def get_default_memory_pool():
    """The (single) simulated pool; its queries answer for the current device."""
    return _POOL


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """A NumPy copy of ``a`` (a simulated array, or anything NumPy accepts)."""
    if type(a) is ndarray:
        return a.get(order=order, out=out)
    return np.asarray(a, order=order)


def get_array_module(*args):
    """This module when any argument is a simulated array, else ``numpy``."""
    return sys.modules[__name__] if any(type(a) is ndarray for a in args) else np


def __getattr__(name):
    # Everything else CuPy mirrors from NumPy: ufuncs, functions, dtypes, constants.
    if name.startswith("__") or name in _dispatch.MISSING:
        raise AttributeError(f"module 'cupy' has no attribute '{name}'")
    obj = getattr(np, name)
    if isinstance(obj, np.ufunc):
        obj = _dispatch.ufunc(obj)
    elif callable(obj) and not isinstance(obj, type):
        obj = _dispatch.function(name)
    globals()[name] = obj
    return obj


__all__ = ["install", "ndarray", "cuda", "nccl", "random", "linalg", "asnumpy",
           "get_array_module", "get_default_memory_pool", "MemoryPool"]
