"""Batching rules of the matrix products (matmul, mm, bmm, dot, outer, linear, einsum):
the batch dims lead, so each product is one batched GEMM, or one GEMM over all rows when
the other operand is an unbatched matrix.

>>> import gpugrad as gg
>>> gg.func.vmap(lambda x: x @ gg.eye(2))(gg.ones(3, 2)).tolist()
[[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
"""
import string

from ..batching import BatchedTensor, _align, to_physical
from ._common import bind, call, fallback, is_batched, wrap
from ._generic import composite


def _matmul_parts(a, b, levels):
    k = len(levels)
    ra, rb = a.ndim, b.ndim
    pa, pb = _align(a, levels, ra), _align(b, levels, rb)
    # A batch against an unbatched matrix is one GEMM over all rows. An input expanded
    # along a batch dim (a primal under jacrev) has stride 0 there, which sends NumPy's
    # matmul down a slow non-BLAS loop: a copy costs far less.
    if not isinstance(b, BatchedTensor) and rb == 2:
        return _rows_times(pa.contiguous(), b)
    if not isinstance(a, BatchedTensor) and ra == 2 and rb == 1:
        return _rows_times(pb.contiguous(), a.transpose(0, 1))
    if ra == 1:
        pa = pa.unsqueeze(-2)
    if rb == 1:
        pb = pb.unsqueeze(-1)
    r = max(pa.ndim, pb.ndim) - k
    pa = pa.reshape(pa.shape[:k] + (1,) * (r - pa.ndim + k) + pa.shape[k:])
    pb = pb.reshape(pb.shape[:k] + (1,) * (r - pb.ndim + k) + pb.shape[k:])
    out = pa.contiguous() @ pb.contiguous()
    if ra == 1:
        out = out.squeeze(-2)
    if rb == 1:
        out = out.squeeze(-1)
    return out


def _rows_times(p, matrix):
    """Every row of ``p`` (any leading dims) times the plain ``matrix``, as one GEMM."""
    rows = p if p.ndim == 2 else p.reshape(-1, p.shape[-1])
    out = rows @ matrix
    return out if p.ndim == 2 else out.reshape(p.shape[:-1] + (matrix.shape[-1],))


def _matmul(op, fn, levels, args, kwargs):
    kw, names = bind(fn, args, kwargs)
    a, b = kw[names[0]], kw[names[1]]
    if a.ndim == 0 or b.ndim == 0 or (op == "dot" and (a.ndim, b.ndim) != (1, 1)):
        return fallback(op, fn, levels, args, kwargs)
    if op in ("mm", "bmm"):
        want = 2 if op == "mm" else 3
        if a.ndim != want or b.ndim != want:
            raise RuntimeError(f"{op}: expected {want}-D tensors, got {a.ndim}-D and "
                               f"{b.ndim}-D")
    return wrap(_matmul_parts(a, b, levels), levels)


def _outer(op, fn, levels, args, kwargs):
    kw, names = bind(fn, args, kwargs)
    pa = _align(kw[names[0]], levels, 1)
    pb = _align(kw[names[1]], levels, 1)
    return wrap(pa.unsqueeze(-1) * pb.unsqueeze(-2), levels)


def _trace(op, fn, levels, args, kwargs):
    x = args[0] if args else kwargs["input"]
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim}")
    return x.diagonal(0, 0, 1).sum(-1)


def _linear(op, fn, levels, args, kwargs):
    kw, names = bind(fn, args, kwargs)
    x, w, b = kw["input"], kw["weight"], kw.get("bias")
    if not is_batched(w, b):
        return wrap(call(fn, (), dict(kw, input=_align(x, levels, x.ndim))), levels)
    out = x @ w.transpose(-1, -2)
    return out if b is None else out + b


def _einsum(op, fn, levels, args, kwargs):
    equation, operands = args[0], list(args[1:])
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if not arrow:  # the implicit output: letters seen once, in order, after any ellipsis
        letters = [c for c in lhs if c.isalpha()]
        rhs = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1))
    spare = [c for c in string.ascii_letters if c not in equation]
    batch = "".join(spare[:len(levels)])
    new = ",".join(batch + t for t in terms) + "->" + batch + rhs
    phys = [to_physical(t, levels) for t in operands]
    return wrap(call(fn, (new, *phys), {}), levels)


RULES = {
    "matmul": _matmul, "mm": _matmul, "bmm": _matmul, "dot": _matmul, "outer": _outer,
    "trace": _trace, "linear": _linear, "einsum": _einsum,
    # written with public ops, each batched by its own rule
    "addmm": composite, "kron": composite, "cdist": composite, "bilinear": composite,
}
