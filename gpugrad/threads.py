"""Intra-op threads on the CPU: ``set_num_threads`` / ``get_num_threads``, as PyTorch's.

gpugrad's CPU work runs in two thread pools: the BLAS library NumPy loaded (matrix products)
and Numba's (the ``prange`` loops of ``kernels/_cpu_*.py``: convolution's im2col and col2im,
relu and its gradient). ``set_num_threads(n)`` sets both:

* the BLAS pool through threadpoolctl, when it is installed (an optional dependency; without
  it BLAS keeps the count its environment gave it, ``OPENBLAS_NUM_THREADS`` and friends);
* Numba's count through ``numba.set_num_threads``. Numba keeps that count per calling
  thread and caps it at ``NUMBA_NUM_THREADS`` (the cores, unless the environment says
  otherwise), fixed when its pool starts; gpugrad hands the count on to every thread that
  runs one of its loops afterwards, so the setting is process-wide, as PyTorch's is.

Both pools are process-wide: other libraries in the process that use the same BLAS see the
new count too. A larger ``n`` than the cores runs no faster (Numba stops at its cap).

On a machine whose cores are busy with other work, more threads can be slower: a loop
waits for its slowest thread. OpenMP workers (Numba's threading layer here) spin between
loops by default, beside OpenBLAS's spinning workers, and a loop could then wait a whole
scheduler time slice (measured: 8 ms for a 0.2 ms loop while another process held the
second of 2 cores). So before gpugrad's first loop, unless the environment already says
otherwise, ``OMP_WAIT_POLICY`` is set to ``PASSIVE`` (OpenMP reads it when it loads, which
is when Numba runs its first loop): idle workers sleep, and a loop costs a wake-up (some
microseconds) instead.
"""
import operator
import os
import threading

import numpy as np

_INT_MAX = 2 ** 31 - 1
_count = None  # what set_num_threads set; None: each library's default
_generation = 0  # bumped by each set_num_threads, so threads know to re-apply the count
_applied = threading.local()
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def set_num_threads(n):
    """Use ``n`` threads for intra-op parallelism on the CPU (BLAS and gpugrad's Numba
    loops), process-wide. ``n`` must be a positive int (RuntimeError otherwise, as PyTorch).

    >>> before = gg.get_num_threads()
    >>> gg.set_num_threads(1)
    >>> gg.get_num_threads()
    1
    >>> gg.set_num_threads(before)
    """
    global _count, _generation
    if isinstance(n, bool) or not hasattr(type(n), "__index__"):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    try:
        n = operator.index(n)
    except TypeError:  # a tensor of several elements (or a float one) is no count
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}") \
            from None
    if n > _INT_MAX:
        raise ValueError("Overflow when unpacking long")
    if n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    _limit_blas(n)
    _count, _generation = n, _generation + 1
    apply_to_numba()


def get_num_threads():
    """The number of threads used for intra-op parallelism on the CPU: the last
    :func:`set_num_threads` count, else the threads Numba's loops use in this thread (by
    default the cores, or ``NUMBA_NUM_THREADS``).

    >>> gg.get_num_threads() >= 1
    True
    """
    if _count is not None:
        return _count
    import numba  # the default is Numba's (the cores unless the environment caps them)
    return numba.get_num_threads()


def apply_to_numba():
    """Give the calling thread the count of :func:`set_num_threads` in Numba (which keeps
    it per thread), once per thread and setting; call before launching a ``prange`` loop.
    Sets ``OMP_WAIT_POLICY=PASSIVE`` if the environment has no wait policy.

    >>> apply_to_numba()
    """
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # see the module's docstring
    # Until set_num_threads asks for more, the loops run on one thread: Numba's pool
    # beside BLAS's (and PyTorch's) pool on the same cores made a 2-thread MLP step 3-7x
    # slower (benchmarks/mlp.py), so more threads are opt-in.
    generation = _generation if _count is not None else -1
    if getattr(_applied, "generation", None) == generation:
        return
    import numba
    numba.set_num_threads(1 if _count is None else min(_count,
                                                       numba.config.NUMBA_NUM_THREADS))
    _applied.generation = generation


def _limit_blas(n):
    """Set the BLAS libraries loaded so far to ``n`` threads (each caps it at its own
    maximum); without threadpoolctl nothing can change them at run time."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=n, user_api="blas")


# Below this many elements a loop's dispatch and its threads' wake-up eat what it saves
# (relu's loop against NumPy: 0.008 vs 0.009 ms at 2 ** 14 elements, 0.013 vs 0.033 ms at
# 2 ** 16, 0.24 vs 0.67 ms at 1.4M).
PARALLEL_MIN = 1 << 16


def parallel_loops(xp, *arrays, work=None):
    """Do gpugrad's Numba ``prange`` loops take these arrays: NumPy, float32 or float64
    alike, C-contiguous, with ``work`` (the elements the loop writes; by default the first
    array's size) at least :data:`PARALLEL_MIN`? If so, the calling thread gets
    :func:`set_num_threads`'s count first. Other dtypes, small work and CuPy keep the
    generic path.

    >>> parallel_loops(np, np.zeros(1 << 16, np.float32)), parallel_loops(np, np.zeros(8))
    (True, False)
    """
    first = arrays[0]
    if xp is not np or (first.size if work is None else work) < PARALLEL_MIN:
        return False
    if first.dtype not in _FLOATS:
        return False
    for a in arrays:
        if a.__class__ is not np.ndarray or a.dtype != first.dtype or not a.flags.c_contiguous:
            return False
    apply_to_numba()
    return True
