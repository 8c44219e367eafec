"""Trainer under ``mpiexec -n 2`` (DistributedDataParallel) equals Trainer on two CPU
replicas in one process (DataParallel): the same global batches, the same averages."""
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from trainer_worker import fit, make_trainer  # noqa: E402

MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")


@pytest.mark.mpi
@pytest.mark.skipif(not os.path.exists(MPIEXEC), reason="no mpiexec in the venv")
def test_trainer_under_mpi_matches_two_replicas(tmp_path):
    out = tmp_path / "result.npz"
    cmd = [MPIEXEC, "-n", "2", sys.executable, os.path.join(HERE, "trainer_worker.py"),
           "--out", str(out), "--checkpoints", str(tmp_path / "ckpt")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = np.load(out)
    assert int(got["replicas"]) == 2

    trainer = make_trainer(["cpu", "cpu"])
    expected = fit(trainer)
    np.testing.assert_allclose(got["batch_loss"], expected["batch_loss"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["val_loss"], expected["val_loss"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got["val_accuracy"], expected["val_accuracy"])
    np.testing.assert_array_equal(got["accuracy"], expected["accuracy"])
    for i, p in enumerate(trainer.model.parameters()):
        np.testing.assert_allclose(got[f"param{i}"], p.numpy(), rtol=1e-5, atol=1e-6)
    assert sorted(os.listdir(tmp_path / "ckpt")) == [
        "best.safetensors", "epoch1.safetensors", "epoch2.safetensors", "epoch3.safetensors",
        "last.safetensors"]
