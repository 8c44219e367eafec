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


def test_train_digits_runs_without_tensorboardx_and_matplotlib(tmp_path):
    """The optional extras missing at run time (a machine where nothing can be installed):
    the example trains and says what it left out."""
    code = ("import sys, runpy; sys.modules['tensorboardX'] = None; "
            "sys.modules['matplotlib'] = None; "
            f"sys.path.insert(0, {EXAMPLES!r}); sys.argv = ['train_digits.py', '--epochs', "
            "'1', '--no-progress', '--out', 'out']; "
            f"runpy.run_path({os.path.join(EXAMPLES, 'train_digits.py')!r}, "
            "run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "TensorBoard logging off: tensorboardX is not installed" in proc.stdout
    assert "no loss curve" in proc.stdout and "final validation accuracy" in proc.stdout
    assert not (tmp_path / "runs").exists()


def test_multi_gpu_script_picks_its_devices_and_says_which(tmp_path):
    import gpugrad as gg
    out = _run(tmp_path, "multi_gpu.py", "--per-device-batch", "64", "--epochs", "3")
    if gg.cuda.device_count() == 0:  # the default, --devices auto, on a machine without GPUs
        assert "--devices auto (no GPU found): cpu, cpu" in out
        assert "effective batch 128" in out
    else:
        assert re.search(r"--devices auto \(\d GPUs? found\): cuda:0", out)
    assert _percent("val accuracy", out.strip().splitlines()[-1]) > 90.0


def test_collab_filter_beats_the_global_mean(tmp_path):
    out = _run(tmp_path, "collab_filter.py", "--epochs", "10", "--no-progress")
    rmse, baseline = map(float, re.search(r"test RMSE ([\d.]+)\s+vs global-mean baseline "
                                          r"([\d.]+)", out).groups())
    assert rmse < 0.7 * baseline


def test_lr_sweep_lays_out_one_experiment_per_lr_and_reports_divergence(tmp_path):
    out = _run(tmp_path, "lr_sweep.py", "--lrs", "3,0.1", "--epochs", "2")
    sweep = tmp_path / "runs" / "lr_sweep1"
    assert sorted(os.listdir(sweep)) == ["lr_1e-01", "lr_3e+00"]
    for run in os.listdir(sweep):
        assert sorted(p.name for p in (sweep / run).iterdir() if p.is_dir()) == [
            "train", "validation"]
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert rows["3"].rstrip().endswith("diverged")
    assert re.search(r"\d\.\d\de\+\d\d", rows["3"])  # a huge loss in scientific notation
    assert rows["0.1"].rstrip().endswith("ok")
    assert "best learning rate: 0.1 (" in out
    assert "tensorboard --logdir runs/lr_sweep1" in out
    # A second sweep gets its own folder instead of mixing into the first one's runs.
    _run(tmp_path, "lr_sweep.py", "--lrs", "0.1", "--epochs", "1")
    assert os.listdir(tmp_path / "runs" / "lr_sweep2") == ["lr_1e-01"]


@pytest.mark.mpi
@pytest.mark.skipif(not os.path.exists(MPIEXEC), reason="no mpiexec in the venv")
def test_train_ddp_under_mpiexec(tmp_path):
    out = _run(tmp_path, "train_ddp.py", "--epochs", "5", launcher=(MPIEXEC, "-n", "2"))
    assert "2 ranks" in out
    assert _percent("final validation accuracy:", out) >= 95.0
