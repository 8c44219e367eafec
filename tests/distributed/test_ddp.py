"""DistributedDataParallel under ``mpiexec -n 2`` on the CPU, against one whole-batch process."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.distributed as dist

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "parallel"))
sys.path.insert(0, HERE)

from ddp_worker import OPTIMIZERS, accumulation_bounds  # noqa: E402
from tiny_mlp import TinyMLP, make_batches, mlp_loss  # noqa: E402

MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
TIMEOUT = 60

pytestmark = [pytest.mark.mpi,
              pytest.mark.skipif(not os.path.exists(MPIEXEC), reason="no mpiexec in the venv")]


def _mpirun(tmp_path, *args, timeout=TIMEOUT):
    out = tmp_path / "result.npz"
    cmd = [MPIEXEC, "-n", "2", sys.executable, os.path.join(HERE, "ddp_worker.py"),
           "--out", str(out), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return proc, out


def _reference(opt_name, dtype, sizes, step_loss):
    model = TinyMLP(dtype=dtype, seed=0)  # rank 0's init, which DDP broadcasts
    opt = OPTIMIZERS[opt_name](model.parameters())
    losses = []
    for x, y in make_batches(sizes, dtype=dtype):
        opt.zero_grad()
        loss = step_loss(model, x, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, dict(model.named_parameters())


@pytest.mark.parametrize("opt_name, dtype, tol", [("sgd", "float64", 1e-12),
                                                  ("adam", "float32", 1e-5)])
def test_two_ranks_match_one_whole_batch_process(tmp_path, opt_name, dtype, tol):
    sizes = "16,15,1,8,9"
    proc, out = _mpirun(tmp_path, "--opt", opt_name, "--dtype", dtype, "--sizes", sizes)
    assert proc.returncode == 0, proc.stderr
    got = np.load(out)
    gg_dtype = gg.float64 if dtype == "float64" else gg.float32
    losses, params = _reference(opt_name, gg_dtype, [int(s) for s in sizes.split(",")],
                                mlp_loss)
    np.testing.assert_allclose(got["losses"], losses, rtol=tol, atol=tol)
    for name, p in params.items():
        np.testing.assert_allclose(got[name], p.numpy(), rtol=tol, atol=tol, err_msg=name)


@pytest.mark.cuda
@pytest.mark.skipif(gg.cuda.device_count() < 2, reason="NCCL needs one GPU per rank")
def test_two_gpu_ranks_through_nccl_match_one_process(tmp_path):
    sizes = "16,15,1,8"
    proc, out = _mpirun(tmp_path, "--device", "local", "--sizes", sizes)
    assert proc.returncode == 0, proc.stderr
    got = np.load(out)
    losses, params = _reference("sgd", gg.float64, [int(s) for s in sizes.split(",")],
                                mlp_loss)
    np.testing.assert_allclose(got["losses"], losses, rtol=1e-9, atol=1e-9)
    for name, p in params.items():
        np.testing.assert_allclose(got[name], p.numpy(), rtol=1e-9, atol=1e-9, err_msg=name)


def test_no_sync_accumulates_then_averages(tmp_path):
    sizes = [16, 12, 8]
    proc, out = _mpirun(tmp_path, "--mode", "accumulate", "--sizes",
                        ",".join(map(str, sizes)))
    assert proc.returncode == 0, proc.stderr

    def accumulated_loss(model, x, y):
        # Each rank's two micro-batch mean losses, averaged over the two (equal) ranks.
        total = 0.0
        for rank in range(2):
            for a, b in accumulation_bounds(len(x), rank, 2):
                total = total + 0.5 * mlp_loss(model, x[a:b], y[a:b])
        return total

    _, params = _reference("sgd", gg.float64, sizes, accumulated_loss)
    got = np.load(out)
    for name, p in params.items():
        np.testing.assert_allclose(got[name], p.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=name)


def test_check_every_detects_diverged_replicas(tmp_path):
    proc, _ = _mpirun(tmp_path, "--mode", "diverge")
    assert proc.returncode != 0
    assert "replicas diverged" in proc.stderr


def test_failing_rank_aborts_the_whole_job(tmp_path):
    started = time.monotonic()
    proc, out = _mpirun(tmp_path, "--mode", "fail", timeout=30)
    assert proc.returncode != 0
    assert "rank 1 fails on purpose" in proc.stderr
    assert time.monotonic() - started < 30
    assert not out.exists()


def test_importing_needs_no_mpi4py():
    code = ("import sys, gpugrad.distributed as dist; "
            "assert 'mpi4py' not in sys.modules; assert not dist.is_initialized()")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=TIMEOUT)


def test_functions_need_init_first():
    if dist.is_initialized():
        pytest.skip("initialised by an earlier test in this process")
    with pytest.raises(RuntimeError, match="dist.init"):
        dist.rank()
