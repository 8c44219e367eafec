"""Data-parallel weak scaling on the CPU: throughput at a fixed per-replica batch for
1 vs 2 replicas in one process (DataParallel threads) and 1 vs 2 MPI ranks
(DistributedDataParallel, launched with the venv's mpiexec), plus the time spent reducing
gradients per step.

    python benchmarks/data_parallel.py                  # MLP 784-512-512-10, batch 256
    python benchmarks/data_parallel.py --steps 50 --blas-threads 1

Weak-scaling efficiency = throughput(k replicas) / (k x throughput(1 replica)). Each
replica or rank gets ``--blas-threads`` BLAS threads (default 1: one core each, so two of
them fill a two-core machine without oversubscribing it).
"""
import argparse
import json
import os
import subprocess
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=256, help="per replica / per rank")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round")
    parser.add_argument("--repeats", type=int, default=5, help="rounds; the fastest counts")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--blas-threads", type=int, default=1)
    parser.add_argument("--bucket-mb", type=float, default=25.0, help="DDP bucket size")
    parser.add_argument("--skip-mpi", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


ARGS = parse_args()
# BLAS reads its settings when NumPy loads: set them before any import of NumPy.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _blas  # noqa: E402

_blas.clean_environment(ARGS.blas_threads)

import numpy as np  # noqa: E402

import gpugrad as gg  # noqa: E402
import gpugrad.nn as nn  # noqa: E402
import gpugrad.nn.functional as F  # noqa: E402


def build_model():
    gg.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 10))


def synthetic_batch(n, seed=0):
    rng = np.random.default_rng(seed)
    x = gg.tensor(rng.normal(size=(n, 784)).astype(np.float32))
    y = gg.tensor(rng.integers(0, 10, size=n))
    return x, y


def loss_fn(model, x, y):
    return F.cross_entropy(model(x), y)


def timed(step, args):
    """Seconds per step and reduce seconds per step, from the fastest of ``--repeats``
    rounds of ``--steps`` steps (the least disturbed by other work on the machine)."""
    return best_rounds({"only": step}, args)["only"]


def best_rounds(steps, args):
    """``{name: (seconds per step, reduce seconds per step)}`` for several step functions,
    timed in interleaved rounds so that a busy moment on the machine hits all of them."""
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    best = {}
    for _ in range(args.repeats):
        for name, step in steps.items():
            reduce = 0.0
            started = time.perf_counter()
            for _ in range(args.steps):
                reduce += step()
            result = ((time.perf_counter() - started) / args.steps, reduce / args.steps)
            if name not in best or result[0] < best[name][0]:
                best[name] = result
    return best


def plain_step(args):
    model = build_model()
    opt = gg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = synthetic_batch(args.batch)

    def step():
        opt.zero_grad()
        loss_fn(model, x, y).backward()
        opt.step()
        return 0.0
    return step


def threads_step(args, replicas):
    model = build_model()
    opt = gg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    dp = gg.parallel.DataParallel(model, devices=["cpu"] * replicas)
    x, y = synthetic_batch(args.batch * replicas)

    def step():
        opt.zero_grad()
        dp.forward_backward(loss_fn, x, y)
        opt.step()
        return dp.last_reduce_seconds
    return step


def mpi_worker(args):
    """Run inside mpiexec: DDP steps on this rank's batch; rank 0 prints a JSON line."""
    import gpugrad.distributed as dist
    dist.init()
    model = build_model()
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=args.bucket_mb)
    opt = gg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = synthetic_batch(args.batch, seed=dist.rank())

    def step():
        opt.zero_grad()
        ddp.forward_backward(loss_fn, x, y)
        opt.step()
        return ddp.last_reduce_seconds
    dist.barrier()
    seconds, reduce = timed(step, args)
    if dist.rank() == 0:
        print(json.dumps({"seconds": seconds, "reduce": reduce}), flush=True)


def bench_mpi(args, ranks):
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    cmd = [mpiexec, "-n", str(ranks), sys.executable, os.path.abspath(__file__), "--worker",
           "--batch", str(args.batch), "--steps", str(args.steps), "--repeats",
           str(args.repeats), "--bucket-mb", str(args.bucket_mb), "--warmup",
           str(args.warmup), "--blas-threads", str(args.blas_threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"mpiexec failed ({proc.returncode}):\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["seconds"], result["reduce"]


def row(name, replicas, batch, seconds, reduce, base=None):
    throughput = replicas * batch / seconds
    efficiency = "" if base is None else f"{100 * throughput / (replicas * base):.0f}%"
    print(f"{name:<28}{replicas:>8}{throughput:>13.0f}{1000 * seconds:>10.1f}"
          f"{1000 * reduce:>16.2f}{efficiency:>12}", flush=True)
    return throughput


def main(args):
    print(f"MLP 784-512-512-10 float32, {args.batch} examples per replica/rank, best of "
          f"{args.repeats} x {args.steps} steps, {args.blas_threads} BLAS thread(s) per "
          f"replica/rank, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(_blas.describe())
    print(f"{'configuration':<28}{'replicas':>8}{'examples/s':>13}{'ms/step':>10}"
          f"{'reduce ms/step':>16}{'efficiency':>12}")
    results = best_rounds({"plain": plain_step(args), "dp1": threads_step(args, 1),
                           "dp2": threads_step(args, 2)}, args)
    single = row("1 CPU replica (plain)", 1, args.batch, *results["plain"])
    row("1 CPU replica (DataParallel)", 1, args.batch, *results["dp1"], base=single)
    row("2 CPU replicas (threads)", 2, args.batch, *results["dp2"], base=single)
    if args.skip_mpi:
        return
    one_rank = row("1 MPI rank", 1, args.batch, *bench_mpi(args, 1))
    row("2 MPI ranks", 2, args.batch, *bench_mpi(args, 2), base=one_rank)


if __name__ == "__main__":
    if ARGS.worker:
        mpi_worker(ARGS)
    else:
        main(ARGS)
