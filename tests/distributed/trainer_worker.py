"""Run under ``mpiexec -n 2`` by the tests: ``Trainer`` picks DistributedDataParallel by
itself; rank 0 writes the history and parameters to ``--out``."""
import argparse

import numpy as np

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F


def blobs(n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = np.eye(3, 4)[y] * 3.0 + rng.normal(scale=0.7, size=(n, 4))
    return gg.tensor(x.astype(np.float32)), gg.tensor(y)


def make_trainer(devices, checkpoint_dir=None):
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = gg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    callbacks = [gg.train.ModelCheckpoint(checkpoint_dir, every=1)] if checkpoint_dir else []
    return gg.train.Trainer(model, opt, F.cross_entropy, devices=devices, seed=0,
                            progress=False, callbacks=callbacks, check_every=5)


def fit(trainer):
    # 90 examples, 2 x 16 per step: the last step has 26, split 13 + 13.
    return trainer.fit(blobs(), epochs=3, batch_size=16, val_data=blobs(31, seed=1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--checkpoints", required=True)
    args = parser.parse_args()
    trainer = make_trainer(None, args.checkpoints)
    history = fit(trainer)
    if trainer.is_main_process:
        arrays = {f"param{i}": p.numpy() for i, p in enumerate(trainer.model.parameters())}
        np.savez(args.out, batch_loss=history["batch_loss"], val_loss=history["val_loss"],
                 val_accuracy=history["val_accuracy"], accuracy=history["accuracy"],
                 replicas=trainer.engine.replicas, **arrays)


if __name__ == "__main__":
    import gpugrad.distributed as dist
    dist.run(main)
