"""The CuPy EMM plugin against Numba's real EMM classes, with a stand-in for CuPy's pool.

The plugin runs in a subprocess: this process has the CUDA simulator, which has no EMM
interface, and the stand-in ``cupy`` module must not leak into other tests. The real pool
is exercised by test_cuda_path.py on a GPU.
"""
import os
import subprocess
import sys

import pytest

PACKAGE = "gpugrad.kernels"  # kernels/ ships inside the package (pyproject's package-dir)

pytestmark = pytest.mark.kernels

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = f"""
import gc, sys, types

live = {{}}

class Block:  # a cupy.cuda.MemoryPointer: returns to the pool when garbage
    def __init__(self, ptr, size):
        self.ptr, self.size = ptr, size
        live[ptr] = size
    def __del__(self):
        live.pop(self.ptr)

class Pool:
    next_ptr = 1 << 40
    def malloc(self, size):
        Pool.next_ptr += 1 << 20
        return Block(Pool.next_ptr, size)
    def used_bytes(self):
        return sum(live.values())
    def total_bytes(self):
        return sum(live.values())
    def n_free_blocks(self):
        return 0
    def free_all_blocks(self):
        pass

pool = Pool()
cupy = types.ModuleType("cupy")
cupy.get_default_memory_pool = lambda: pool
cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(memGetInfo=lambda: (5, 10)))
sys.modules["cupy"] = cupy

from {PACKAGE} import _emm
from numba import cuda
from numba.cuda.cudadrv import driver

_emm.install()
_emm.install()  # idempotent
assert driver._memory_manager is _emm.plugin_class()
manager = _emm.plugin_class()(context=None)
manager.initialize()
assert manager.interface_version == 1
assert manager.get_memory_info() == (5, 10)
memory = manager.memalloc(4096)
assert isinstance(memory, cuda.MemoryPointer) and memory.size == 4096
assert int(memory.device_pointer) in live
assert _emm.memory_stats()["used_bytes"] == 4096
del memory
gc.collect()
assert not live and not manager.allocations, "the finalizer must return the block"
kept = manager.memalloc(16)
with manager.defer_cleanup():
    pass
manager.reset()
assert not live, "reset drops every allocation"
"""


def test_plugin_allocates_and_releases_through_the_pool():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    subprocess.run([sys.executable, "-c", SCRIPT], check=True, cwd=ROOT, env=env)
