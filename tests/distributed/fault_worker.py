"""Run under ``mpiexec -n 2`` by test_faults.py: DistributedDataParallel with one fault
injected on purpose. Each rank trains the tiny MLP (float64, SGD with momentum) on its own
batches of ``BATCH`` examples and, after every optimizer step, saves its parameters and the
number of steps taken to ``--out/rank<r>.npz``, so the test can tell whether a step was
taken on wrong gradients.

Modes (rank 1 is the faulty one unless said otherwise):

* ``skip``: step 3's loss_fn raises on rank 1, which catches it and goes on;
* ``skip_in_backward``: the same, raised in backward once some buckets are on their way;
* ``lost_step``: step 3 raises a BaseException there (no completion): the ranks' steps
  no longer pair up;
* ``frozen``: rank 1 freezes ``w2`` before building DDP; ``frozen_later``: after step 2;
* ``bucket_cap``: rank 1 builds DDP with another ``bucket_cap_mb``;
* ``extra_exit``/``extra_check``/``extra_barrier``: rank 0 has one more batch; rank 1
  then exits, calls ``check_replicas()``, or a barrier;
* ``stall``: rank 1 computes for longer than the timeout (``--timeout``) in step 2;
* ``join``/``join_nodiv``/``join_throw``: uneven batches (rank 0: 3, rank 1: 5) inside
  ``ddp.join()`` (``divide_by_initial_world_size=False``; ``throw_on_early_termination``);
* ``join_one_sided``: the same, but rank 1 does not use ``join()``.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parallel"))

import gpugrad as gg  # noqa: E402
import gpugrad.distributed as dist  # noqa: E402
from tiny_mlp import TinyMLP, mlp_loss  # noqa: E402

BATCH = 4
CAP_MB = 1e-4  # one bucket per parameter: a failure in backward finds some already sent
JOIN_BATCHES = {0: 3, 1: 5}


class Interrupt(BaseException):
    """Not an Exception: DDP does not complete the step's collectives for it."""


def batches(rank, count):
    """Rank ``rank``'s ``count`` batches (the tests rebuild them for the reference)."""
    rng = np.random.default_rng(100 + rank)
    return [(gg.tensor(rng.normal(size=(BATCH, 5))), gg.tensor(rng.integers(0, 3, BATCH)))
            for _ in range(count)]


def make_optimizer(model):
    return gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def save(out, rank, model, steps):
    path = os.path.join(out, f"rank{rank}.npz")
    arrays = {name: p.numpy() for name, p in model.named_parameters()}
    np.savez(path + ".tmp.npz", steps=steps, **arrays)
    os.replace(path + ".tmp.npz", path)  # a rank killed mid-save leaves the last good one


def say(rank, message):
    sys.stderr.write(f"[rank {rank}] {message}\n")
    sys.stderr.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=float, default=None)
    args = parser.parse_args()
    mode = args.mode
    dist.init(timeout=args.timeout)
    rank = dist.rank()
    model = TinyMLP(dtype=gg.float64, seed=rank)  # DDP broadcasts rank 0's
    if mode == "frozen" and rank == 1:
        model.w2.requires_grad = False
    cap = 1.0 if mode == "bucket_cap" and rank == 1 else CAP_MB
    check_every = 1 if mode.startswith("join") else None
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=cap, check_every=check_every)
    opt = make_optimizer(model)

    if mode.startswith("join"):
        run_join(ddp, model, opt, rank, mode, args.out)
        return
    count = 5 if mode.startswith("extra") and rank == 0 else 4
    steps = 0
    for k, (x, y) in enumerate(batches(rank, count)):
        faulty = rank == 1 and k == 2
        loss_fn = mlp_loss
        if faulty and mode in ("skip", "lost_step"):
            error = ValueError("rank 1 fails in step 3") if mode == "skip" else Interrupt()
            loss_fn = _raising(error)
        if faulty and mode == "skip_in_backward":
            model.w1.register_hook(_raise_once(ValueError("rank 1 fails in backward")))
        if faulty and mode == "frozen_later":
            model.w2.requires_grad = False
        if mode == "stall" and rank == 1 and k == 1:
            time.sleep(10)
        opt.zero_grad()
        try:
            ddp.forward_backward(loss_fn, x, y)
        except (Exception, Interrupt) as exc:
            if not (faulty and mode in ("skip", "skip_in_backward", "lost_step")):
                raise
            say(rank, f"step 3 raised {type(exc).__name__} {exc} (caught; skipping the step)")
            continue
        opt.step()
        steps += 1
        save(args.out, rank, model, steps)
    if mode == "extra_check":
        ddp.check_replicas()
    if mode == "extra_barrier":
        dist.barrier()


def run_join(ddp, model, opt, rank, mode, out):
    steps = 0
    if mode == "join_one_sided" and rank == 1:
        loop = _NullContext()
    else:
        loop = ddp.join(divide_by_initial_world_size=mode != "join_nodiv",
                        throw_on_early_termination=mode == "join_throw")
    with loop:
        for x, y in batches(rank, JOIN_BATCHES[rank]):
            opt.zero_grad()
            ddp.forward_backward(mlp_loss, x, y)
            opt.step()
            steps += 1
            save(out, rank, model, steps)
    ddp.check_replicas()  # join() ends with every rank holding the last joiner's replica
    save(out, rank, model, steps)


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _raising(error):
    def loss_fn(model, x, y):
        raise error
    return loss_fn


def _raise_once(error):
    state = {"raised": False}

    def hook(grad):
        if not state["raised"]:
            state["raised"] = True
            raise error
        return None
    return hook


if __name__ == "__main__":
    main()
