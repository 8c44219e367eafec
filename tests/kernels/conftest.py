"""Kernel tests run on the real GPU when there is one, else under Numba's CUDA simulator.

Everything here is local to tests/kernels: the simulator switch (which must happen before
anything imports numba.cuda), a faster thread switch while simulating, the ``xp`` fixture
that runs each test on NumPy arrays and, marked ``cuda``, on CuPy arrays, and ``host``.
"""
import os
import shutil
import sys

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
def _fast_simulator_barriers():
    # The simulator runs each GPU thread as a Python thread and polls for syncthreads();
    # the default 5 ms GIL switch interval makes every barrier cost milliseconds.
    if not SIMULATED:
        yield
        return
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(previous)


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
