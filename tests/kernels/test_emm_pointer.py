"""The EMM plugin hands Numba its allocations as the driver binding's pointer type.

numba-cuda before NVIDIA/numba-cuda#328 stored the ``pointer`` given to ``MemoryPointer``
as is, and with the NVIDIA binding then called ``int()`` on it, which a ``ctypes.c_void_p``
does not support. The subprocess replays that ``MemoryPointer`` over a stand-in CuPy pool
(the CUDA simulator of this process has no EMM interface).
"""
import os
import subprocess
import sys

import pytest

PACKAGE = "gpugrad.kernels"  # kernels/ ships inside the package (pyproject's package-dir)

pytestmark = pytest.mark.kernels

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = f"""
import sys, types

class Block:
    def __init__(self, ptr):
        self.ptr = ptr

class Pool:
    def malloc(self, size):
        return Block(1 << 40)

cupy = types.ModuleType("cupy")
cupy.get_default_memory_pool = lambda: Pool()
sys.modules["cupy"] = cupy

from numba import cuda
from numba.cuda.cudadrv import driver

if not getattr(driver, "USE_NV_BINDING", True):
    sys.exit(0)  # the old ctypes binding takes ctypes pointers

class StoredAsGiven(driver.MemoryPointer):
    # MemoryPointer.__init__ of numba-cuda before #328: the pointer is kept as passed.
    def __init__(self, context, pointer, size, owner=None, finalizer=None):
        super().__init__(context, driver.binding.CUdeviceptr(0), size, owner, finalizer)
        self.device_pointer = self.handle = pointer

cuda.MemoryPointer = StoredAsGiven
from {PACKAGE} import _emm

memory = _emm.plugin_class()(context=None).memalloc(64)
assert memory.device_pointer_value == 1 << 40
assert memory.view(16).device_pointer_value == (1 << 40) + 16
"""


def test_allocations_use_the_binding_pointer_type():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    subprocess.run([sys.executable, "-c", SCRIPT], check=True, cwd=ROOT, env=env)
