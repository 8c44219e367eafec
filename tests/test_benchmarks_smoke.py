"""``benchmarks/sequence.py``, ``conv.py`` and ``embedding.py`` with ``--quick`` run every
workload to the end (timings not checked)."""
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script, workloads, header", [
    ("sequence.py", ("lstm", "gru", "transformer"), "first-step loss"),
    ("conv.py", ("step", "conv1", "conv2", "maxpool"), "first-"),
    ("embedding.py", ("dense gradients, SGD", "sparse gradients, SparseAdam"),
     "first-step loss"),
], ids=["sequence", "conv", "embedding"])
def test_benchmark_quick_run(script, workloads, header):
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--rounds", "1",
         "--steps", "1"],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    for workload in workloads:
        assert f"\n{workload}: {header}" in done.stdout, done.stdout
