"""One training step (forward, backward, SGD) of an MLP 784-512-512-10, float32.

Compares gpugrad with a hand-written NumPy forward/backward (the floor for any NumPy-backed
library) and with PyTorch CPU when installed, at batch 128 and 1024: interleaved repeats,
medians, ratios from the same run. Peak memory is each library's peak resident-set growth
over its own steps, measured in a fresh child process.

    python benchmarks/mlp.py [--repeats 30]

Targets: gpugrad <= 1.15x hand NumPy at batch 128, <= 1.10x PyTorch at batch 1024, and
peak memory not above PyTorch's.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _blas  # noqa: E402

_blas.clean_environment()  # before NumPy loads: see benchmarks/_blas.py

import numpy as np  # noqa: E402

SIZES = (784, 512, 512, 10)
LR = 0.01


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1 / np.sqrt(fan_in)
        layers.append((rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
                       rng.uniform(-bound, bound, fan_out).astype(np.float32)))
    return layers


def _batch(n, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, SIZES[0])).astype(np.float32),
            rng.integers(0, SIZES[-1], n))


class HandNumpy:
    """The same network with forward and backward written out by hand."""

    def __init__(self):
        self.layers = [(w.copy(), b.copy()) for w, b in _weights()]

    def step(self, x, y):
        acts, pre = [x], []
        for i, (w, b) in enumerate(self.layers):
            h = acts[-1] @ w.T
            h += b
            pre.append(h)
            acts.append(np.maximum(h, 0) if i < len(self.layers) - 1 else h)
        logits = acts[-1]
        shifted = logits - logits.max(1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(1, keepdims=True)
        n = len(y)
        loss = -np.log(probs[np.arange(n), y]).mean()
        grad = probs
        grad[np.arange(n), y] -= 1
        grad /= n
        for i in reversed(range(len(self.layers))):
            w, b = self.layers[i]
            gw, gb = grad.T @ acts[i], grad.sum(0)
            if i:
                grad = (grad @ w) * (pre[i - 1] > 0)
            w -= LR * gw
            b -= LR * gb
        return float(loss)


class Gpugrad:
    def __init__(self):
        import gpugrad as gg
        import gpugrad.nn as nn
        import gpugrad.nn.functional as F
        self.gg, self.F = gg, F
        linears = [nn.Linear(i, o) for i, o in zip(SIZES[:-1], SIZES[1:])]
        with gg.no_grad():
            for lin, (w, b) in zip(linears, _weights()):
                lin.weight.data[...] = w
                lin.bias.data[...] = b
        self.model = nn.Sequential(linears[0], nn.ReLU(), linears[1], nn.ReLU(), linears[2])
        self.opt = gg.optim.SGD(self.model.parameters(), lr=LR)

    def step(self, x, y):
        self.opt.zero_grad()
        loss = self.F.cross_entropy(self.model(self.gg.from_numpy(x)), self.gg.from_numpy(y))
        loss.backward()
        self.opt.step()
        return loss.item()


class Torch:
    def __init__(self):
        import torch
        self.torch = torch
        linears = [torch.nn.Linear(i, o) for i, o in zip(SIZES[:-1], SIZES[1:])]
        with torch.no_grad():
            for lin, (w, b) in zip(linears, _weights()):
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
        self.model = torch.nn.Sequential(linears[0], torch.nn.ReLU(), linears[1],
                                         torch.nn.ReLU(), linears[2])
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)

    def step(self, x, y):
        self.opt.zero_grad()
        loss = self.torch.nn.functional.cross_entropy(
            self.model(self.torch.from_numpy(x)), self.torch.from_numpy(y))
        loss.backward()
        self.opt.step()
        return loss.item()


LIBRARIES = {"numpy (hand)": HandNumpy, "gpugrad": Gpugrad, "pytorch": Torch}


def _available():
    libs = dict(LIBRARIES)
    try:
        import torch  # noqa: F401
    except ImportError:
        del libs["pytorch"]
    return libs


def _time_steps(libs, batch, repeats):
    x, y = _batch(batch)
    runners = {name: cls() for name, cls in libs.items()}
    losses = {name: r.step(x, y) for name, r in runners.items()}  # warm-up, and a check
    first = next(iter(losses.values()))
    assert all(abs(v - first) < 1e-4 for v in losses.values()), losses
    times = {name: [] for name in runners}
    for _ in range(repeats):
        for name, runner in runners.items():
            t = time.perf_counter()
            runner.step(x, y)
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _peak_memory_child(name, batch):
    """Run in a child: peak resident-set growth (MiB) over 10 steps, measured from after
    one warm-up step: what a step holds at its peak beyond the gradients and optimizer state
    already there, without one-time costs (imports; Numba compiling gpugrad's CPU loops
    takes ~110 MiB of LLVM once per process).

    A thread samples the current RSS every 0.2 ms: the lifetime peak (``ru_maxrss``) would
    be dominated by imports, and PyTorch's CPU allocations are invisible to tracemalloc.
    """
    import threading
    x, y = _batch(batch)
    runner = LIBRARIES[name]()
    runner.step(x, y)
    base = peak = _rss_bytes()
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_bytes())
            time.sleep(0.0002)
    sampler = threading.Thread(target=sample)
    sampler.start()
    for _ in range(10):
        runner.step(x, y)
    done.set()
    sampler.join()
    print((peak - base) / 2**20)


def _peak_memory(name, batch):
    out = subprocess.run([sys.executable, __file__, "--memory-child", name, str(batch)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--memory-child", nargs=2, metavar=("LIBRARY", "BATCH"))
    args = parser.parse_args()
    if args.memory_child:
        _peak_memory_child(args.memory_child[0], int(args.memory_child[1]))
        return
    libs = _available()
    print(_blas.describe())
    for batch in (128, 1024):
        ms = _time_steps(libs, batch, args.repeats)
        print(f"\nbatch {batch}: median ms per step (peak RSS growth, MiB)")
        for name, t in ms.items():
            print(f"  {name:<14}{t:>9.2f} ms   {_peak_memory(name, batch):>7.1f} MiB")
        print(f"  gpugrad / hand numpy: {ms['gpugrad'] / ms['numpy (hand)']:.2f}x")
        if "pytorch" in ms:
            print(f"  gpugrad / pytorch:    {ms['gpugrad'] / ms['pytorch']:.2f}x")


if __name__ == "__main__":
    main()
