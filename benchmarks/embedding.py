"""Training steps of an embedding collaborative-filtering model, dense against sparse
gradients, gpugrad against PyTorch CPU, float32.

The model: user and item embeddings (10 000 users, 20 000 items, dim 64); a batch of 4096
(user, item, rating) triples predicts ``(user_vec * item_vec).sum(-1)`` with an MSE loss.
Four configurations per library: dense gradients with SGD and with Adam, sparse gradients
(``sparse=True``) with SGD and with SparseAdam (PyTorch's Adam takes no sparse gradients).
Both libraries start from the same weights and see the same batches. After warm-up the
libraries alternate, round by round; the script prints the median ms per step of each and
the median of the per-round ratios gpugrad / PyTorch, then gpugrad's sparse / dense ratio.

This process unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE before NumPy loads (they would
tune OpenBLAS away from how users run it) and limits BLAS to one thread (PyTorch too).

    python benchmarks/embedding.py [--steps 5] [--rounds 11] [--quick]
"""
import argparse
import os
import statistics
import sys
import time

for _name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_name, None)
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gpugrad  # noqa: E402

USERS, ITEMS, DIM, BATCH = 10_000, 20_000, 64, 4096
CONFIGS = [("dense", "SGD"), ("sparse", "SGD"), ("dense", "Adam"), ("sparse", "SparseAdam")]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=11, help="alternating rounds")
    parser.add_argument("--quick", action="store_true", help="smoke test: 2 steps, 2 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = min(args.steps, 2), min(args.rounds, 2)
    return args


def _weights():
    rng = np.random.default_rng(0)
    return (rng.normal(0, 0.1, (USERS, DIM)).astype(np.float32),
            rng.normal(0, 0.1, (ITEMS, DIM)).astype(np.float32))


def _batches(n):
    rng = np.random.default_rng(1)
    return [(rng.integers(0, USERS, BATCH), rng.integers(0, ITEMS, BATCH),
             rng.uniform(1, 5, BATCH).astype(np.float32)) for _ in range(n)]


class Trainer:
    """One library's model and optimizer; ``step`` runs the next batch (cycling)."""

    def __init__(self, lib, sparse, optimizer, batches):
        users, items = _weights()
        self.lib = lib
        self.user = lib.nn.Embedding(USERS, DIM, sparse=sparse)
        self.item = lib.nn.Embedding(ITEMS, DIM, sparse=sparse)
        with lib.no_grad():
            self.user.weight.copy_(lib.from_numpy(users))
            self.item.weight.copy_(lib.from_numpy(items))
        params = list(self.user.parameters()) + list(self.item.parameters())
        lr = 0.05 if optimizer == "SGD" else 1e-3
        self.opt = getattr(lib.optim, optimizer)(params, lr=lr)
        self.batches = [tuple(lib.from_numpy(a) for a in b) for b in batches]
        self.i = 0

    def step(self):
        u, v, rating = self.batches[self.i % len(self.batches)]
        self.i += 1
        self.opt.zero_grad()
        pred = (self.user(u) * self.item(v)).sum(-1)
        loss = ((pred - rating) ** 2).mean()
        loss.backward()
        self.opt.step()
        return loss.item()


def run_config(sparse, optimizer, libs, args):
    batches = _batches(4)
    trainers = {name: Trainer(lib, sparse == "sparse", optimizer, batches)
                for name, lib in libs.items()}
    first = {name: t.step() for name, t in trainers.items()}  # same start: same loss
    per_step = {name: [] for name in trainers}
    for r in range(args.rounds):
        order = list(trainers) if r % 2 == 0 else list(reversed(trainers))
        for name in order:
            t = time.perf_counter()
            for _ in range(args.steps):
                trainers[name].step()
            per_step[name].append((time.perf_counter() - t) / args.steps * 1e3)
    return first, per_step


def main():
    args = parse_args()
    libs = {"gpugrad": gpugrad}
    try:
        import torch
        torch.set_num_threads(1)
        libs["pytorch"] = torch
        note = f"torch {torch.__version__}, torch.set_num_threads(1)"
    except ImportError:
        note = "PyTorch not installed: gpugrad times only"
    print(f"BLAS threads 1 via OPENBLAS/OMP/MKL_NUM_THREADS; {note}; OPENBLAS_CORETYPE and "
          f"OPENBLAS_L2_SIZE unset in this process")
    print(f"numpy {np.__version__}; users {USERS}, items {ITEMS}, dim {DIM}, batch {BATCH}; "
          f"{args.rounds} rounds x {args.steps} steps")
    medians = {}
    for sparse, optimizer in CONFIGS:
        first, per_step = run_config(sparse, optimizer, libs, args)
        print(f"\n{sparse} gradients, {optimizer}: first-step loss " +
              ", ".join(f"{name} {loss:.5f}" for name, loss in first.items()))
        for name, ms in per_step.items():
            medians[name, sparse, optimizer] = statistics.median(ms)
            print(f"  {name:<9}{statistics.median(ms):>8.2f} ms/step (median of {len(ms)} "
                  f"rounds; min {min(ms):.2f}, max {max(ms):.2f})")
        if "pytorch" in per_step:
            ratios = [g / t for g, t in zip(per_step["gpugrad"], per_step["pytorch"])]
            print(f"  gpugrad / pytorch: {statistics.median(ratios):.2f}x median per-round "
                  f"ratio")
    print()
    for dense_opt, sparse_opt in (("SGD", "SGD"), ("Adam", "SparseAdam")):
        for name in libs:
            ratio = medians[name, "sparse", sparse_opt] / medians[name, "dense", dense_opt]
            print(f"{name} sparse {sparse_opt} / dense {dense_opt}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
