"""Collaborative filtering: user and item embeddings plus biases, fitted to a synthetic
low-rank ratings matrix, with sparse gradients (only the rows a batch touches are updated).

    python examples/collab_filter.py --epochs 20

Prediction = global mean + user bias + item bias + <user vector, item vector>. The embeddings
use ``sparse=True`` and ``SparseAdam`` updates just the rows of the users and items in each
batch. Reports test RMSE against the global-mean baseline.
"""
import argparse
import math

import numpy as np

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--rank", type=int, default=4, help="rank of the true ratings")
    parser.add_argument("--dim", type=int, default=8, help="embedding size")
    parser.add_argument("--density", type=float, default=0.15, help="fraction rated")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def synthetic_ratings(users, items, rank, density, seed):
    """Observed (user, item, rating) triples of a low-rank matrix plus biases and noise."""
    rng = np.random.default_rng(seed)
    u = rng.normal(scale=0.8, size=(users, rank))
    v = rng.normal(scale=0.8, size=(items, rank))
    scores = 3.5 + u @ v.T / math.sqrt(rank) + rng.normal(scale=0.5, size=(users, 1)) \
        + rng.normal(scale=0.5, size=(1, items))
    observed = rng.random((users, items)) < density
    user_ids, item_ids = np.nonzero(observed)
    ratings = scores[observed] + rng.normal(scale=0.25, size=observed.sum())
    order = rng.permutation(len(ratings))
    return user_ids[order], item_ids[order], ratings[order].astype(np.float32)


class MatrixFactorization(nn.Module):
    def __init__(self, users, items, dim, global_mean):
        super().__init__()
        self.user = nn.Embedding(users, dim, sparse=True)
        self.item = nn.Embedding(items, dim, sparse=True)
        self.user_bias = nn.Embedding(users, 1, sparse=True)
        self.item_bias = nn.Embedding(items, 1, sparse=True)
        with gg.no_grad():
            # Small vectors and zero biases: start from the global-mean prediction.
            self.user.weight.mul_(0.1)
            self.item.weight.mul_(0.1)
            self.user_bias.weight.zero_()
            self.item_bias.weight.zero_()
        self.register_buffer("global_mean", gg.tensor(global_mean, dtype=gg.float32))

    def forward(self, users, items):
        dot = (self.user(users) * self.item(items)).sum(1)
        biases = self.user_bias(users).reshape(-1) + self.item_bias(items).reshape(-1)
        return self.global_mean + biases + dot


def rmse(model, users, items, ratings):
    with gg.no_grad():
        return math.sqrt(F.mse_loss(model(users, items), ratings).item())


def main(argv=None):
    args = parse_args(argv)
    gg.manual_seed(args.seed)
    user_ids, item_ids, ratings = synthetic_ratings(args.users, args.items, args.rank,
                                                    args.density, args.seed)
    n_test = len(ratings) // 5
    test = tuple(gg.tensor(a[:n_test]) for a in (user_ids, item_ids, ratings))
    train = tuple(gg.tensor(a[n_test:]) for a in (user_ids, item_ids, ratings))
    global_mean = float(ratings[n_test:].mean())
    baseline = math.sqrt(float(((ratings[:n_test] - global_mean) ** 2).mean()))

    model = MatrixFactorization(args.users, args.items, args.dim, global_mean)
    optimizer = gg.optim.SparseAdam(list(model.parameters()), lr=args.lr)
    trainer = gg.train.Trainer(model, optimizer, F.mse_loss, seed=args.seed,
                               progress=not args.no_progress)
    print(f"{len(ratings)} ratings of {args.users} users x {args.items} items "
          f"({100 * args.density:.0f}% observed)")
    trainer.fit(train, epochs=args.epochs, batch_size=args.batch_size)
    test_rmse = rmse(model, *test)
    print(f"test RMSE {test_rmse:.4f}  vs global-mean baseline {baseline:.4f} "
          f"({100 * (1 - test_rmse / baseline):.0f}% lower)")
    return test_rmse, baseline


if __name__ == "__main__":
    main()
