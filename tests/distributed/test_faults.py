"""DistributedDataParallel under faults (``mpiexec -n 2`` runs of fault_worker.py): every case
that used to hang or train on wrong gradients ends within seconds with an error on every
rank, and no rank takes an optimizer step on a mismatched average. ``join()`` trains uneven
inputs to the parameters PyTorch's documented semantics give."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import gpugrad as gg

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "parallel"))
sys.path.insert(0, HERE)

import fault_worker as worker  # noqa: E402
from tiny_mlp import TinyMLP, mlp_loss  # noqa: E402

MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")
LIMIT = 30  # seconds: each case must end well within it

pytestmark = [pytest.mark.mpi,
              pytest.mark.skipif(not os.path.exists(MPIEXEC), reason="no mpiexec in the venv")]


def _mpirun(tmp_path, mode, *args):
    cmd = [MPIEXEC, "-n", "2", sys.executable, os.path.join(HERE, "fault_worker.py"),
           "--mode", mode, "--out", str(tmp_path), *args]
    env = dict(os.environ, GPUGRAD_DIST_TIMEOUT="60")  # the cases must not need a timeout
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=LIMIT, env=env)
    return proc, time.monotonic() - started


def _saved(tmp_path, rank):
    """(steps taken, parameters) that rank ``rank`` saved after its last optimizer step."""
    path = tmp_path / f"rank{rank}.npz"
    if not path.exists():
        return 0, None
    got = dict(np.load(path))
    return int(got.pop("steps")), got


def _reference(counts, divide_by_world=True):
    """The tiny MLP trained as PyTorch's DDP would: step k averages the per-rank mean
    gradients of the ranks that still have a k-th batch, divided by the world size (or by
    the number of those ranks)."""
    model = TinyMLP(dtype=gg.float64, seed=0)
    opt = worker.make_optimizer(model)
    data = {rank: worker.batches(rank, n) for rank, n in counts.items()}
    for k in range(max(counts.values())):
        active = [rank for rank, n in counts.items() if k < n]
        divisor = len(counts) if divide_by_world else len(active)
        opt.zero_grad()
        loss = sum(mlp_loss(model, *data[rank][k]) for rank in active) / divisor
        loss.backward()
        opt.step()
    return {name: p.numpy() for name, p in model.named_parameters()}


def _assert_params(tmp_path, steps, expected):
    for rank in (0, 1):
        taken, params = _saved(tmp_path, rank)
        assert taken == steps, f"rank {rank} took {taken} optimizer steps, expected {steps}"
        if steps:
            for name, value in expected.items():
                np.testing.assert_allclose(params[name], value, rtol=1e-12, atol=1e-12,
                                           err_msg=f"rank {rank} {name}")


# mode, good optimizer steps before the fault, what rank 0 and rank 1 must report
CASES = {
    "skip": (2, "step 3 raised on rank 1: ValueError: rank 1 fails in step 3",
             "[rank 1] step 3 raised ValueError"),
    "skip_in_backward": (2, "step 3 raised on rank 1: ValueError: rank 1 fails in backward",
                         "[rank 1] step 3 raised ValueError"),
    "lost_step": (2, "the ranks are in different steps (rank 0 in step 3, rank 1 in step 4",
                  "[rank 1] failed"),
    "frozen": (0, "rank 1's module differs from rank 0's: parameter 'w2' has "
               "requires_grad=False on rank 1 but True on rank 0", "[rank 1] failed"),
    "frozen_later": (2, "parameter 'w2' has requires_grad=False on rank 1 but True on rank 0 "
                     "at step 3", "[rank 1] failed"),
    "bucket_cap": (0, "rank 1's module differs from rank 0's: bucket_cap_mb is 1.0 on rank 1 "
                   "but 0.0001 on rank 0", "[rank 1] failed"),
    "extra_exit": (4, "rank 1 exited after 6 collectives", "[rank 1] exits after 6 "
                   "collectives, but rank 0"),
    "extra_check": (4, "[rank 0] failed", "[rank 1] failed"),
    "extra_barrier": (4, "[rank 0] failed", "[rank 1] failed"),
}


@pytest.mark.parametrize("mode", list(CASES))
def test_fault_ends_with_an_error_on_every_rank_and_no_wrong_step(tmp_path, mode):
    steps, rank0_says, rank1_says = CASES[mode]
    proc, seconds = _mpirun(tmp_path, mode)
    assert proc.returncode != 0
    assert seconds < LIMIT
    assert rank0_says in proc.stderr, proc.stderr
    assert rank1_says in proc.stderr, proc.stderr
    # Every rank reports an error of its own before the job ends.
    assert "[rank 0] failed" in proc.stderr, proc.stderr
    assert "[rank 1] failed" in proc.stderr or "[rank 1] exits after" in proc.stderr
    _assert_params(tmp_path, steps, _reference({0: steps, 1: steps}))


@pytest.mark.parametrize("mode, other", [("extra_check", "replica check (collective #7)"),
                                         ("extra_barrier", "barrier (collective #7)")])
def test_one_more_step_then_another_collective_names_both(tmp_path, mode, other):
    proc, _ = _mpirun(tmp_path, mode)
    assert proc.returncode != 0
    # Whichever rank notices first names both collectives; the other learns it stopped.
    step = "step 5's gradient all-reduce (collective #7)"
    seen_by_0 = f"rank 0: rank 1 is in {other} while this rank is in {step}"
    seen_by_1 = f"rank 1: rank 0 is in {step} while this rank is in {other}"
    assert seen_by_0 in proc.stderr or seen_by_1 in proc.stderr, proc.stderr
    assert "[rank 0] failed" in proc.stderr and "[rank 1] failed" in proc.stderr


def test_a_collective_that_does_not_complete_times_out(tmp_path):
    proc, seconds = _mpirun(tmp_path, "stall", "--timeout", "2")
    assert proc.returncode != 0
    assert seconds < 10  # rank 1 computes for 10 s: the job ends on rank 0's timeout
    assert ("rank 0: timed out after 2 s waiting in step 2's gradient all-reduce"
            in proc.stderr), proc.stderr
    _assert_params(tmp_path, 1, _reference({0: 1, 1: 1}))


@pytest.mark.parametrize("mode, divide_by_world", [("join", True), ("join_nodiv", False)])
def test_join_trains_uneven_inputs_like_pytorch(tmp_path, mode, divide_by_world):
    proc, _ = _mpirun(tmp_path, mode)
    assert proc.returncode == 0, proc.stderr
    expected = _reference(worker.JOIN_BATCHES, divide_by_world)
    other = _reference(worker.JOIN_BATCHES, not divide_by_world)
    assert not np.allclose(expected["w1"], other["w1"])  # the two modes are told apart
    for rank in (0, 1):
        taken, params = _saved(tmp_path, rank)
        assert taken == worker.JOIN_BATCHES[rank]
        for name, value in expected.items():
            # Rank 0 joined after 3 steps: it ends with rank 1's (the last joiner's) replica.
            np.testing.assert_allclose(params[name], value, rtol=1e-12, atol=1e-12,
                                       err_msg=f"rank {rank} {name}")


@pytest.mark.parametrize("mode, message", [
    ("join_throw", "rank(s) [0] ran out of inputs by step 4 with "
                   "join(throw_on_early_termination=True)"),
    ("join_one_sided", "rank(s) [0] ran out of inputs by step 4 while this rank is not "
                       "inside ddp.join()")])
def test_running_out_of_inputs_raises_when_join_does_not_cover_it(tmp_path, mode, message):
    proc, seconds = _mpirun(tmp_path, mode)
    assert proc.returncode != 0
    assert seconds < LIMIT
    assert message in proc.stderr, proc.stderr
    assert "[rank 0] failed" in proc.stderr and "[rank 1] failed" in proc.stderr
    _assert_params(tmp_path, 3, _reference({0: 3, 1: 3}))
