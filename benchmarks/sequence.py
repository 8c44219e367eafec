"""Training steps of two small language models, gpugrad against PyTorch CPU, float32.

Workloads (vocabulary 1000, batch 32, sequence 64, cross-entropy, AdamW):

* ``lstm``: Embedding(1000, 128), 2-layer ``nn.LSTM`` hidden 128 (batch_first), Linear decoder.
* ``gru``: the same with a 2-layer ``nn.GRU`` in place of the LSTM.
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
gets ``torch.set_num_threads(--threads)``. It prints which BLAS NumPy uses.

    python benchmarks/sequence.py [--steps 5] [--rounds 11] [--threads 1] [--quick]
                                  [--only lstm,gru]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _blas  # noqa: E402
import _versus  # noqa: E402

VOCAB, EMBED, HIDDEN, LAYERS, HEADS, BATCH, SEQ = 1000, 128, 128, 2, 4, 32, 64
LR = 1e-3


def parse_args(argv=None):
    parser = _versus.argument_parser(__doc__, "step")
    parser.add_argument("--only", default=None,
                        help="comma-separated workloads to run (lstm, gru, transformer)")
    return _versus.parse(parser, "step", argv)


ARGS = parse_args() if __name__ == "__main__" else None
# BLAS reads its settings when NumPy loads: set them before any import of NumPy.
_blas.clean_environment(ARGS.threads if ARGS is not None else None)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gpugrad  # noqa: E402


def recurrent_lm(lib, kind="LSTM"):
    """Embedding -> 2-layer ``kind`` ("LSTM" or "GRU") -> Linear, for ``lib`` = gpugrad or
    torch."""
    nn = lib.nn

    class RecurrentLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.rnn = getattr(nn, kind)(EMBED, HIDDEN, LAYERS, batch_first=True)
            self.decoder = nn.Linear(HIDDEN, VOCAB)

        def forward(self, tokens):
            out, _ = self.rnn(self.embed(tokens))
            return self.decoder(out)

    return RecurrentLM()


def lstm_lm(lib):
    """Embedding -> 2-layer LSTM -> Linear."""
    return recurrent_lm(lib, "LSTM")


def gru_lm(lib):
    """Embedding -> 2-layer GRU -> Linear."""
    return recurrent_lm(lib, "GRU")


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


WORKLOADS = {"lstm": lstm_lm, "gru": gru_lm, "transformer": transformer_lm}


class Trainer:
    """One model, its AdamW and one fixed batch; ``step`` is forward, backward, update."""

    def __init__(self, lib, build, weights, tokens):
        self.lib = lib
        self.model = _versus.load_weights(lib, build(lib), weights)
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


def run_workload(name, libs, args):
    build = WORKLOADS[name]
    tokens = np.random.default_rng(1).integers(0, VOCAB, (BATCH, SEQ + 1)).astype(np.int64)
    weights = _versus.shared_weights(gpugrad, build)
    trainers = {lib_name: Trainer(lib, build, weights, tokens) for lib_name, lib in libs.items()}
    first = {lib_name: t.step() for lib_name, t in trainers.items()}  # same start: same loss
    for t in trainers.values():
        for _ in range(args.warmup - 1):
            t.step()
    per_step = _versus.alternate({lib_name: t.step for lib_name, t in trainers.items()},
                                 args.rounds, args.steps)
    return first, per_step


def report(name, first, per_step):
    _versus.report(name, "first-step loss", first, per_step, "step")


def main():
    args = ARGS or parse_args()
    libs = _versus.start(gpugrad, args.threads)
    print(f"numpy {np.__version__}; batch {BATCH}, seq {SEQ}, vocab {VOCAB}; "
          f"{args.warmup} warm-up steps, {args.rounds} rounds x {args.steps} steps")

    def run(name):
        report(name, *run_workload(name, libs, args))
    names = args.only.split(",") if args.only else list(WORKLOADS)
    sys.exit(_versus.run_each(names, run))


if __name__ == "__main__":
    main()
