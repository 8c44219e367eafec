"""Run under ``mpiexec -n 2`` by test_ddp_sync.py: what the ranks must agree on besides the
gradients. Rank 0 writes its results to ``--out``.

* ``bn_*``: DistributedDataParallel on a model with BatchNorm, replicas checked every step
  (``check_every=1``): the running statistics must not count as divergence.
* ``acc_*``: the same with gradient accumulation: each step's first micro-batch under
  ``no_sync``, where every rank updates its own running statistics.
* ``trainer_*``: ``Trainer`` with no ``seed`` on ranks whose generators were seeded
  differently: every rank must still cut its share out of the same shuffled global batches.
"""
import argparse
import contextlib

import numpy as np

import gpugrad as gg
import gpugrad.distributed as dist
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.parallel import shard_bounds, split_sizes

BN_SIZES = [16, 15, 8, 9]


def bn_model(seed):
    gg.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(),
                         nn.Linear(8, 3)).to(gg.float64)


def bn_batches():
    rng = np.random.default_rng(1)
    return [(gg.tensor(rng.normal(size=(n, 5))), gg.tensor(rng.integers(0, 3, size=n)))
            for n in BN_SIZES]


def acc_batches():
    """Batches of two equal micro-batches that split evenly over two ranks."""
    return [batch for batch in bn_batches() if len(batch[0]) % 4 == 0]


def micro_batches(x, y):
    half = len(x) // 2
    return [(x[:half], y[:half]), (x[half:], y[half:])]


def bn_loss(model, x, y):
    return F.cross_entropy(model(x), y)


def blobs(n=60):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=n)
    x = np.eye(3, 4)[y] * 2.0 + rng.normal(scale=0.7, size=(n, 4))
    return gg.tensor(x), gg.tensor(y)


def trainer_model():
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).to(gg.float64)


def make_trainer(seed, devices=None):
    """A Trainer with no ``seed`` of its own: its loader's seed comes from the generator."""
    gg.manual_seed(seed)
    model = trainer_model()
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    return gg.train.Trainer(model, opt, F.cross_entropy, devices=devices, progress=False)


def state_arrays(prefix, module):
    return {f"{prefix}{name}": t.numpy() for name, t in module.state_dict().items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    dist.init()
    rank, world = dist.rank(), dist.world_size()
    results = {}

    model = bn_model(seed=rank)  # different inits: construction broadcasts rank 0's
    ddp = dist.DistributedDataParallel(model, check_every=1)
    opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in bn_batches():
        start, stop = shard_bounds(split_sizes(len(x), world))[rank]
        opt.zero_grad()
        ddp.forward_backward(bn_loss, x[start:stop], y[start:stop])
        opt.step()
    ddp.check_replicas()
    results.update(state_arrays("bn_", model))

    model = bn_model(seed=rank)
    ddp = dist.DistributedDataParallel(model, check_every=1)
    opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in acc_batches():
        opt.zero_grad()
        for k, (xm, ym) in enumerate(micro_batches(x, y)):
            start, stop = shard_bounds(split_sizes(len(xm), world))[rank]
            with ddp.no_sync() if k == 0 else contextlib.nullcontext():
                ddp.forward_backward(bn_loss, xm[start:stop], ym[start:stop])
        opt.step()
    results.update(state_arrays("acc_", model))

    trainer = make_trainer(seed=100 + rank)  # generators differ; rank 0's is the reference's
    history = trainer.fit(blobs(), epochs=2, batch_size=8)
    results["trainer_batch_loss"] = np.array(history["batch_loss"])
    results.update(state_arrays("trainer_", trainer.model))

    if rank == 0:
        np.savez(args.out, **results)


if __name__ == "__main__":
    main()
