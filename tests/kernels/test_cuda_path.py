"""The real GPU path: CuPy's current stream and CuPy's memory pool (needs CuPy and a GPU)."""
import os
import subprocess
import sys

import numpy as np
import pytest

try:  # installed layout: kernels/ ships as gpugrad.kernels
    from gpugrad.kernels import _launch, softmax, xent
    PACKAGE = "gpugrad.kernels"
except ImportError:  # source tree before installation
    from kernels import _launch, softmax, xent
    PACKAGE = "kernels"

pytestmark = [pytest.mark.kernels, pytest.mark.cuda]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.gpu_hardware("CuPy's real streams and Numba's external_stream")
def test_launches_queue_on_cupys_current_stream():
    cupy = pytest.importorskip("cupy")
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        assert int(_launch.current_stream()) == stream.ptr
        logits = cupy.random.standard_normal((512, 1000), dtype=cupy.float32)
        targets = cupy.random.randint(0, 1000, 512)
        # Each step consumes the previous one's output on the same stream, with no sync.
        probs = softmax.softmax_forward(logits)
        loss, lse = xent.softmax_xent_forward(logits, targets)
        total = probs.sum(axis=1)
        picked = cupy.log(probs[cupy.arange(512), targets])
    stream.synchronize()
    np.testing.assert_allclose(total.get(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(loss.get(), -picked.get(), rtol=1e-4, atol=1e-5)


def test_memory_stats_reports_cupys_pool():
    cupy = pytest.importorskip("cupy")
    from importlib import import_module
    stats = import_module(PACKAGE).memory_stats()
    block = cupy.empty(1 << 20, dtype=cupy.uint8)
    grown = import_module(PACKAGE).memory_stats()
    assert set(stats) == {"used_bytes", "total_bytes", "n_free_blocks"}
    assert grown["used_bytes"] >= stats["used_bytes"] + block.nbytes


@pytest.mark.gpu_hardware("Numba's memory manager on a real CUDA context")
def test_emm_plugin_allocates_numba_arrays_from_cupys_pool():
    pytest.importorskip("cupy")
    # The plugin must be installed before Numba creates a context: use a fresh process.
    code = f"""
import gc
import numpy as np
from {PACKAGE} import _emm
_emm.install()
from numba import cuda
before = _emm.memory_stats()["used_bytes"]
array = cuda.device_array(1 << 20, dtype=np.uint8)
array.copy_to_device(np.ones(1 << 20, dtype=np.uint8))
assert _emm.memory_stats()["used_bytes"] >= before + (1 << 20)
assert array.copy_to_host().sum() == 1 << 20
del array
gc.collect()
assert _emm.memory_stats()["used_bytes"] == before
"""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
