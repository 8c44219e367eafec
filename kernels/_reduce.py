"""Block-wide reductions for the row kernels, which give each row of a 2-D array one block.

Threads stride over the row's columns, accumulate privately, then combine through shared
memory in a tree. The block size must be a power of two no larger than ROW_MAX_THREADS.
"""
import math
from types import SimpleNamespace

from . import _launch


cuda = None  # numba.cuda, bound by the first launch (see _launch.kernel_factory)


@_launch.kernel_factory
def block_reducers(acc):
    """Device functions reducing in the scalar type ``acc`` (np.float32 or np.float64)."""
    size = _launch.ROW_MAX_THREADS

    @cuda.jit(device=True)
    def merge_max_sum(m1, s1, m2, s2):
        # (m, s) stands for sum(exp(x - m)) over a set of x; m == -inf is the empty set,
        # and must not reach exp(-inf - -inf) = nan.
        if m2 > m1:
            m1, s1, m2, s2 = m2, s2, m1, s1
        if m2 == -math.inf:
            return m1, s1
        return m1, s1 + s2 * math.exp(m2 - m1)

    @cuda.jit(device=True)
    def block_sum(value):
        buf = cuda.shared.array(size, acc)
        t = cuda.threadIdx.x
        buf[t] = value
        cuda.syncthreads()
        stride = cuda.blockDim.x // 2
        while stride > 0:
            if t < stride:
                buf[t] += buf[t + stride]
            cuda.syncthreads()
            stride //= 2
        total = buf[0]
        # Every thread must read buf[0] before a following reduction overwrites it.
        cuda.syncthreads()
        return total

    @cuda.jit(device=True)
    def block_max_sum(m, s):
        mbuf = cuda.shared.array(size, acc)
        sbuf = cuda.shared.array(size, acc)
        t = cuda.threadIdx.x
        mbuf[t] = m
        sbuf[t] = s
        cuda.syncthreads()
        stride = cuda.blockDim.x // 2
        while stride > 0:
            if t < stride:
                mt, st = merge_max_sum(mbuf[t], sbuf[t], mbuf[t + stride], sbuf[t + stride])
                mbuf[t] = mt
                sbuf[t] = st
            cuda.syncthreads()
            stride //= 2
        m, s = mbuf[0], sbuf[0]
        cuda.syncthreads()
        return m, s

    @cuda.jit(device=True)
    def row_max_sum(x, row):
        # One pass, online: the running max rescales the running sum when it grows.
        m = acc(-math.inf)
        s = acc(0)
        for c in range(cuda.threadIdx.x, x.shape[1], cuda.blockDim.x):
            m, s = merge_max_sum(m, s, acc(x[row, c]), acc(1))
        return block_max_sum(m, s)

    return SimpleNamespace(block_sum=block_sum, block_max_sum=block_max_sum,
                           row_max_sum=row_max_sum)
