"""Simulated CUDA devices: a strict NumPy-backed stand-in for the part of CuPy gpugrad uses.

``install(n)`` makes ``import cupy`` (and ``cupyx``, ``cupy.cuda.nccl``) resolve to this
package with ``n`` devices; arrays are :class:`ndarray` (see ``_array`` for the CuPy rules
enforced). ``gg.cuda.simulate(n)`` or ``GPUGRAD_SIMULATE_CUDA=n`` installs it.

>>> from gpugrad import cuda_sim
>>> x = cuda_sim.arange(3.0)
>>> x.device.id, type(x.sum()).__name__, x.sum().ndim
(0, 'ndarray', 0)
"""
import builtins
import sys

import numpy as np

from . import _array, _dispatch, cuda, lib, linalg, nccl, random
from ._array import ndarray
from .cuda import MemoryPool

cuda.nccl = nccl
SIMULATED = True  # what tells gpugrad.kernels to launch on the NumPy memory underneath
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
                        "cupy.linalg": linalg, "cupy.lib": lib,
                        "cupy.lib.stride_tricks": lib.stride_tricks, "cupyx": cupyx,
                        "cupyx.scipy": cupyx_scipy, "cupyx.scipy.special": special})


def get_default_memory_pool():
    """The (single) simulated pool; its queries answer for the current device."""
    return _POOL


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """A NumPy copy of ``a`` (a simulated array, or anything NumPy accepts)."""
    if type(a) is ndarray:
        return a.get(order=order, out=out)
    return np.asarray(a, order=order)


def from_dlpack(array):
    """A simulated array sharing the memory of ``array``, which must be on a (simulated)
    CUDA device, as ``cupy.from_dlpack`` requires; a host array is CuPy's error."""
    kind, dev = array.__dlpack_device__()
    if kind != 2:
        raise RuntimeError("Unsupported device in DLTensor (from_dlpack takes CUDA arrays)")

    class _Host:  # hands NumPy the capsule with the CPU device it really is
        def __dlpack__(self, **kwargs):
            return array.__dlpack__()

        def __dlpack_device__(self):
            return (1, 0)
    shared = np.from_dlpack(_Host())  # read-only, as NumPy marks every DLPack import

    class _Writable:  # the same memory, writable as CuPy's device memory is
        __array_interface__ = dict(shared.__array_interface__, data=(
            shared.__array_interface__["data"][0], False))
        keep_alive = shared
    return ndarray._new(np.asarray(_Writable()), dev, owns=False)


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
    if not hasattr(builtins, name):
        # Cached as a module global for speed; never ``any``, ``sum``, ``max`` and the other
        # builtins' names, which this module's own code must keep reaching.
        globals()[name] = obj
    return obj


__all__ = ["install", "ndarray", "cuda", "nccl", "random", "linalg", "lib", "asnumpy",
           "from_dlpack", "get_array_module", "get_default_memory_pool", "MemoryPool"]
