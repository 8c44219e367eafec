"""Per-op overhead on tiny tensors: a 2000-op chain of mul, add, tanh, forward + backward.

Prints microseconds per op for gpugrad, for the same chain in raw NumPy (forward only: the
floor of any NumPy-backed library), and for PyTorch CPU when it is installed, measured side
by side in one run (medians of interleaved repeats), plus the gpugrad / PyTorch ratio, the
same time split into forward and backward (the backward includes freeing the graph), and
the share of gpugrad's time spent in Python's cyclic garbage collector (which graph
building triggers by allocating many objects; PyTorch's graph lives in C++; gpugrad raises
the young-generation threshold while a graph is alive, see gpugrad/autograd/function.py).
gpugrad's backward runs these ops' array formulas (``backward_arrays``, see
gpugrad/autograd/engine.py).

    python benchmarks/overhead.py [--ops 2000] [--repeats 15]
"""
import argparse
import gc
import statistics
import time

import numpy as np

import gpugrad as gg


def chain(x, c, n, tanh):
    """n ops cycling through mul, add, tanh; the same code drives every library."""
    y = x
    for i in range(n):
        k = i % 3
        if k == 0:
            y = y * c
        elif k == 1:
            y = y + c
        else:
            y = tanh(y)
    return y


def gpugrad_step(n):
    """One forward and backward; returns the seconds the forward took."""
    x = gg.tensor(np.full(4, 0.5, np.float32), requires_grad=True)
    c = gg.tensor(np.full(4, 0.9, np.float32))
    start = time.perf_counter()
    loss = chain(x, c, n, gg.tanh).sum()
    forward = time.perf_counter() - start
    loss.backward()
    return forward


def numpy_step(n):
    x = np.full(4, 0.5, np.float32)
    c = np.full(4, 0.9, np.float32)
    chain(x, c, n, np.tanh).sum()


def torch_step(torch, n):
    x = torch.full((4,), 0.5, requires_grad=True)
    c = torch.full((4,), 0.9)
    start = time.perf_counter()
    loss = chain(x, c, n, torch.tanh).sum()
    forward = time.perf_counter() - start
    loss.backward()
    return forward


def timed(fn):
    """(seconds fn took, seconds of its forward or None) for a step function."""
    t = time.perf_counter()
    forward = fn()
    return time.perf_counter() - t, forward


class GcClock:
    """Seconds spent in the cyclic garbage collector, from ``gc.callbacks``."""

    def __init__(self):
        self.total, self._start = 0.0, None
        gc.callbacks.append(self._callback)

    def _callback(self, phase, info):
        if phase == "start":
            self._start = time.perf_counter()
        elif self._start is not None:
            self.total += time.perf_counter() - self._start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    runners = {"gpugrad fwd+bwd": lambda: gpugrad_step(args.ops),
               "numpy fwd only": lambda: numpy_step(args.ops)}
    try:
        import torch
        torch.set_num_threads(1)
        runners["pytorch fwd+bwd"] = lambda: torch_step(torch, args.ops)
    except ImportError:
        print("PyTorch not installed: comparing against NumPy only")
    for fn in runners.values():
        fn()  # warm up
    times = {name: [] for name in runners}
    forwards = {name: [] for name in runners}
    clock, gc_seconds = GcClock(), []
    for _ in range(args.repeats):
        for name, fn in runners.items():  # interleaved, so drift hits every library alike
            before = clock.total
            total, forward = timed(fn)
            times[name].append(total)
            forwards[name].append(forward)
            if name == "gpugrad fwd+bwd":
                gc_seconds.append(clock.total - before)
    per_op = {name: statistics.median(t) / args.ops * 1e6 for name, t in times.items()}
    print(f"{'library':<18}{'us/op':>10}")
    for name, us in per_op.items():
        print(f"{name:<18}{us:>10.2f}")
    split = []
    for name in ("gpugrad fwd+bwd", "pytorch fwd+bwd"):
        if name in per_op:
            fwd = statistics.median(forwards[name]) / args.ops * 1e6
            bwd = statistics.median(t - f for t, f in zip(times[name], forwards[name]))
            split.append(f"{name.split()[0]} {fwd:.2f} / {bwd / args.ops * 1e6:.2f}")
    print(f"forward / backward us/op: {', '.join(split)}")
    share = sum(gc_seconds) / sum(times["gpugrad fwd+bwd"])
    print(f"cyclic GC: {share:.0%} of gpugrad's time")
    if "pytorch fwd+bwd" in per_op:
        ratio = per_op["gpugrad fwd+bwd"] / per_op["pytorch fwd+bwd"]
        print(f"gpugrad / pytorch: {ratio:.2f}x (target <= 1.0x)")


if __name__ == "__main__":
    main()
