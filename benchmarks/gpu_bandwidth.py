"""Achieved memory bandwidth of the fused kernels, as a fraction of the GPU's peak.

The fused kernels are memory-bound, so bytes moved / time against the device's peak
(2 x memory clock x bus width, from CUDA's device attributes) says how close to the roof
they run. Bytes are the minimum each kernel must move: softmax forward reads its input
twice and writes once; the bucket copy reads and writes each element once; Adam reads
param, grad and both moments and writes param and both moments.

    python benchmarks/gpu_bandwidth.py [--mib 256] [--repeats 21]
"""
import argparse
import os
import statistics
import sys

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
import gpugrad as gg  # noqa: E402


def peak_bytes_per_second(cp):
    attrs = cp.cuda.runtime.getDeviceProperties(0)
    # memoryClockRate is in kHz; DDR memory moves data on both clock edges.
    return 2 * attrs["memoryClockRate"] * 1e3 * attrs["memoryBusWidth"] / 8


def seconds(cp, fn, repeats):
    fn()  # compile and warm up
    times = []
    for _ in range(repeats):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end) / 1e3)
    return statistics.median(times)


def cases(cp, n):
    from gpugrad.kernels import bucket, optim, softmax
    x = cp.random.standard_normal((n // 4096, 4096), dtype=cp.float32)
    flat = cp.empty(n, cp.float32)
    p, g, m, v = (cp.random.standard_normal(n, dtype=cp.float32) for _ in range(4))
    v = cp.abs(v)
    yield "softmax_forward", 3 * 4 * n, lambda: softmax.softmax_forward(x)
    yield "pack_bucket", 2 * 4 * n, lambda: bucket.pack_bucket([x], out=flat)
    yield "adam_update", 7 * 4 * n, lambda: optim.adam_update(p, g, m, v, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="size of each operand")
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    if not gg.cuda.is_available() or not gg.cuda.kernels_available():
        print("gpu_bandwidth: needs a CUDA device with the fused kernels (numba-cuda)")
        return 2
    import cupy as cp
    peak = peak_bytes_per_second(cp)
    n = args.mib * 2 ** 20 // 4 // 4096 * 4096
    print(f"peak {peak / 1e9:.0f} GB/s; operands of {n * 4 / 2 ** 20:.0f} MiB")
    for name, nbytes, fn in cases(cp, n):
        rate = nbytes / seconds(cp, fn, args.repeats)
        print(f"{name:18s} {rate / 1e9:8.1f} GB/s  {rate / peak:6.1%} of peak")
        print(f"RESULT bandwidth_{name}_fraction_of_peak {rate / peak:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
