"""Training steps of two small language models, gpugrad against PyTorch CPU, float32.

Workloads (vocabulary 1000, batch 32, sequence 64, cross-entropy, AdamW):

* ``lstm``: Embedding(1000, 128), 2-layer ``nn.LSTM`` hidden 128 (batch_first), Linear decoder.
* ``transformer``: token + position embeddings (128), 2 pre-norm blocks of causal
  ``F.scaled_dot_product_attention`` (4 heads) and a GELU MLP (4x), final LayerNorm, Linear head.

Each model is written once as a function of the library module (``gpugrad`` or ``torch``) and
both libraries start from the same weights. After warm-up the libraries alternate, round by
round, each timing ``--steps`` steps per round; the script prints the median ms per step of
each library and the median of the per-round ratios gpugrad / PyTorch. Without PyTorch it
prints gpugrad's times only. A workload gpugrad fails on is reported and the next one runs.

This process unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE before NumPy loads (they would
tune OpenBLAS away from how users run it) and limits BLAS to ``--threads`` threads (1 by
default): through threadpoolctl when it is installed, else through the environment; PyTorch
gets ``torch.set_num_threads(--threads)``.

    python benchmarks/sequence.py [--steps 5] [--rounds 11] [--threads 1] [--quick]
"""
import argparse
import os
import statistics
import sys
import time
import traceback

for _name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_name, None)

VOCAB, EMBED, HIDDEN, LAYERS, HEADS, BATCH, SEQ = 1000, 128, 128, 2, 4, 32, 64
LR = 1e-3


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=11, help="alternating rounds")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per library")
    parser.add_argument("--threads", type=int, default=1, help="BLAS (and torch) threads")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 warm-up step, at most 2 steps and 2 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.steps, args.rounds = 1, min(args.steps, 2), min(args.rounds, 2)
    return args


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # Read by OpenBLAS/OpenMP when NumPy loads; the fallback when threadpoolctl is missing.
    for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_name] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gpugrad  # noqa: E402


def lstm_lm(lib):
    """Embedding -> 2-layer LSTM -> Linear, for ``lib`` = gpugrad or torch."""
    nn = lib.nn

    class LSTMLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.lstm = nn.LSTM(EMBED, HIDDEN, LAYERS, batch_first=True)
            self.decoder = nn.Linear(HIDDEN, VOCAB)

        def forward(self, tokens):
            out, _ = self.lstm(self.embed(tokens))
            return self.decoder(out)

    return LSTMLM()


