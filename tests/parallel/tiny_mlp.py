"""A tiny two-layer MLP made of bare Parameters, so the data-parallel tests depend only on
the core (not on gpugrad.nn), plus the loss they train it with."""
import numpy as np

import gpugrad as gg


class TinyMLP:
    """``relu(x @ w1 + b1) @ w2 + b2`` with the module methods DataParallel uses."""

    def __init__(self, n_in=5, n_hidden=7, n_out=3, dtype=gg.float32, seed=0, device="cpu"):
        rng = np.random.default_rng(seed)

        def param(*shape):
            values = rng.normal(scale=0.5, size=shape)
            return gg.nn.Parameter(gg.tensor(values, dtype=dtype, device=device))

        self.w1, self.b1 = param(n_in, n_hidden), param(n_hidden)
        self.w2, self.b2 = param(n_hidden, n_out), param(n_out)

    def named_parameters(self):
        return [("w1", self.w1), ("b1", self.b1), ("w2", self.w2), ("b2", self.b2)]

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def __call__(self, x):
        return (x @ self.w1 + self.b1).relu() @ self.w2 + self.b2


def cross_entropy(logits, target):
    """Mean cross-entropy, written with core ops (log-sum-exp minus the picked logit)."""
    rows = gg.arange(len(target), device=logits.device)
    return (logits.logsumexp(1) - logits[rows, target]).mean()


def mlp_loss(model, x, y):
    return cross_entropy(model(x), y)


def make_batches(sizes, n_in=5, n_out=3, dtype=gg.float32, seed=1):
    rng = np.random.default_rng(seed)
    return [(gg.tensor(rng.normal(size=(n, n_in)), dtype=dtype),
             gg.tensor(rng.integers(0, n_out, size=n))) for n in sizes]
