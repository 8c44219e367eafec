"""Forward vs reverse mode Jacobians: ``gg.func.jacfwd`` against ``gg.func.jacrev``.

    f: R -> R^m,  f(x) = sin(x w) + x^2 v     (one input, m outputs: forward mode wins)
    g: R^n -> R,  g(x) = sum(sin(x) x) + logsumexp(x)   (n inputs, one output: reverse wins)

jacfwd makes one forward pass (with tangents) per input element, jacrev one backward pass
per output element, so on f jacfwd does 1 pass where jacrev does m, and on g the reverse.
Prints median seconds over interleaved repeats, the speedup of the cheaper mode, and
torch.func's times for the same functions when PyTorch is installed (it batches the basis
vectors with vmap, which gpugrad does not).

    python benchmarks/func.py [--size 1000] [--repeats 7] [--device cpu]
"""
import argparse
import statistics
import time

import numpy as np

import gpugrad as gg


def median_seconds(fns, repeats):
    """Median wall time of each callable, run interleaved so drift hits all evenly."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def problems(size, device):
    rng = np.random.default_rng(0)
    w = gg.tensor(rng.standard_normal(size), device=device)
    v = gg.tensor(rng.standard_normal(size), device=device)

    def f(x):  # R -> R^size
        return (x * w).sin() + x ** 2 * v

    def g(x):  # R^size -> R
        return (x.sin() * x).sum() + x.logsumexp(0)

    x_f = gg.tensor([0.5], device=device)
    x_g = gg.tensor(rng.standard_normal(size).astype(np.float32), device=device)
    return (f, x_f, w, v), (g, x_g)


def check(f, x_f, g, x_g):
    """Both modes give the same Jacobians (a benchmark of wrong answers is worthless)."""
    for fn, x in ((f, x_f), (g, x_g)):
        fwd = gg.func.jacfwd(fn)(x).cpu().numpy()
        rev = gg.func.jacrev(fn)(x).cpu().numpy()
        np.testing.assert_allclose(fwd, rev, rtol=1e-4, atol=1e-5)


def torch_times(size, w, v, x_f, x_g, repeats):
    try:
        import torch
        from torch.func import jacfwd, jacrev
    except ImportError:
        return None
    tw, tv = torch.from_numpy(w.cpu().numpy()), torch.from_numpy(v.cpu().numpy())
    tf = lambda x: (x * tw).sin() + x ** 2 * tv  # noqa: E731
    tg = lambda x: (x.sin() * x).sum() + x.logsumexp(0)  # noqa: E731
    xf, xg = torch.from_numpy(x_f.cpu().numpy()), torch.from_numpy(x_g.cpu().numpy())
    return median_seconds({
        ("f", "jacfwd"): lambda: jacfwd(tf)(xf), ("f", "jacrev"): lambda: jacrev(tf)(xf),
        ("g", "jacfwd"): lambda: jacfwd(tg)(xg), ("g", "jacrev"): lambda: jacrev(tg)(xg),
    }, repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    (f, x_f, w, v), (g, x_g) = problems(args.size, args.device)
    check(f, x_f, g, x_g)
    ours = median_seconds({
        ("f", "jacfwd"): lambda: gg.func.jacfwd(f)(x_f),
        ("f", "jacrev"): lambda: gg.func.jacrev(f)(x_f),
        ("g", "jacfwd"): lambda: gg.func.jacfwd(g)(x_g),
        ("g", "jacrev"): lambda: gg.func.jacrev(g)(x_g),
    }, args.repeats)
    theirs = torch_times(args.size, w, v, x_f, x_g, args.repeats)
    n = args.size
    print(f"Jacobians on {args.device}, float32, n = m = {n}, median of {args.repeats} runs")
    header = f"{'function':<16}{'jacfwd (s)':>12}{'jacrev (s)':>12}{'winner':>9}{'speedup':>9}"
    if theirs:
        header += f"{'torch fwd (s)':>15}{'torch rev (s)':>15}"
    print(header)
    for name, label in (("f", f"f: R -> R^{n}"), ("g", f"g: R^{n} -> R")):
        fwd, rev = ours[(name, "jacfwd")], ours[(name, "jacrev")]
        winner = "jacfwd" if fwd < rev else "jacrev"
        speedup = max(fwd, rev) / min(fwd, rev)
        row = f"{label:<16}{fwd:>12.5f}{rev:>12.5f}{winner:>9}{speedup:>8.1f}x"
        if theirs:
            row += f"{theirs[(name, 'jacfwd')]:>15.5f}{theirs[(name, 'jacrev')]:>15.5f}"
        print(row)


if __name__ == "__main__":
    main()
