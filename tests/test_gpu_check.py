"""benchmarks/gpu_check.sh without a GPU: it must say so and stop at once, not hang or fail
half-way (the GPU run itself happens on a lent machine, see the README)."""
import os
import shutil
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU is present")
def test_without_a_gpu_it_exits_2_fast_with_a_summary(tmp_path):
    started = time.monotonic()
    proc = subprocess.run(["bash", os.path.join(ROOT, "benchmarks", "gpu_check.sh")],
                          env=dict(os.environ, OUT=str(tmp_path)), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert time.monotonic() - started < 10
    summary = (tmp_path / "summary.txt").read_text()
    assert "no NVIDIA GPU here" in summary and "no NVIDIA GPU here" in proc.stdout