def transformer_lm(lib):
    """A 2-block pre-norm GPT with causal attention, for ``lib`` = gpugrad or torch."""
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(EMBED)
            self.qkv = nn.Linear(EMBED, 3 * EMBED)
            self.proj = nn.Linear(EMBED, EMBED)
            self.ln2 = nn.LayerNorm(EMBED)
            self.fc = nn.Linear(EMBED, 4 * EMBED)
            self.fc_out = nn.Linear(4 * EMBED, EMBED)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
            q, k, v = (z.reshape(b, t, HEADS, c // HEADS).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
            return x + self.fc_out(F.gelu(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(VOCAB, EMBED)
            self.pos = nn.Embedding(SEQ, EMBED)
            self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
            self.ln_f = nn.LayerNorm(EMBED)
            self.head = nn.Linear(EMBED, VOCAB)

        def forward(self, tokens):
            positions = lib.arange(tokens.shape[1])
            x = self.tok(tokens) + self.pos(positions)
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    return GPT()


WORKLOADS = {"lstm": lstm_lm, "transformer": transformer_lm}


class Trainer:
    """One model, its AdamW and one fixed batch; ``step`` is forward, backward, update."""

    def __init__(self, lib, build, weights, tokens):
        self.lib = lib
        self.model = build(lib)
        with lib.no_grad():
            for name, p in self.model.named_parameters():
                p.copy_(lib.from_numpy(weights[name]))
        self.opt = lib.optim.AdamW(self.model.parameters(), lr=LR)
        self.x = lib.from_numpy(np.ascontiguousarray(tokens[:, :-1]))
        self.y = lib.from_numpy(np.ascontiguousarray(tokens[:, 1:]))

    def step(self):
        self.opt.zero_grad()
        logits = self.model(self.x)
        loss = self.lib.nn.functional.cross_entropy(logits.reshape(-1, VOCAB),
                                                    self.y.reshape(-1))
        loss.backward()
        self.opt.step()
        return loss.item()


def shared_weights(build, seed=0):
    """The weights gpugrad initialises ``build``'s model with, as NumPy arrays by name."""
    gpugrad.manual_seed(seed)
    return {name: p.detach().numpy().copy()
            for name, p in build(gpugrad).named_parameters()}


def run_workload(name, libs, args):
    build = WORKLOADS[name]
    tokens = np.random.default_rng(1).integers(0, VOCAB, (BATCH, SEQ + 1)).astype(np.int64)
    weights = shared_weights(build)
    trainers = {lib_name: Trainer(lib, build, weights, tokens) for lib_name, lib in libs.items()}
    first = {lib_name: t.step() for lib_name, t in trainers.items()}  # same start: same loss
    for t in trainers.values():
        for _ in range(args.warmup - 1):
            t.step()
    per_step = {lib_name: [] for lib_name in trainers}
    for r in range(args.rounds):
        # Alternate which library goes first, so drift and cache state hit both alike.
        order = list(trainers) if r % 2 == 0 else list(reversed(trainers))
        for lib_name in order:
            t = time.perf_counter()
            for _ in range(args.steps):
                trainers[lib_name].step()
            per_step[lib_name].append((time.perf_counter() - t) / args.steps * 1e3)
    return first, per_step


def report(name, first, per_step):
    print(f"\n{name}: first-step loss " +
          ", ".join(f"{lib_name} {loss:.4f}" for lib_name, loss in first.items()))
    for lib_name, ms in per_step.items():
        print(f"  {lib_name:<9}{statistics.median(ms):>9.2f} ms/step (median of {len(ms)} "
              f"rounds; min {min(ms):.2f}, max {max(ms):.2f})")
    if "pytorch" in per_step:
        ratios = [g / t for g, t in zip(per_step["gpugrad"], per_step["pytorch"])]
        print(f"  gpugrad / pytorch: {statistics.median(ratios):.2f}x median per-round ratio "
              f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")


def limit_threads(n):
    """Limit BLAS to ``n`` threads; returns a description of how, for the printout."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return f"BLAS threads {n} via OPENBLAS/OMP/MKL_NUM_THREADS (threadpoolctl missing)"
    threadpool_limits(limits=n, user_api="blas")
    return f"BLAS threads {n} via threadpoolctl (and OPENBLAS/OMP/MKL_NUM_THREADS)"


def main():
    args = ARGS or parse_args()
    threads = limit_threads(args.threads)
    libs = {"gpugrad": gpugrad}
    try:
        import torch
        torch.set_num_threads(args.threads)
        libs["pytorch"] = torch
        threads += f"; torch.set_num_threads({args.threads}), torch {torch.__version__}"
    except ImportError:
        threads += "; PyTorch not installed: gpugrad times only"
    print(f"{threads}; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in this process")
    print(f"numpy {np.__version__}; batch {BATCH}, seq {SEQ}, vocab {VOCAB}; "
          f"{args.warmup} warm-up steps, {args.rounds} rounds x {args.steps} steps")
    failed = False
    for name in WORKLOADS:
        try:
            first, per_step = run_workload(name, libs, args)
        except Exception:  # a workload gpugrad cannot run is a finding, not a crash
            failed = True
            print(f"\n{name}: FAILED\n{traceback.format_exc()}")
            continue
        report(name, first, per_step)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
