"""``gpugrad-selftest``: passes on a working install, fails loudly on a broken op."""
import os
import subprocess
import sys
import time

import pytest

import gpugrad as gg
from gpugrad import selftest
from gpugrad.kernels import cpu as cpu_twins
from gpugrad.nn.functional.activation import Softmax

needs_no_gpu = pytest.mark.skipif(gg.cuda.is_available(), reason="checks the CPU-only run")


@needs_no_gpu
def test_cpu_only_run_passes_quickly_and_says_so(capsys):
    start = time.perf_counter()
    assert selftest.main() == 0
    assert time.perf_counter() - start < 20
    out = capsys.readouterr().out
    assert "checking the CPU path only" in out
    for line in ["F.cross_entropy", "F.layer_norm", "embedding_backward (twin)",
                 "Adam step, 1M parameters"]:
        assert line in out
    assert "FAIL" not in out and out.rstrip().endswith("0 failed: PASS")


def test_a_wrong_gradient_fails_the_run(monkeypatch, capsys):
    # Softmax's backward with its Jacobian dropped: the gradient check must catch it.
    monkeypatch.setattr(Softmax, "backward", staticmethod(lambda ctx, g: g))
    assert selftest.main() == 1
    out = capsys.readouterr().out
    results = {line[:34].strip(): line.split()[-1] for line in out.splitlines()
               if line.startswith("  F.")}
    assert results["F.softmax"] == results["F.softmax (dim 0)"] == "FAIL"
    assert results["F.log_softmax"] == results["F.cross_entropy"] == "pass"
    assert out.rstrip().endswith(": FAIL")


def test_a_crashing_twin_is_a_failure_not_a_traceback(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise IndexError("embedding index out of range")
    monkeypatch.setattr(cpu_twins, "embedding_backward", broken)
    assert selftest.main() == 1
    assert "IndexError: embedding index out of range" in capsys.readouterr().out


@needs_no_gpu
def test_module_runs_as_a_script():
    done = subprocess.run([sys.executable, "-m", "gpugrad.selftest"], capture_output=True,
                          text=True, timeout=60,
                          env={k: v for k, v in os.environ.items()
                               if k != "NUMBA_ENABLE_CUDASIM"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failed: PASS" in done.stdout


@pytest.mark.cuda
def test_gpu_run_checks_ops_and_launchers(capsys):
    assert selftest.main() == 0
    out = capsys.readouterr().out
    assert "cuda, no fused kernels" in out
    if gg.cuda.is_simulated():
        assert "simulated device 0, fused kernels OFF): ops vs CPU (float32)" in out
        assert "launchers: skipped (simulated devices take the generic path)" in out
        return
    assert "ops vs CPU (float32)" in out and "fused kernels on" in out
    assert "kernel launchers vs CuPy references" in out and "adamw_update" in out
