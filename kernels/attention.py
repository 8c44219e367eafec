"""Fused scaled-dot-product attention, flash style: no (L, S) matrix is ever stored.

Inputs are (BH, L, D) queries, (BH / groups, S, D) keys and (BH / groups, S, Dv) values
(query head ``b`` reads key/value head ``b // groups``: grouped-query attention), with head
dims up to MAX_HEAD_DIM. Each kernel gives one thread one row and one block ``blockDim.x``
rows (QUERY_ROWS), and stages the other side's rows in shared memory STAGE rows at a time:

- forward: a block of query rows of one head loops over key tiles, keeping an online
  softmax per row (running max m, running sum l, unnormalised output); it writes the output
  and the row's logsumexp m + log(l) (-inf for a row with nothing to attend to: output 0).
- backward, dq: the same blocks recompute p = exp(s - logsumexp) key tile by key tile, with
  dp = dout . v and ds = p (dp - delta), delta = rowsum(dout * out).
- backward, dk and dv: a block of key rows of one key/value head loops over the query
  tiles of every query head that reads it, so no two blocks write the same row (no atomics).

Masks come as (M, Lm, Sm) arrays (``broadcast_mask``): boolean (True = attend) or added to
the scores; head ``b`` reads mask ``(b // inner) % M``, and Lm, Sm of 1 broadcast. With
``causal`` query i sees keys 0..i only (PyTorch's top-left alignment).
"""
import math

import numpy as np

from . import _launch

cuda = None  # numba.cuda, bound by the first launch (see _launch.kernel_factory)

MAX_HEAD_DIM = 128
# Threads (rows) per block. A module global read at launch, so tests can shrink it.
QUERY_ROWS = 64
# Rows staged in shared memory per tile: two (STAGE, MAX_HEAD_DIM) arrays, 32 KiB in all.
STAGE = {np.float32: 32, np.float64: 16}
NO_MASK, BOOL_MASK, ADD_MASK = 0, 1, 2


