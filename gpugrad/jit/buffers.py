"""The static memory plan of a replay on NumPy: ops write into buffers the plan keeps.

An eager step allocates every activation and gradient and frees it again; a replay knows
the schedule, so the large outputs of ops that can write into a given array (``out=``: the
products, the elementwise arithmetic, ReLU) go to buffers allocated once with the plan and
reused on every replay, and slots whose lifetimes do not overlap share one buffer.

A slot gets a buffer only when no array made from it can outlive the replay or be read
out of order:

* every slot sharing memory with it in the trace (a reshape, a transpose, a gradient that
  is its input as it is) counts as it, and the buffer stays taken until the last of them
  was read;
* none of them is returned, handed to a leaf's ``.grad`` (which may keep it), assigned to
  ``.grad`` or returned by ``.numpy()``;
* a backward formula replayed whole (a ``Node``) reads its op's context, which may hold the
  op's inputs and output: those stay taken until that formula ran; the same for an op whose
  parameters are read from another op's context.

On CuPy the memory pool already hands freed blocks back, and a CUDA graph's private pool
fixes every address: there the plan allocates as eager mode does.
"""
import heapq

import numpy as np

from ..nn.functional.linear import Linear
from ..ops.arithmetic import Add, Div, Mul, Neg, Sub
from ..ops.linalg import MatMul
from ..ops.unary import Relu, Tanh
from .instructions import CALL, HOST, LEAF, NODE, OP, SETGRAD, reads, writes

MIN_BYTES = 1 << 14  # below this NumPy's allocation is as cheap as a buffer's bookkeeping


def _matmul(ctx, xp, out, a, b):
    return xp.matmul(a, b, out=out)


def _linear(ctx, xp, out, x, weight, bias=None):
    rows = out.reshape(-1, out.shape[-1])  # a view: out is C-contiguous
    xp.matmul(x.reshape(-1, x.shape[-1]), weight.T, out=rows)
    if bias is not None:
        rows += bias
    return out


def _relu(ctx, xp, out, a):
    return xp.maximum(a, 0, out=out)


def _ufunc(name):
    def write(ctx, xp, out, *arrays):
        return getattr(xp, name)(*arrays, out=out)
    write.__name__ = f"_{name}"
    return write


# op class -> a function computing the op's forward into ``out``, bit for bit
# (tests/test_compile_buffers.py holds each to its op's forward)
WRITERS = {MatMul: _matmul, Linear: _linear, Relu: _relu, Add: _ufunc("add"),
           Sub: _ufunc("subtract"), Mul: _ufunc("multiply"), Div: _ufunc("true_divide"),
           Neg: _ufunc("negative"), Tanh: _ufunc("tanh")}


def _writable(cls, ins_arrays, out):
    """Can ``WRITERS[cls]`` make ``out`` (as traced) from ``ins_arrays``?"""
    if cls not in WRITERS or type(out) is not np.ndarray or out.nbytes < MIN_BYTES:
        return False
    if not out.flags.c_contiguous or out.dtype.kind != "f":  # bfloat16 is kind "V"
        return False
    for a in ins_arrays:
        if type(a) is not np.ndarray or a.dtype != out.dtype:
            return False
    if cls is Linear:  # its 2-d product over the rows of x
        return ins_arrays[0].ndim >= 2 and ins_arrays[1].ndim == 2
    if cls is MatMul:
        return ins_arrays[0].ndim >= 2 and ins_arrays[1].ndim >= 2
    return True


def assign(code, arrays, outputs):
    """{instruction index: (writer, buffer)} for ``code`` (a plan's instructions) traced
    with ``arrays`` (slot -> the traced array); ``outputs`` as ``Plan.outputs``."""
    group = _memory_groups(arrays)
    end = _lifetimes(code, group)
    pinned = _escaping(code, outputs, group)
    free = {}  # (shape, dtype) -> buffers whose slots are all dead
    taken = []  # a heap of (end, instruction, key, buffer)
    chosen = {}
    for i, ins in enumerate(code):
        while taken and taken[0][0] < i:
            _, _, key, buffer = heapq.heappop(taken)
            free.setdefault(key, []).append(buffer)
        if ins[0] != OP or ins[4] or ins[5] or ins[10]:
            continue
        out = ins[6]
        traced = arrays[out]
        if group[out] in pinned or out in ins[3]:
            continue
        if not _writable(_class_of(ins), [arrays[s] for s in ins[3]], traced):
            continue
        key = (traced.shape, traced.dtype)
        pool = free.get(key)
        buffer = pool.pop() if pool else np.empty(traced.shape, traced.dtype)
        heapq.heappush(taken, (end[group[out]], i, key, buffer))
        chosen[i] = (WRITERS[_class_of(ins)], buffer)
    return chosen


def _class_of(ins):
    return type(ins[2])  # an op's context is an instance of its Function class


def _memory_groups(arrays):
    """slot -> a key shared by all slots whose traced arrays share memory."""
    roots = {}
    group = {}
    for slot, array in enumerate(arrays):
        root = array
        while isinstance(getattr(root, "base", None), np.ndarray):
            root = root.base
        group[slot] = roots.setdefault(id(root), slot)
    return group


def _lifetimes(code, group):
    """group -> index of the last instruction that reads or writes one of its slots, or
    reads the context of an op that touched one (see the module docstring)."""
    end = {}
    op_at = {id(ins[2]): i for i, ins in enumerate(code) if ins[0] == OP}
    for i, ins in enumerate(code):
        for s in writes(ins) + tuple(reads(ins)):
            end[group[s]] = i
        for j in _contexts_read(ins, op_at):
            for s in code[j][3] + (code[j][6],):
                end[group[s]] = max(end.get(group[s], i), i)
    return end


def _contexts_read(ins, op_at):
    """Indices of the ops whose contexts instruction ``ins`` reads beyond its slots."""
    if ins[0] == NODE:
        j = op_at.get(id(ins[2]))
        return () if j is None else (j,)
    if ins[0] == OP:
        return tuple(op_at[id(ctx)] for ctx in _attr_sources(t for _, t in ins[5])
                     if id(ctx) in op_at)
    return ()


def _attr_sources(templates):
    """The contexts parameter templates read attributes of."""
    for t in templates:
        if t[0] == "attr":
            yield t[1]
        elif t[0] == "seq":
            yield from _attr_sources(t[2])


def _escaping(code, outputs, group):
    """Groups an array of which may be kept after the replay (returned, a leaf's gradient,
    an assigned ``.grad``, a ``.numpy()`` view)."""
    pinned = {group[o[1]] for o in outputs if o[0] == "slot"}
    for ins in code:
        if ins[0] in (LEAF, SETGRAD, CALL):
            pinned.update(group[s] for s in reads(ins))
        elif ins[0] == HOST and ins[2] == "numpy":
            pinned.add(group[ins[1]])
    return pinned
