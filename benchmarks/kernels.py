"""Benchmarks for kernels/: Numba CPU twins vs NumPy, fused CUDA kernels vs CuPy chains.

Each case times a baseline and a candidate in alternating (paired) runs, checks once that
they agree, and reports median times and the median per-pair speedup (baseline/candidate).
A CPU twin is kept only if it beats NumPy. The GPU section runs when CuPy imports and sees
a device; it compares each fused launcher with the CuPy chain in kernels/reference.py (the
recurrent and attention kernels: with their ops' generic CuPy code).

    python benchmarks/kernels.py [--repeats 21] [--cpu-only]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

# Run as a script, sys.path[0] is benchmarks/, where this file would shadow the package.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
try:  # installed layout: kernels/ ships as gpugrad.kernels
    from gpugrad.kernels import (bucket, cases, cpu, dropout, embedding, layernorm, optim,
                                 reference, softmax, xent)
except ImportError:  # source tree before installation
    from kernels import (bucket, cases, cpu, dropout, embedding, layernorm, optim,
                         reference, softmax, xent)


def paired(baseline, candidate, timer, repeats):
    """Median seconds of each, and the median of per-pair ratios baseline / candidate."""
    base, cand, ratios = [], [], []
    for i in range(repeats):
        # Alternate who goes first so drift (clocks, caches) hits both sides evenly.
        if i % 2:
            c, b = timer(candidate), timer(baseline)
        else:
            b, c = timer(baseline), timer(candidate)
        base.append(b)
        cand.append(c)
        ratios.append(b / c)
    return statistics.median(base), statistics.median(cand), statistics.median(ratios)


def wall_time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def check_close(name, got, want, tol):
    for g, w in zip(_as_tuple(got), _as_tuple(want)):
        g, w = _to_host(g), _to_host(w)
        if not np.allclose(g, w, rtol=tol, atol=tol):
            raise AssertionError(f"{name}: results differ (max {np.abs(g - w).max():.3g})")


def _as_tuple(value):
    return value if isinstance(value, (tuple, list)) else (value,)


def _to_host(array):
    return array.get() if hasattr(array, "get") else np.asarray(array)


def cpu_cases():
    """(name, NumPy path, njit twin, tolerance) at realistic sizes.

    Softmax cross-entropy twins (N=1024, C=1000) lost to NumPy and were dropped; see cpu.py.
    """
    rng = np.random.default_rng(0)
    n, vocab = 4096, 30000
    for dim, dtype in ((64, np.float32), (64, np.float64), (512, np.float32)):
        grad = rng.standard_normal((n, dim)).astype(dtype)
        idx = rng.integers(0, vocab, n)
        yield (f"embedding_backward N={n} V={vocab} D={dim} {np.dtype(dtype).name}",
               lambda g=grad, i=idx: reference.embedding_backward(g, i, vocab, 0),
               lambda g=grad, i=idx: cpu.embedding_backward(g, i, vocab, 0), 1e-5)


def gpu_cases(cp):
    """(name, CuPy chain, fused launcher, tolerance) at training-sized shapes, float32."""
    f32 = cp.float32
    x = cp.random.standard_normal((8192, 4096), dtype=f32)
    gx = cp.random.standard_normal((8192, 4096), dtype=f32)
    y = reference.softmax(x)
    yield ("softmax_forward 8192x4096", lambda: reference.softmax(x),
           lambda: softmax.softmax_forward(x), 1e-5)
    yield ("softmax_backward 8192x4096", lambda: reference.softmax_backward(gx, y),
           lambda: softmax.softmax_backward(gx, y), 1e-5)
    yield ("log_softmax_forward 8192x4096", lambda: reference.softmax(x, log=True),
           lambda: softmax.softmax_forward(x, log=True), 1e-4)

    logits = cp.random.standard_normal((4096, 32000), dtype=f32)
    targets = cp.random.randint(0, 32000, 4096)
    gl = cp.random.standard_normal(4096, dtype=f32)
    _, lse = reference.softmax_xent_forward(logits, targets, -100, 0.1)
    yield ("softmax_xent_forward 4096x32000",
           lambda: reference.softmax_xent_forward(logits, targets, -100, 0.1),
           lambda: xent.softmax_xent_forward(logits, targets, -100, 0.1), 1e-4)
    yield ("softmax_xent_backward 4096x32000",
           lambda: reference.softmax_xent_backward(gl, logits, targets, lse, -100, 0.1),
           lambda: xent.softmax_xent_backward(gl, logits, targets, lse, -100, 0.1), 1e-4)

    gamma = cp.random.standard_normal(1024, dtype=f32)
    beta = cp.random.standard_normal(1024, dtype=f32)
    h = cp.random.standard_normal((16384, 1024), dtype=f32)
    gh = cp.random.standard_normal((16384, 1024), dtype=f32)
    _, mean, rstd = reference.layer_norm_forward(h, gamma, beta)
    yield ("layer_norm_forward 16384x1024",
           lambda: reference.layer_norm_forward(h, gamma, beta),
           lambda: layernorm.layer_norm_forward(h, gamma, beta), 1e-4)
    yield ("layer_norm_backward 16384x1024",
           lambda: reference.layer_norm_backward(gh, h, gamma, mean, rstd),
           lambda: layernorm.layer_norm_backward(gh, h, gamma, mean, rstd), 1e-3)

    ge = cp.random.standard_normal((32768, 512), dtype=f32)
    idx = cp.random.randint(0, 30000, 32768)
    yield ("embedding_backward N=32768 V=30000 D=512",
           lambda: reference.embedding_backward(ge, idx, 30000, 0),
           lambda: embedding.embedding_backward(ge, idx, 30000, 0), 1e-4)
    yield ("embedding_backward_sparse N=32768 D=512",
           lambda: reference.embedding_backward_sparse(ge, idx),
           lambda: embedding.embedding_backward_sparse(ge, idx), 1e-4)

    big = cp.random.standard_normal(1 << 24, dtype=f32)
    yield ("dropout_forward 16M", lambda: reference.dropout_forward(big, 0.1, 1, 0),
           lambda: dropout.dropout_forward(big, 0.1, 1, 0), 1e-6)
    yield from _optimizer_cases(cp, big)
    yield from cases.recurrent_cases(cp)
    yield from cases.attention_cases(cp)

    grads = [cp.random.standard_normal(n, dtype=f32) for n in [4096 * 1024, 1024] * 16]
    yield ("pack_bucket 32 arrays, 67M elements", lambda: reference.pack_bucket(grads, 0.5),
           lambda: bucket.pack_bucket(grads, 0.5), 1e-6)


def _optimizer_cases(cp, grad):
    # Updates are in place: each side steps its own copies, so both see the same inputs.
    def state():
        return [grad * 0.1, cp.zeros_like(grad), cp.zeros_like(grad), cp.zeros_like(grad)]

    ref_state, fused_state = state(), state()
    config = dict(lr=1e-3, weight_decay=0.01, decoupled=True)
    yield ("adamw_update 16M",
           lambda: reference.adam_update(ref_state[0], grad, *ref_state[1:3], 10, **config),
           lambda: optim.adam_update(fused_state[0], grad, *fused_state[1:3], 10, **config),
           1e-3)
    ref_sgd, fused_sgd = state(), state()
    yield ("sgd_update momentum 16M",
           lambda: reference.sgd_update(ref_sgd[0], grad, ref_sgd[1], 0.1, 0.9, step=2),
           lambda: optim.sgd_update(fused_sgd[0], grad, fused_sgd[1], 0.1, 0.9, step=2), 1e-3)


def run(cases, timer, repeats, label):
    print(f"\n{label}")
    print(f"{'case':50s} {'baseline ms':>12s} {'candidate ms':>13s} {'speedup':>8s}")
    for name, baseline, candidate, tol in cases:
        check_close(name, candidate(), baseline(), tol)  # also warms up / compiles
        base, cand, ratio = paired(baseline, candidate, timer, repeats)
        print(f"{name:50s} {base * 1e3:12.3f} {cand * 1e3:13.3f} {ratio:7.2f}x")


def cupy_with_gpu():
    """CuPy when it imports and sees a device, else None."""
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:  # no CuPy, no driver, or no device: skip the GPU section
        pass
    return None


def gpu_timer(cp):
    def timer(fn):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        return cp.cuda.get_elapsed_time(start, end) / 1e3
    return timer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--cpu-only", action="store_true")
    args = parser.parse_args()
    run(cpu_cases(), wall_time, args.repeats,
        "CPU: NumPy path (baseline) vs numba.njit twin (candidate)")
    cp = None if args.cpu_only else cupy_with_gpu()
    if cp is None:
        print("\nGPU: skipped (no CuPy or no CUDA device)")
        return
    run(gpu_cases(cp), gpu_timer(cp), args.repeats,
        f"GPU ({cp.cuda.runtime.getDeviceProperties(0)['name'].decode()}): "
        "CuPy chain (baseline) vs fused kernel (candidate)")


if __name__ == "__main__":
    main()
