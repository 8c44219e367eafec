"""The digits MLP trained with DistributedDataParallel: one process per device.

    mpiexec -n 2 python examples/train_ddp.py --epochs 20

Each rank takes its share of every global batch (per-rank batch x ranks), gradients are
averaged over the ranks (MPI on the CPU, NCCL between GPUs), and every rank applies the same
update, so the replicas stay identical (checked every 50 steps). Rank 0 reports.
"""
import argparse

import gpugrad as gg
import gpugrad.distributed as dist
import gpugrad.nn.functional as F
from digits_common import load_digits_tensors, make_mlp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def loss_fn(model, x, y):
    return F.cross_entropy(model(x), y)


def accuracy(model, x, y):
    with gg.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main(argv=None):
    args = parse_args(argv)
    rank, world = dist.rank(), dist.world_size()
    device = dist.local_device()
    gg.manual_seed(args.seed + rank)  # different inits on purpose: DDP broadcasts rank 0's
    (x_train, y_train), (x_val, y_val) = load_digits_tensors(seed=args.seed)
    model = make_mlp().to(device)
    ddp = dist.DistributedDataParallel(model, check_every=50)
    optimizer = gg.optim.Adam(model.parameters(), lr=args.lr)
    # Every rank iterates the same global batches (same seed) and keeps its own share.
    loader = gg.data.DataLoader(gg.data.TensorDataset(x_train, y_train),
                                batch_size=args.batch_size * world, shuffle=True, seed=args.seed)
    if rank == 0:
        print(f"{world} ranks, device {device} each, global batch {args.batch_size * world}")
    for epoch in range(args.epochs):
        total, seen = 0.0, 0
        for x, y in loader:
            start, stop = gg.parallel.shard_bounds(gg.parallel.split_sizes(len(x), world))[rank]
            optimizer.zero_grad()
            loss = ddp.forward_backward(loss_fn, x[start:stop].to(device),
                                        y[start:stop].to(device))
            optimizer.step()
            total, seen = total + loss.item() * len(x), seen + len(x)
        if rank == 0:
            val = accuracy(model, x_val.to(device), y_val.to(device))
            print(f"epoch {epoch + 1}/{args.epochs}  loss {total / seen:.4f}  "
                  f"val accuracy {100 * val:.2f}%", flush=True)
    ddp.check_replicas()
    if rank == 0:
        val = accuracy(model, x_val.to(device), y_val.to(device))
        print(f"final validation accuracy: {100 * val:.2f}%")


if __name__ == "__main__":
    dist.run(main)
