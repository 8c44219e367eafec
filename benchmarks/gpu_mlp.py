"""An MLP training step on one GPU: gpugrad on CuPy vs PyTorch CUDA, side by side.

784-512-512-10 with ReLU, cross-entropy and Adam, batch 128 and 1024 (float32). Each round
times both libraries in alternation after a warm-up; the report gives medians of steps per
round and the per-round ratio gpugrad / PyTorch (below 1: gpugrad is faster). Prints one
line per batch size and a ``RESULT`` line per batch for scripts (benchmarks/gpu_check.sh).

    python benchmarks/gpu_mlp.py [--steps 50] [--rounds 7] [--device cuda:0]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
import gpugrad as gg  # noqa: E402
import gpugrad.nn.functional  # noqa: E402, F401  (gg.nn.functional, as torch.nn.functional)

SIZES = (784, 512, 512, 10)


def training_step(lib, device, batch, compiled=False):
    """One Adam step of the MLP, written once: ``lib`` is gpugrad or torch (same API);
    ``compiled``: gpugrad's step under ``gg.compile`` (replayed as one CUDA graph)."""
    nn = lib.nn
    model = nn.Sequential(nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(),
                          nn.Linear(SIZES[1], SIZES[2]), nn.ReLU(),
                          nn.Linear(SIZES[2], SIZES[3])).to(device)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    x = lib.randn(batch, SIZES[0], device=device)
    y = lib.randint(0, SIZES[-1], (batch,), device=device)

    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return (lib.compile(step) if compiled else step), lambda: lib.cuda.synchronize(device)


def timed(step, sync, steps):
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--device", default="cuda:0")
    args = parser.parse_args()
    if not gg.cuda.is_available():
        print("gpu_mlp: no CUDA device (gg.cuda.is_available() is False); nothing to time")
        return 2
    try:
        import torch
        has_torch_cuda = torch.cuda.is_available()
    except ImportError:
        torch, has_torch_cuda = None, False
    for batch in (128, 1024):
        ours = training_step(gg, args.device, batch)
        replayed = training_step(gg, args.device, batch, compiled=True)
        theirs = training_step(torch, args.device, batch) if has_torch_cuda else None
        for _ in range(5):  # warm-up: kernel compilation, memory pools, gg.compile's traces
            ours[0]()
            replayed[0]()
            if theirs:
                theirs[0]()
        ours_t, replayed_t, theirs_t = [], [], []
        for _ in range(args.rounds):
            ours_t.append(timed(*ours, args.steps))
            replayed_t.append(timed(*replayed, args.steps))
            if theirs:
                theirs_t.append(timed(*theirs, args.steps))
        c = statistics.median(replayed_t) * 1e3
        print(f"batch {batch:5d}: gpugrad compiled {c:7.3f} ms/step, eager/compiled "
              f"{statistics.median(np.divide(ours_t, replayed_t)):.2f}x, "
              f"{replayed[0].stats}")
        print(f"RESULT mlp_step_batch{batch}_compiled_ms {c:.3f}")
        g = statistics.median(ours_t) * 1e3
        if theirs:
            t = statistics.median(theirs_t) * 1e3
            ratio = statistics.median(np.divide(ours_t, theirs_t))
            print(f"batch {batch:5d}: gpugrad {g:7.3f} ms/step, PyTorch CUDA {t:7.3f} ms/step, "
                  f"ratio {ratio:.2f}x")
            print(f"RESULT mlp_step_batch{batch}_gpugrad_over_torch {ratio:.3f}")
        else:
            print(f"batch {batch:5d}: gpugrad {g:7.3f} ms/step (PyTorch CUDA not available)")
            print(f"RESULT mlp_step_batch{batch}_gpugrad_ms {g:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
