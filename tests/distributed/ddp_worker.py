"""Run under ``mpiexec -n 2`` by the tests: train the tiny MLP with DistributedDataParallel on
uneven shards of fixed global batches; rank 0 writes losses and parameters to ``--out``.

Modes: ``train`` (every step synced), ``accumulate`` (two micro-batches per step, the first
under ``no_sync``), ``diverge`` (rank 1 corrupts a parameter; ``check_every`` must catch it),
``fail`` (rank 1 raises mid-training; the job must abort, not hang).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parallel"))

import gpugrad as gg  # noqa: E402
import gpugrad.distributed as dist  # noqa: E402
from tiny_mlp import TinyMLP, make_batches, mlp_loss  # noqa: E402

OPTIMIZERS = {
    "sgd": lambda params: gg.optim.SGD(params, lr=0.1, momentum=0.9),
    "adam": lambda params: gg.optim.Adam(params, lr=0.01),
}


def uneven_bounds(n, rank, world):
    """Rank 0 takes about two thirds of a batch (all of a batch of one): shards stay uneven."""
    first = n if n < 2 else (2 * n + 2) // 3
    bounds = [(0, first)] + [(first, n)] * (world - 1)
    return bounds[rank]


def accumulation_bounds(n, rank, world):
    """Equal shards, each cut into two micro-batches: ``[(a, b), (c, d)]`` for ``rank``."""
    shard = n // world
    start = rank * shard
    half = shard // 2
    return [(start, start + half), (start + half, start + shard)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="train")
    parser.add_argument("--opt", default="sgd")
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--sizes", default="16,15,1,8")
    parser.add_argument("--device", default="cpu", help="cpu, or local (this rank's GPU)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    dist.init()
    rank, world = dist.rank(), dist.world_size()
    dtype = gg.float64 if args.dtype == "float64" else gg.float32
    sizes = [int(s) for s in args.sizes.split(",")]
    # Every rank starts from a different init: the broadcast must make them equal.
    device = dist.local_device() if args.device == "local" else "cpu"
    model = TinyMLP(dtype=dtype, seed=rank, device=device)
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=1e-4,
                                       check_every=1 if args.mode == "diverge" else None)
    opt = OPTIMIZERS[args.opt](model.parameters())
    losses = []
    for step, (x, y) in enumerate(make_batches(sizes, dtype=dtype)):
        x, y = x.to(device), y.to(device)
        if args.mode == "fail" and step == 1 and rank == 1:
            raise RuntimeError("rank 1 fails on purpose")
        if args.mode == "diverge" and step == 2 and rank == 1:
            with gg.no_grad():
                model.b2.add_(1e-3)
        opt.zero_grad()
        start, stop = uneven_bounds(len(x), rank, world)
        if args.mode == "accumulate":
            (a, b), (c, d) = accumulation_bounds(len(x), rank, world)
            with ddp.no_sync():
                ddp.forward_backward(mlp_loss, x[a:b], y[a:b])
            loss = ddp.forward_backward(mlp_loss, x[c:d], y[c:d])
        else:
            loss = ddp.forward_backward(mlp_loss, x[start:stop], y[start:stop])
        opt.step()
        losses.append(loss.item())
    if rank == 0:
        arrays = {name: p.cpu().numpy() for name, p in model.named_parameters()}
        np.savez(args.out, losses=np.array(losses), **arrays)


if __name__ == "__main__":
    main()
