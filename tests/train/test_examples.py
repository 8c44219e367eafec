"""Smoke runs of every example script (short settings), checking what they print and write."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(ROOT, "examples")
MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")


def _run(tmp_path, script, *args, launcher=(), timeout=120):
    cmd = [*launcher, sys.executable, os.path.join(EXAMPLES, script), *args]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _percent(pattern, text):
    return float(re.search(pattern + r"\s*([\d.]+)%", text).group(1))


def test_train_digits_reaches_95_percent_and_writes_logs(tmp_path):
    out = _run(tmp_path, "train_digits.py", "--epochs", "6", "--no-progress",
               "--log-dir", "runs/digits", "--out", "out")
    assert "devices: cpu, cpu" in out
    assert _percent("final validation accuracy:", out) >= 95.0
    assert os.listdir(tmp_path / "runs" / "digits")
    assert (tmp_path / "out" / "loss_curve.png").stat().st_size > 0
    assert (tmp_path / "out" / "checkpoints" / "last.safetensors").exists()


def test_multi_gpu_script_runs_on_two_cpu_replicas(tmp_path):
    out = _run(tmp_path, "multi_gpu.py", "--devices", "cpu,cpu", "--per-device-batch", "64",
               "--epochs", "3")
    assert "effective batch 128" in out
    assert _percent("val accuracy", out.strip().splitlines()[-1]) > 90.0


def test_collab_filter_beats_the_global_mean(tmp_path):
    out = _run(tmp_path, "collab_filter.py", "--epochs", "10", "--no-progress")
    rmse, baseline = map(float, re.search(r"test RMSE ([\d.]+)\s+vs global-mean baseline "
                                          r"([\d.]+)", out).groups())
    assert rmse < 0.7 * baseline


def test_lr_sweep_writes_one_run_per_learning_rate(tmp_path):
    out = _run(tmp_path, "lr_sweep.py", "--lrs", "0.1,0.01", "--epochs", "2")
    assert sorted(os.listdir(tmp_path / "runs" / "lr_sweep")) == ["lr_0.01", "lr_0.1"]
    assert "best learning rate" in out


@pytest.mark.mpi
@pytest.mark.skipif(not os.path.exists(MPIEXEC), reason="no mpiexec in the venv")
def test_train_ddp_under_mpiexec(tmp_path):
    out = _run(tmp_path, "train_ddp.py", "--epochs", "5", launcher=(MPIEXEC, "-n", "2"))
    assert "2 ranks" in out
    assert _percent("final validation accuracy:", out) >= 95.0