@_launch.kernel_factory
def _kernels(acc):
    stage, width = STAGE[acc], MAX_HEAD_DIM
    minus_inf = -math.inf

    @cuda.jit(device=True)
    def score(s, mask, kind, inner, head, i, j):
        """Masked score of query i, key j of query head ``head`` (-inf: not attended)."""
        if kind == NO_MASK:
            return s
        mi = (head // inner) % mask.shape[0]
        mr = i if mask.shape[1] > 1 else 0
        mc = j if mask.shape[2] > 1 else 0
        if kind == BOOL_MASK:
            if not mask[mi, mr, mc]:
                return acc(minus_inf)
            return s
        return acc(s + mask[mi, mr, mc])  # typed for bool masks too, never run for them

    @cuda.jit(device=True)
    def dot(row, tile, t, dim):
        """row[:dim] . tile[t, :dim], accumulated in ``acc``."""
        s = acc(0)
        for d in range(dim):
            s += row[d] * tile[t, d]
        return s

    @cuda.jit(device=True)
    def load_row(src, head, i, n, dst):
        """dst[:n] = src[head, i, :n]."""
        for d in range(n):
            dst[d] = src[head, i, d]

    @cuda.jit(device=True)
    def clear(dst, n):
        """dst[:n] = 0."""
        for d in range(n):
            dst[d] = 0

    @cuda.jit(device=True)
    def keys_seen(n_keys, first, causal):
        """How many keys the block of query rows from ``first`` on attends to."""
        if causal:
            return min(n_keys, first + cuda.blockDim.x)
        return n_keys

    @cuda.jit(device=True)
    def stage_rows(src, head, start, n, cols, dst):
        """Copy rows start..start+n of src[head] into shared dst, all threads together."""
        for e in range(cuda.threadIdx.x, n * cols, cuda.blockDim.x):
            dst[e // cols, e % cols] = src[head, start + e // cols, e % cols]

    @cuda.jit
    def forward(q, k, v, mask, kind, inner, causal, scale, groups, out, lse):
        head = cuda.blockIdx.x
        if head >= q.shape[0]:
            return
        first = cuda.blockIdx.y * cuda.blockDim.x
        i = first + cuda.threadIdx.x
        n_keys, dim, dim_v = k.shape[1], q.shape[2], v.shape[2]
        kv = head // groups
        ks = cuda.shared.array((stage, width), acc)
        vs = cuda.shared.array((stage, width), acc)
        qi = cuda.local.array(width, acc)
        o = cuda.local.array(width, acc)
        live = i < q.shape[1]  # no early return: every thread must reach syncthreads
        if live:
            load_row(q, head, i, dim, qi)
            clear(o, dim_v)
        m = acc(minus_inf)
        total = acc(0)
        stop = keys_seen(n_keys, first, causal)
        for start in range(0, stop, stage):
            n = min(stage, stop - start)
            stage_rows(k, kv, start, n, dim, ks)
            stage_rows(v, kv, start, n, dim_v, vs)
            cuda.syncthreads()
            if live:
                for jj in range(n):
                    j = start + jj
                    if causal and j > i:
                        break
                    s = score(dot(qi, ks, jj, dim) * scale, mask, kind, inner, head, i, j)
                    if s == minus_inf:
                        continue
                    if s > m:
                        # exp(-inf) = 0 for the first key: total and o are still 0.
                        alpha = math.exp(m - s)
                        total *= alpha
                        for d in range(dim_v):
                            o[d] *= alpha
                        m = s
                    p = math.exp(s - m)
                    total += p
                    for d in range(dim_v):
                        o[d] += p * vs[jj, d]
            cuda.syncthreads()
        if live:
            if total == 0:  # nothing to attend to: 0, as PyTorch's safe softmax
                for d in range(dim_v):
                    out[head, i, d] = 0
                lse[head, i] = minus_inf
            else:
                for d in range(dim_v):
                    out[head, i, d] = o[d] / total
                lse[head, i] = m + math.log(total)

    @cuda.jit
    def backward_dq(q, k, v, mask, kind, inner, causal, scale, groups, grad, lse, delta,
                    dq):
        head = cuda.blockIdx.x
        if head >= q.shape[0]:
            return
        first = cuda.blockIdx.y * cuda.blockDim.x
        i = first + cuda.threadIdx.x
        n_keys, dim, dim_v = k.shape[1], q.shape[2], v.shape[2]
        kv = head // groups
        ks = cuda.shared.array((stage, width), acc)
        vs = cuda.shared.array((stage, width), acc)
        qi = cuda.local.array(width, acc)
        gi = cuda.local.array(width, acc)
        dqi = cuda.local.array(width, acc)
        live = i < q.shape[1]
        row_lse = acc(minus_inf)
        row_delta = acc(0)
        if live:
            load_row(q, head, i, dim, qi)
            clear(dqi, dim)
            load_row(grad, head, i, dim_v, gi)
            row_lse = lse[head, i]
            row_delta = delta[head, i]
        active = live and row_lse != minus_inf  # a dead row's gradient is 0
        stop = keys_seen(n_keys, first, causal)
        for start in range(0, stop, stage):
            n = min(stage, stop - start)
            stage_rows(k, kv, start, n, dim, ks)
            stage_rows(v, kv, start, n, dim_v, vs)
            cuda.syncthreads()
            if active:
                for jj in range(n):
                    j = start + jj
                    if causal and j > i:
                        break
                    s = score(dot(qi, ks, jj, dim) * scale, mask, kind, inner, head, i, j)
                    if s == minus_inf:
                        continue
                    p = math.exp(s - row_lse)
                    dp = acc(0)
                    for d in range(dim_v):
                        dp += gi[d] * vs[jj, d]
                    ds = p * (dp - row_delta)
                    for d in range(dim):
                        dqi[d] += ds * ks[jj, d]
            cuda.syncthreads()
        if live:
            for d in range(dim):
                dq[head, i, d] = dqi[d] * scale

    @cuda.jit
    def backward_dkv(q, k, v, mask, kind, inner, causal, scale, groups, grad, lse, delta,
                     dk, dv):
        kv = cuda.blockIdx.x
        if kv >= k.shape[0]:
            return
        first = cuda.blockIdx.y * cuda.blockDim.x
        j = first + cuda.threadIdx.x
        n_queries, dim, dim_v = q.shape[1], q.shape[2], v.shape[2]
        qs = cuda.shared.array((stage, width), acc)
        gs = cuda.shared.array((stage, width), acc)
        lse_s = cuda.shared.array(stage, acc)
        delta_s = cuda.shared.array(stage, acc)
        kj = cuda.local.array(width, acc)
        vj = cuda.local.array(width, acc)
        dkj = cuda.local.array(width, acc)
        dvj = cuda.local.array(width, acc)
        live = j < k.shape[1]
        if live:
            load_row(k, kv, j, dim, kj)
            clear(dkj, dim)
            load_row(v, kv, j, dim_v, vj)
            clear(dvj, dim_v)
        begin = 0
        if causal:
            begin = min(first, n_queries)  # earlier queries see none of this block's keys
        for g in range(groups):
            head = kv * groups + g
            for start in range(begin, n_queries, stage):
                n = min(stage, n_queries - start)
                stage_rows(q, head, start, n, dim, qs)
                stage_rows(grad, head, start, n, dim_v, gs)
                for e in range(cuda.threadIdx.x, n, cuda.blockDim.x):
                    lse_s[e] = lse[head, start + e]
                    delta_s[e] = delta[head, start + e]
                cuda.syncthreads()
                if live:
                    for ii in range(n):
                        i = start + ii
                        row_lse = lse_s[ii]
                        if (causal and j > i) or row_lse == minus_inf:
                            continue
                        s = score(dot(kj, qs, ii, dim) * scale, mask, kind, inner, head, i, j)
                        if s == minus_inf:
                            continue
                        p = math.exp(s - row_lse)
                        dp = acc(0)
                        for d in range(dim_v):
                            dvj[d] += p * gs[ii, d]
                            dp += gs[ii, d] * vj[d]
                        ds = p * (dp - delta_s[ii])
                        for d in range(dim):
                            dkj[d] += ds * qs[ii, d]
                cuda.syncthreads()
        if live:
            for d in range(dim):
                dk[kv, j, d] = dkj[d] * scale
            for d in range(dim_v):
                dv[kv, j, d] = dvj[d]

    return forward, backward_dq, backward_dkv


def supports(q, k, v):
    """Can the kernels take these (BH, L, D), (BH / groups, S, D), (BH / groups, S, Dv)?

    >>> supports(np.ones((2, 3, 4)), np.ones((1, 5, 4)), np.ones((1, 5, 200)))
    False
    """
    return (q.ndim == k.ndim == v.ndim == 3 and q.shape[2] <= MAX_HEAD_DIM
            and v.shape[2] <= MAX_HEAD_DIM and k.shape[0] == v.shape[0] > 0
            and q.shape[0] % k.shape[0] == 0)


def broadcast_mask(mask, lead):
    """``mask`` (broadcastable to lead + (L, S)) as the kernels' (M, Lm, Sm) and ``inner``.

    Head ``b`` of the flattened ``lead`` reads mask ``(b // inner) % M``: a mask whose
    non-broadcast lead dims are one contiguous run (per batch, per head, both, or neither)
    needs no copy; any other one is broadcast over ``lead`` in memory.

    >>> m, inner = broadcast_mask(np.ones((2, 1, 3, 4), bool), (2, 5))
    >>> m.shape, inner
    ((2, 3, 4), 5)
    """
    xp = _launch.array_module(mask)
    rank = len(lead) + 2
    shape = (1,) * (rank - mask.ndim) + tuple(mask.shape)
    mask = mask.reshape(shape)
    full = [d for d in range(len(lead)) if shape[d] != 1]
    if not full:
        return _launch.contiguous(mask.reshape((1,) + shape[-2:])), 1
    a, b = full[0], full[-1] + 1
    if all(shape[d] == lead[d] for d in range(a, b)):
        count = math.prod(lead[a:b])
        return _launch.contiguous(mask.reshape((count,) + shape[-2:])), math.prod(lead[b:])
    spread = xp.broadcast_to(mask, tuple(lead) + shape[-2:])
    return _launch.contiguous(spread).reshape((-1,) + shape[-2:]), 1


def _mask_args(q, mask, inner):
    if mask is None:
        return _launch.zeros(q, (1, 1, 1), _launch.accumulator(q.dtype)), NO_MASK, 1
    kind = BOOL_MASK if mask.dtype == np.bool_ else ADD_MASK
    return _launch.contiguous(mask), kind, inner


def _grid(heads, rows):
    return (heads, _launch.blocks_for(rows, QUERY_ROWS))


def attention_forward(q, k, v, mask=None, inner=1, causal=False, scale=1.0):
    """softmax(q k^T * scale (+ mask)) v per head: (out (BH, L, Dv), logsumexp (BH, L)).

    >>> q = np.zeros((1, 2, 4))
    >>> out, lse = attention_forward(q, q, np.array([[[1.0], [3.0]]]), causal=True)
    >>> out.ravel(), lse.ravel().round(4)
    (array([1., 2.]), array([0.    , 0.6931]))
    """
    q, k, v = (_launch.contiguous(a) for a in (q, k, v))
    acc = _launch.accumulator(q.dtype)
    mask, kind, inner = _mask_args(q, mask, inner)
    out = _launch.empty(q, q.shape[:2] + v.shape[2:])
    lse = _launch.empty(q, q.shape[:2], acc)
    forward = _kernels(q.dtype)[0]
    _launch.launch(forward, _grid(q.shape[0], q.shape[1]), QUERY_ROWS, q, k, v, mask, kind,
                   inner, bool(causal), acc(scale), q.shape[0] // k.shape[0], out, lse)
    return out, lse


def attention_backward(grad, q, k, v, out, lse, mask=None, inner=1, causal=False,
                       scale=1.0):
    """(dq, dk, dv) of :func:`attention_forward`, from its output and logsumexp.

    >>> q, v = np.zeros((1, 2, 4)), np.array([[[1.0], [3.0]]])
    >>> out, lse = attention_forward(q, q, v)
    >>> dq, dk, dv = attention_backward(np.ones((1, 2, 1)), q, q, v, out, lse)
    >>> dv.ravel(), float(abs(dq).max())
    (array([1., 1.]), 0.0)
    """
    grad, q, k, v = (_launch.contiguous(a) for a in (grad, q, k, v))
    acc = _launch.accumulator(q.dtype)
    mask, kind, inner = _mask_args(q, mask, inner)
    delta = (grad.astype(acc) * out.astype(acc)).sum(axis=-1)
    dq = _launch.empty(q, q.shape)
    dk = _launch.empty(k, k.shape)
    dv = _launch.empty(v, v.shape)
    _, backward_dq, backward_dkv = _kernels(q.dtype)
    groups = q.shape[0] // k.shape[0]
    common = (q, k, v, mask, kind, inner, bool(causal), acc(scale), groups, grad, lse, delta)
    _launch.launch(backward_dq, _grid(q.shape[0], q.shape[1]), QUERY_ROWS, *common, dq)
    _launch.launch(backward_dkv, _grid(k.shape[0], k.shape[1]), QUERY_ROWS, *common, dk, dv)
    return dq, dk, dv
