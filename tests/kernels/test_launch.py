"""Launch plumbing and import hygiene: importing the kernels compiles and loads nothing."""
import os
import subprocess
import sys

import numpy as np
import pytest

try:  # installed layout: kernels/ ships as gpugrad.kernels
    from gpugrad.kernels import _launch, dropout, softmax
    PACKAGE = "gpugrad.kernels"
except ImportError:  # source tree before installation
    from kernels import _launch, dropout, softmax
    PACKAGE = "kernels"

pytestmark = pytest.mark.kernels

MODULES = ["softmax", "xent", "layernorm", "embedding", "dropout", "optim", "bucket",
           "reference", "cpu", "_emm"]


def test_importing_every_module_imports_neither_numba_cuda_nor_cupy():
    imports = "; ".join(f"import {PACKAGE}.{name}" for name in MODULES)
    check = "import sys; bad = [m for m in sys.modules if m.startswith(('numba.cuda', 'cupy'))]"
    check += "; assert not bad, bad"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run([sys.executable, "-c", f"{imports}; {check}"], check=True, cwd=root)


def test_grid_helpers():
    assert [_launch.blocks_for(n) for n in (0, 1, 256, 257)] == [0, 1, 1, 2]
    assert [_launch.row_threads(n) for n in (1, 128, 129, 257, 10**6)] == [32, 32, 64, 128, 256]
    assert _launch.accumulator(np.float16) is np.float32
    assert _launch.accumulator(np.float64) is np.float64


def test_empty_inputs_launch_nothing():
    assert softmax.softmax_forward(np.zeros((0, 5))).shape == (0, 5)
    assert dropout.dropout_forward(np.zeros(0), 0.5, seed=1).shape == (0,)
