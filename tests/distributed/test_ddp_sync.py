"""What DistributedDataParallel ranks agree on besides gradients (one ``mpiexec -n 2`` run of
sync_worker.py), against the same training with DataParallel on two CPU replicas."""
import os
import subprocess
import sys

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.parallel import DataParallel

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sync_worker as worker  # noqa: E402

MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")

pytestmark = [pytest.mark.mpi,
              pytest.mark.skipif(not os.path.exists(MPIEXEC), reason="no mpiexec in the venv")]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("sync") / "result.npz"
    cmd = [MPIEXEC, "-n", "2", sys.executable, os.path.join(HERE, "sync_worker.py"),
           "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return dict(np.load(out))


def test_batchnorm_buffers_are_rank_0s_and_pass_the_replica_check(ranks):
    # Buffers follow rank 0 (DataParallel: the primary), so check_every=1 saw no divergence.
    model = worker.bn_model(seed=0)
    opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    dp = DataParallel(model, ["cpu", "cpu"])
    for x, y in worker.bn_batches():
        opt.zero_grad()
        dp.forward_backward(worker.bn_loss, x, y)
        opt.step()
    dp.close()
    for name, expected in worker.state_arrays("bn_", model).items():
        np.testing.assert_allclose(ranks[name], expected, rtol=1e-12, atol=1e-12,
                                   err_msg=name)


def test_accumulation_under_no_sync_with_batchnorm(ranks):
    # Equal shards: the no_sync total averaged over the ranks is DataParallel's sum of the
    # two micro-batches' mean gradients; the buffers are the primary's, updated twice a step.
    model = worker.bn_model(seed=0)
    opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    dp = DataParallel(model, ["cpu", "cpu"])
    for x, y in worker.acc_batches():
        opt.zero_grad()
        for xm, ym in worker.micro_batches(x, y):
            dp.forward_backward(worker.bn_loss, xm, ym)
        opt.step()
    dp.close()
    for name, expected in worker.state_arrays("acc_", model).items():
        np.testing.assert_allclose(ranks[name], expected, rtol=1e-12, atol=1e-12,
                                   err_msg=name)


def test_trainer_ranks_shuffle_alike_without_a_seed(ranks):
    trainer = worker.make_trainer(seed=100, devices=["cpu", "cpu"])
    history = trainer.fit(worker.blobs(), epochs=2, batch_size=8)
    np.testing.assert_allclose(ranks["trainer_batch_loss"], history["batch_loss"],
                               rtol=1e-12, atol=1e-12)
    for name, expected in worker.state_arrays("trainer_", trainer.model).items():
        np.testing.assert_allclose(ranks[name], expected, rtol=1e-12, atol=1e-12,
                                   err_msg=name)
