"""Device names ("cpu", "cuda", "cuda:N") and the backend that serves each."""
import os
import warnings

import numpy as np

from .numpy_backend import NumpyBackend


class Device:
    """Where a tensor lives. Interned: ``device("cuda:0") is device("cuda:0")``.

    >>> str(device("cpu"))
    'cpu'
    """

    __slots__ = ("type", "index", "_name")

    def __init__(self, type, index=None):
        self.type = type
        self.index = index
        self._name = type if index is None else f"{type}:{index}"

    def __repr__(self):
        return f"device('{self._name}')"

    def __str__(self):
        return self._name

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
        return self is other

    def __hash__(self):
        return hash(self._name)

    def __reduce__(self):
        # Copies and unpickled tensors must get the interned object: ops compare devices
        # by identity.
        return device, (self._name,)

    @property
    def backend(self):
        """The backend that runs ops on this device: NumPy's for ``cpu``, CuPy's for ``cuda:N``.

        >>> type(gg.device('cpu').backend).__name__
        'NumpyBackend'
        """
        return backend_for(self)


CPU = Device("cpu")
_NUMPY = NumpyBackend()
_devices = {"cpu": CPU}
_cupy_backend = None
# Do CuPy ops call the fused Numba-CUDA kernels? Decided when the CUDA backend starts.
_kernels_ready = False


_simulated = 0  # the number of simulated devices, once simulation is on


def simulate(n):
    """Run the CUDA path on ``n`` simulated devices (``gpugrad.cuda_sim``): ``import cupy``
    then finds the simulator, whose arrays are NumPy-backed but follow CuPy's rules.

    Must come before the first GPU use; a process cannot switch back.
    """
    global _simulated
    n = int(n)
    if _simulated == n:
        return
    if _cupy_backend is not None:
        raise RuntimeError("gg.cuda.simulate: the CUDA backend has already started on "
                           f"{'simulated' if _simulated else 'real'} devices; call it "
                           "before the first GPU use")
    from .. import cuda_sim
    cuda_sim.install(n)
    _simulated = n


def simulate_from_environment():
    """``GPUGRAD_SIMULATE_CUDA=N`` in the environment turns simulation on (once)."""
    wanted = os.environ.get("GPUGRAD_SIMULATE_CUDA", "").strip()
    if wanted and not _simulated and _cupy_backend is None:
        if not wanted.isdigit() or int(wanted) < 1:
            raise ValueError(f"GPUGRAD_SIMULATE_CUDA must be a positive number of devices, "
                             f"got {wanted!r}")
        simulate(int(wanted))


def _load_cupy():
    """Import CuPy on first GPU use, with an error that says what is missing."""
    global _cupy_backend, _kernels_ready
    if _cupy_backend is None:
        simulate_from_environment()
        try:
            import cupy
        except ImportError:
            raise RuntimeError(
                "CUDA device requested but CuPy is not installed; install gpugrad[cuda12] "
                "or gpugrad[cuda13]") from None
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except cupy.cuda.runtime.CUDARuntimeError as err:
            raise RuntimeError(f"CUDA device requested but no GPU is usable: {err}") from None
        if count == 0:
            raise RuntimeError("CUDA device requested but no GPU was found")
        from .cupy_backend import CupyBackend
        # Before anything creates a Numba context: the memory manager is fixed at creation.
        _kernels_ready = _start_kernels()
        _cupy_backend = CupyBackend(cupy)
    return _cupy_backend


def _start_kernels():
    """Make Numba allocate from CuPy's memory pool; say whether the fused kernels can run.

    They need numba-cuda plus a driver and NVVM it can load. Without them GPU ops take the
    generic CuPy path (same results, more passes over memory), with a warning.
    """
    try:
        from numba import cuda
        from numba.core import config
        from ..kernels import _emm
    except ImportError as err:
        usable, why = False, f"it is not installed ({err})"
    else:
        if _simulated:  # generic path; tests switch the kernels on per test
            return False
        if config.ENABLE_CUDASIM:  # the simulator cannot launch on CuPy arrays
            usable, why = False, "NUMBA_ENABLE_CUDASIM=1 selects its simulator"
        else:
            _emm.install()
            usable, why = cuda.is_available(), "it finds no usable CUDA driver or NVVM"
    if not usable:
        warnings.warn(f"gpugrad: GPU ops run without the fused kernels: numba-cuda is needed "
                      f"and {why}; install gpugrad[cuda12] or gpugrad[cuda13]",
                      RuntimeWarning, stacklevel=4)
    return usable


def device(spec):
    """Parse ``spec`` ("cpu", "cuda", "cuda:N" or a ``Device``) into an interned ``Device``.

    >>> device("cpu") is device("cpu")
    True
    """
    if isinstance(spec, Device):
        return spec
    found = _devices.get(spec)
    if found is not None:
        return found
    if not isinstance(spec, str):
        raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    kind, _, index = spec.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    backend = _load_cupy()
    n = int(index) if index else backend.xp.cuda.runtime.getDevice()
    count = backend.xp.cuda.runtime.getDeviceCount()
    if n >= count:
        raise RuntimeError(f"device {spec!r} requested but only {count} GPU(s) are present")
    if index == "":
        # "cuda" means the current GPU at the time of the call, so it is not cached.
        return device(f"cuda:{n}")
    dev = _devices[spec] = Device("cuda", n)
    return dev


def backend_for(dev):
    """The ``Backend`` serving a ``Device``."""
    if dev is CPU:
        return _NUMPY
    return _load_cupy()


def get_array_module(array):
    """``numpy`` or ``cupy``, whichever owns ``array`` (never imports CuPy itself).

    >>> get_array_module(np.zeros(2)) is np
    True
    """
    if isinstance(array, np.ndarray) or _cupy_backend is None:
        return np
    return _cupy_backend.xp.get_array_module(array)


def backend_of_array(array):
    """(backend, device) of a raw array: NumPy arrays are on the CPU."""
    if isinstance(array, (np.ndarray, np.generic)):
        return _NUMPY, CPU
    if type(array).__module__.startswith("cupy"):
        backend = _load_cupy()
        return backend, backend.device_of(array)
    raise TypeError(f"expected a NumPy or CuPy array, got {type(array).__name__}")
