"""Kernel tests run on the real GPU when there is one, else under Numba's CUDA simulator.

Everything here is local to tests/kernels: the simulator switch (which must happen before
anything imports numba.cuda), two simulator workarounds applied per test, the ``xp``
fixture that runs each test on NumPy arrays and, marked ``cuda``, on CuPy arrays,
``host``, which copies either kind back to NumPy, and ``force_kernels``, which counts
launcher calls and forces the ops' kernel branches onto NumPy arrays.
"""
import collections
import contextlib
import os
import shutil
import sys
import threading

import numpy as np
import pytest


def _has_gpu():
    return os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None


SIMULATED = not _has_gpu()
if SIMULATED:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    if "numba.cuda" in sys.modules and hasattr(sys.modules["numba.cuda"], "grid"):
        raise RuntimeError("numba.cuda was imported before tests/kernels/conftest.py could "
                           "select the simulator; run with NUMBA_ENABLE_CUDASIM=1")
    if "numba" in sys.modules:
        # Numba read its environment when first imported; numba.cuda must see the switch.
        sys.modules["numba"].core.config.reload_config()


@pytest.fixture(autouse=True)
def _simulator_workarounds(monkeypatch):
    """Make the simulator fast enough, and race-free, for the block-reduction kernels."""
    if not SIMULATED:
        yield
        return
    from numba.cuda.simulator import kernelapi
    monkeypatch.setattr(kernelapi.FakeCUDAShared, "array", _atomic_shared_array)
    # The simulator runs each GPU thread as a Python thread and polls for syncthreads();
    # the default 5 ms GIL switch interval makes every barrier cost milliseconds.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(previous)


_SHARED_LOCK = threading.Lock()


def _atomic_shared_array(self, shape, dtype, alignment=None):
    # numba-cuda's FakeCUDAShared.array looks up, then creates, a block's array for the
    # calling source line without a lock, so two threads of the first block can each
    # create one and reduce into different arrays. Same keying (caller's file and line).
    from numba.np import numpy_support
    if shape == 0 or alignment is not None:
        raise NotImplementedError("the kernels use only static, default-aligned shared arrays")
    frame = sys._getframe(1)
    caller = (frame.f_code.co_filename, frame.f_lineno)
    if not isinstance(dtype, (type, np.dtype, str)):
        dtype = numpy_support.as_dtype(dtype)  # a Numba type
    with _SHARED_LOCK:
        array = self._allocations.get(caller)
        if array is None:
            array = self._allocations[caller] = np.empty(shape, dtype)
    return array


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.cuda)])
def xp(request):
    """Array module the launchers get their inputs in."""
    if request.param == "cupy":
        return pytest.importorskip("cupy")
    return np


@pytest.fixture
def host():
    """Function returning a host (NumPy) copy of a NumPy or CuPy array."""
    def to_numpy(array):
        return array.get() if hasattr(array, "get") else np.asarray(array)
    return to_numpy


@pytest.fixture
def force_kernels(monkeypatch):
    """Function ``force_kernels({key: (module, launcher_name)})``: counts every call of each
    launcher under ``key`` in a Counter (outside the forced block too, for the cuda tests)
    and returns a context manager inside which NumPy arrays take the kernel branches; it
    clears the Counter and yields it. The Counter is also the context manager's ``calls``."""
    import gpugrad as gg  # not at import time: numba.cuda must see the simulator switch first

    def make(launchers):
        calls = collections.Counter()
        for key, (module, name) in launchers.items():
            monkeypatch.setattr(module, name, _counted(getattr(module, name), calls, key))

        @contextlib.contextmanager
        def force():
            with monkeypatch.context() as patch:
                patch.setattr(gg.cuda, "_kernels_on", lambda xp: True)
                calls.clear()
                yield calls
        force.calls = calls
        return force
    return make


def _counted(launcher, calls, key):
    def counted(*args, **kwargs):
        calls[key] += 1
        return launcher(*args, **kwargs)
    return counted
