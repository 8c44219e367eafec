"""The BLAS settings every benchmark runs under, set before NumPy loads.

This machine exports ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (older OpenBLAS builds
need them); they tune OpenBLAS away from how users run it and slow NumPy, so each benchmark
drops both from its own process (children inherit that) and prints which BLAS NumPy really
uses, so a reader can tell two runs' libraries apart.

    import _blas
    _blas.clean_environment()       # before ``import numpy``
    ...
    print(_blas.describe())
"""
import os

DROPPED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def clean_environment(threads=None):
    """Drop the two OpenBLAS variables and, if ``threads`` is given, ask every BLAS (and
    gpugrad's Numba loops, and XLA for one thread) for that many threads (read when NumPy,
    Numba and JAX load: call this before importing them)."""
    for name in DROPPED:
        os.environ.pop(name, None)
    if threads is not None:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMBA_NUM_THREADS"):
            os.environ[name] = str(threads)
        if threads > 1:
            # Libraries take turns in one process: an idle OpenMP pool (PyTorch's) must not
            # spin on the cores the other library is being timed on.
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        if threads == 1:  # JAX's CPU backend (XLA), where a benchmark runs it
            os.environ["XLA_FLAGS"] = ("--xla_cpu_multi_thread_eigen=false "
                                       "intra_op_parallelism_threads=1")


def describe():
    """One line: the BLAS libraries NumPy loaded, their kernel (architecture) and threads."""
    dropped = ", ".join(DROPPED)
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"BLAS: unknown (threadpoolctl not installed); unset here: {dropped}"
    import numpy  # noqa: F401  (loads the BLAS being described)
    libs = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
            f"{i.get('num_threads')} thread(s))"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return f"BLAS: {'; '.join(libs) or 'none found'}; unset here: {dropped}"


def limit_threads(n):
    """Limit the BLAS libraries loaded so far to ``n`` threads, through threadpoolctl when it
    is installed (else ``clean_environment(n)``'s variables are all there is); returns a line
    saying how."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return f"BLAS threads {n} via OPENBLAS/OMP/MKL_NUM_THREADS (threadpoolctl missing)"
    threadpool_limits(limits=n, user_api="blas")
    return f"BLAS threads {n} via threadpoolctl (and OPENBLAS/OMP/MKL_NUM_THREADS)"
