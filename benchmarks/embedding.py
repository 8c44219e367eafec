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
tune OpenBLAS away from how users run it) and limits BLAS and PyTorch to ``--threads``
threads (1 by default); see benchmarks/_blas.py.

    python benchmarks/embedding.py [--steps 5] [--rounds 11] [--threads 1] [--quick]
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _blas  # noqa: E402
import _versus  # noqa: E402


def parse_args(argv=None):
    return _versus.parse(_versus.argument_parser(__doc__, "step"), "step", argv)


ARGS = parse_args() if __name__ == "__main__" else None
# BLAS reads its settings when NumPy loads: set them before any import of NumPy.
_blas.clean_environment(ARGS.threads if ARGS is not None else None)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gpugrad  # noqa: E402

USERS, ITEMS, DIM, BATCH = 10_000, 20_000, 64, 4096
CONFIGS = [("dense", "SGD"), ("sparse", "SGD"), ("dense", "Adam"), ("sparse", "SparseAdam")]


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


def run_config(config, libs, args):
    """Warm up, then time each library's steps in alternating rounds; report them."""
    sparse, optimizer = config
    batches = _batches(4)
    trainers = {name: Trainer(lib, sparse == "sparse", optimizer, batches)
                for name, lib in libs.items()}
    first = {name: t.step() for name, t in trainers.items()}  # same start: same loss
    for t in trainers.values():
        for _ in range(args.warmup - 1):
            t.step()
    per_step = _versus.alternate({name: t.step for name, t in trainers.items()},
                                 args.rounds, args.steps)
    _versus.report(f"{sparse} gradients, {optimizer}", "first-step loss", first, per_step,
                   "step")
    return {name: statistics.median(ms) for name, ms in per_step.items()}


def main():
    args = ARGS or parse_args()
    libs = _versus.start(gpugrad, args.threads)
    print(f"numpy {np.__version__}; users {USERS}, items {ITEMS}, dim {DIM}, batch {BATCH}; "
          f"{args.warmup} warm-up steps, {args.rounds} rounds x {args.steps} steps")
    medians = {config: run_config(config, libs, args) for config in CONFIGS}
    print()
    for dense_opt, sparse_opt in (("SGD", "SGD"), ("Adam", "SparseAdam")):
        for name in libs:
            ratio = medians["sparse", sparse_opt][name] / medians["dense", dense_opt][name]
            print(f"{name} sparse {sparse_opt} / dense {dense_opt}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
