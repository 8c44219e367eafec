"""What the gpugrad-against-PyTorch benchmarks share: their common options, the libraries
to compare (PyTorch where installed, held to the same thread count), the alternating
timing rounds and the printout of their medians.

    import _versus
    parser = _versus.argument_parser(__doc__, "step")   # add the script's own options
    args = _versus.parse(parser, "step")
    libs = _versus.start(gpugrad, args.threads)         # prints the BLAS / PyTorch lines
    times = _versus.alternate({name: fn, ...}, args.rounds, args.steps)
    _versus.report("workload", "first-step loss", first, times, "step")
    sys.exit(_versus.run_each(workloads, run))
"""
import argparse
import statistics
import time
import traceback

import _blas


def argument_parser(doc, unit):
    """A parser with --steps, --rounds, --warmup and --threads; ``unit`` names what is timed
    ("step", "call")."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help=f"timed {unit}s per round")
    parser.add_argument("--rounds", type=int, default=11, help="alternating rounds")
    parser.add_argument("--warmup", type=int, default=2, help=f"untimed {unit}s per library")
    parser.add_argument("--threads", type=int, default=1, help="BLAS (and torch) threads")
    return parser


def parse(parser, unit, argv=None):
    """Add --quick to ``parser`` and parse; --quick cuts the run down to a smoke test."""
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: 1 warm-up {unit}, at most 2 {unit}s and 2 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.steps, args.rounds = 1, min(args.steps, 2), min(args.rounds, 2)
    return args


def libraries(gpugrad, threads):
    """``{"gpugrad": gpugrad, "pytorch": torch}`` (gpugrad alone without PyTorch), torch held
    to ``threads`` threads; and a note on it for the printout, starting with "; "."""
    libs = {"gpugrad": gpugrad}
    try:
        import torch
    except ImportError:
        return libs, "; PyTorch not installed: gpugrad times only"
    torch.set_num_threads(threads)
    libs["pytorch"] = torch
    return libs, f"; torch.set_num_threads({threads}), torch {torch.__version__}"


def start(gpugrad, threads):
    """Hold BLAS (and PyTorch) to ``threads`` threads, print how and which BLAS NumPy uses,
    and return :func:`libraries`' dict."""
    how = _blas.limit_threads(threads)
    blas = _blas.describe()  # before PyTorch loads its own BLAS
    libs, note = libraries(gpugrad, threads)
    print(how + note)
    print(blas)
    return libs


def run_each(workloads, run):
    """``run(name)`` for each name in ``workloads``; one that raises is printed as FAILED (a
    workload gpugrad cannot run is a finding, not a crash) and the next one runs. Returns
    the exit status: 1 if any failed."""
    failed = False
    for name in workloads:
        try:
            run(name)
        except Exception:
            failed = True
            print(f"\n{name}: FAILED\n{traceback.format_exc()}")
    return 1 if failed else 0


def shared_weights(gpugrad, build, seed=0):
    """The weights gpugrad initialises ``build(gpugrad)``'s model with (after
    ``manual_seed(seed)``), as NumPy arrays by name, for both libraries to start from."""
    gpugrad.manual_seed(seed)
    return {name: p.detach().numpy().copy()
            for name, p in build(gpugrad).named_parameters()}


def load_weights(lib, model, weights):
    """Copy :func:`shared_weights`' arrays into ``model``, a model of ``lib``; returns it."""
    with lib.no_grad():
        for name, p in model.named_parameters():
            p.copy_(lib.from_numpy(weights[name]))
    return model


def alternate(calls, rounds, steps):
    """Time ``steps`` calls of each of ``calls`` ({library: function}) per round, for
    ``rounds`` rounds; returns {library: [ms per call, one per round]}."""
    times = {name: [] for name in calls}
    for r in range(rounds):
        # Alternate which library goes first, so drift and cache state hit both alike.
        order = list(calls) if r % 2 == 0 else list(reversed(calls))
        for name in order:
            t = time.perf_counter()
            for _ in range(steps):
                calls[name]()
            times[name].append((time.perf_counter() - t) / steps * 1e3)
    return times


def report(workload, label, first, times, unit):
    """Print ``first`` ({library: value}) under ``label``, then each library's median
    ms per ``unit`` and the median per-round ratio gpugrad / PyTorch."""
    print(f"\n{workload}: {label} " +
          ", ".join(f"{name} {value:.4f}" for name, value in first.items()))
    for name, ms in times.items():
        print(f"  {name:<9}{statistics.median(ms):>9.2f} ms/{unit} (median of {len(ms)} "
              f"rounds; min {min(ms):.2f}, max {max(ms):.2f})")
    if "pytorch" in times:
        ratios = [g / t for g, t in zip(times["gpugrad"], times["pytorch"])]
        print(f"  gpugrad / pytorch: {statistics.median(ratios):.2f}x median per-round ratio "
              f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
