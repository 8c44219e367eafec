"""Forward vs reverse mode Jacobians: ``gg.func.jacfwd`` against ``gg.func.jacrev``.

    f: R -> R^m,  f(x) = sin(x w) + x^2 v     (one input, m outputs: forward mode wins)
    g: R^n -> R,  g(x) = sum(sin(x) x) + logsumexp(x)   (n inputs, one output: reverse wins)

Both are ``vmap`` over a basis: jacfwd one batched forward pass (with tangents) over the
input's basis, jacrev one batched forward and backward pass over the output's basis, so on
f jacfwd batches 1 basis vector where jacrev batches m, and on g the reverse.
A second table times the square cases side by side with torch.func (which also batches
with vmap): jacrev and jacfwd of h: R^n -> R^n, h(x) = tanh(W x) + sin(x) v, and hessian
of g on R^(n/2), with the gpugrad / torch.func ratio.
Prints median seconds over interleaved repeats, the speedup of the cheaper mode, and
torch.func's times for the same functions when PyTorch is installed.

    python benchmarks/func.py [--size 1000] [--repeats 7] [--device cpu]

On a shared machine, pin both libraries to one BLAS thread (``OMP_NUM_THREADS=1
OPENBLAS_NUM_THREADS=1``): spinning BLAS threads of a busy box swamp these small products.
"""
import argparse
import statistics
import time

import numpy as np

import gpugrad as gg


def timings(fns, repeats):
    """Wall times of each callable, run interleaved so drift hits all evenly."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def median_seconds(fns, repeats):
    """Median wall time of each callable, run interleaved."""
    return {name: statistics.median(ts) for name, ts in timings(fns, repeats).items()}


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


def square_problems(size, device):
    """h: R^size -> R^size for jacrev/jacfwd, g on R^(size // 2) for hessian, float32."""
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((size, size)) / np.sqrt(size)).astype(np.float32)
    v = rng.standard_normal(size).astype(np.float32)
    x = rng.standard_normal(size).astype(np.float32)
    return w, v, x, x[:max(size // 2, 1)].copy()


def square_table(size, device, repeats):
    """Wall times of jacrev, jacfwd and hessian, gpugrad's and torch.func's (None without
    PyTorch), run interleaved."""
    w, v, x, x_half = square_problems(size, device)
    tw, tv = gg.tensor(w, device=device), gg.tensor(v, device=device)
    h = lambda x: (tw @ x).tanh() + x.sin() * tv  # noqa: E731
    g = lambda x: (x.sin() * x).sum() + x.logsumexp(0)  # noqa: E731
    xs, xh = gg.tensor(x, device=device), gg.tensor(x_half, device=device)
    cases = {"jacrev": (gg.func.jacrev, h, xs), "jacfwd": (gg.func.jacfwd, h, xs),
             "hessian": (gg.func.hessian, g, xh)}
    fns = {("gpugrad", name): (lambda t=t, fn=fn, a=a: t(fn)(a))
           for name, (t, fn, a) in cases.items()}
    try:
        import torch
        from torch import func as tfunc
    except ImportError:
        return timings(fns, repeats), False
    pw, pv = torch.from_numpy(w), torch.from_numpy(v)
    ph = lambda x: (pw @ x).tanh() + x.sin() * pv  # noqa: E731
    pg = lambda x: (x.sin() * x).sum() + x.logsumexp(0)  # noqa: E731
    px, pxh = torch.from_numpy(x), torch.from_numpy(x_half)
    theirs = {"jacrev": (tfunc.jacrev, ph, px), "jacfwd": (tfunc.jacfwd, ph, px),
              "hessian": (tfunc.hessian, pg, pxh)}
    for name, (t, fn, a) in theirs.items():  # the same numbers (a benchmark of wrong answers
        (ot, ofn, oa) = cases[name]          # is worthless)
        np.testing.assert_allclose(ot(ofn)(oa).cpu().numpy(), t(fn)(a).numpy(), rtol=1e-3,
                                   atol=1e-4)
    fns.update({("torch", name): (lambda t=t, fn=fn, a=a: t(fn)(a))
                for name, (t, fn, a) in theirs.items()})
    return timings(fns, repeats), True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--square", type=int, default=200,
                        help="n of the side-by-side table (h: R^n -> R^n, hessian on R^(n/2))")
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
    times, with_torch = square_table(args.square, args.device, args.repeats)
    n = args.square
    print(f"\nSide by side with torch.func: h: R^{n} -> R^{n}, hessian of g on R^{n // 2}; "
          f"median and best (s)")
    header = f"{'transform':<12}{'gpugrad med':>13}{'best':>10}"
    if with_torch:
        header += f"{'torch med':>12}{'best':>10}{'ratio med':>11}{'best':>8}"
    print(header)
    for name in ("jacrev", "jacfwd", "hessian"):
        ours = times[("gpugrad", name)]
        row = f"{name:<12}{statistics.median(ours):>13.5f}{min(ours):>10.5f}"
        if with_torch:
            theirs = times[("torch", name)]
            row += (f"{statistics.median(theirs):>12.5f}{min(theirs):>10.5f}"
                    f"{statistics.median(ours) / statistics.median(theirs):>10.2f}x"
                    f"{min(ours) / min(theirs):>7.2f}x")
        print(row)


if __name__ == "__main__":
    main()
