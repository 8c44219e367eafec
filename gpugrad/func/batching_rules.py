"""The batching rules of ``gg.func.vmap``: how each public op runs on batched tensors.

A rule gets the op's name, its undecorated function, the vmap levels its arguments are
batched at (ids, outermost first) and the arguments, and calls the function once on
physical tensors (``batching.py`` describes them): it aligns batch dims and ranks for
broadcasting ops, moves ``dim`` arguments past the batch dims, folds the batch into N for
convolutions, and so on. Rules may also call public ops on batched tensors (a composite,
dispatched again). An op without a rule runs once per example (``_fallback``).

>>> import gpugrad as gg
>>> gg.func.vmap(lambda x: x.cumsum(0))(gg.ones(2, 3)).tolist()
[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
"""
import inspect
import itertools
import math
import string
import warnings

from ..ops import errors as _errors
from ..tensor import Tensor
from .batching import BatchedTensor, VmapFallbackWarning, _align, _modes, _ops, _sizes, batched

__all__ = ["run"]


def run(op, fn, levels, args, kwargs):
    """Run public op ``op`` (undecorated: ``fn``) on arguments batched at ``levels`` by
    its batching rule, or once per example when it has none.

    >>> from gpugrad.func import batching
    >>> level = batching.enter_level(2, "error")
    >>> x = batching.batched(gg.ones(2, 3), (level,))
    >>> run("sum", gg.sum.__wrapped__, (level,), (x,), {}).shape
    ()
    >>> batching.exit_level(level)
    """
    return _RULES.get(op, _fallback)(op, fn, levels, args, kwargs)


# ---- helpers -----------------------------------------------------------------------------
_PARAMS = {}  # op function -> (parameter names, their defaults)


def _bind(fn, args, kwargs):
    """The call's arguments by name, defaults filled in, and the parameter names."""
    found = _PARAMS.get(fn)
    if found is None:
        params = inspect.signature(fn).parameters.values()
        found = _PARAMS[fn] = ([p.name for p in params],
                               {p.name: p.default for p in params if p.default is not p.empty})
    names, defaults = found
    kw = dict(defaults)
    kw.update(zip(names, args))
    kw.update(kwargs)
    return kw, names


def _run(fn, args, kwargs):
    """Call ``fn`` on physical tensors in their device context, as the op boundary would."""
    subject = next((a for a in itertools.chain(args, kwargs.values())
                    if isinstance(a, Tensor)), None)
    scope = None if subject is None else _errors._device_scope(subject)
    if scope is None:
        return fn(*args, **kwargs)
    with scope:
        return fn(*args, **kwargs)


def _wrap(out, levels):
    if isinstance(out, Tensor):
        return BatchedTensor(out, levels)
    if isinstance(out, tuple):
        items = [_wrap(o, levels) for o in out]
        return type(out)(*items) if hasattr(out, "_fields") else tuple(items)
    if isinstance(out, list):
        return [_wrap(o, levels) for o in out]
    return out


def _full(t, levels, rank):
    """``_align``, with the batch dims expanded to their sizes (ops that do not broadcast)."""
    p = _align(t, levels, rank)
    sizes = tuple(_sizes[lv] for lv in levels)
    if p.shape[:len(levels)] != sizes:
        p = p.expand(sizes + p.shape[len(levels):])
    return p


def _shift(dim, rank, k, name="dim"):
    """Logical dim(s) ``dim`` of a rank-``rank`` tensor as physical dims (k batch dims)."""
    if isinstance(dim, (tuple, list)):
        return tuple(_shift(d, rank, k, name) for d in dim)
    if not isinstance(dim, int):
        raise TypeError(f"{name} must be an int, got {type(dim).__name__}")
    top = max(rank, 1)
    if not -top <= dim < top:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-top}, "
                         f"{top - 1}], but got {dim})")
    return dim % top + k


def _rank(kw):
    return max((v.ndim for v in kw.values() if isinstance(v, Tensor)), default=0)


# ---- rules -------------------------------------------------------------------------------
def _pointwise(op, fn, levels, args, kwargs):
    """Elementwise ops and ops acting on trailing dims: align batch dims and ranks. (An
    unbatched tensor needs nothing: broadcasting lines up trailing dims, and its missing
    leading dims broadcast against the batch dims.)"""
    tensors = [a for a in itertools.chain(args, kwargs.values()) if isinstance(a, Tensor)]
    rank = max(t.ndim for t in tensors)
    args = [_align(a, levels, rank) if isinstance(a, BatchedTensor) else a for a in args]
    kwargs = {n: _align(a, levels, rank) if isinstance(a, BatchedTensor) else a
              for n, a in kwargs.items()}
    return _wrap(_run(fn, args, kwargs), levels)


def _trailing(op, fn, levels, args, kwargs):
    """Ops that act on their first argument's trailing dims and take the others
    unbatched (layer_norm, embedding's weight, pad, bucketize's boundaries)."""
    kw, names = _bind(fn, args, kwargs)
    if any(isinstance(kw[n], BatchedTensor) for n in names[1:] if n in kw):
        return _fallback(op, fn, levels, args, kwargs)
    first = kw[names[0]]
    kw[names[0]] = _align(first, levels, first.ndim)
    return _wrap(_run(fn, (), kw), levels)


_ALL_WHEN_NONE = {"sum", "mean", "prod", "amax", "amin", "max", "min", "argmax", "argmin",
                  "any", "all", "count_nonzero", "var", "std", "norm", "logsumexp"}


def _reduction(op, fn, levels, args, kwargs):
    """``dim`` shifts past the batch dims; ``dim=None`` reduces every logical dim."""
    kw, names = _bind(fn, args, kwargs)
    x = kw[names[0]]
    k, rank = len(levels), x.ndim
    p = _align(x, levels, rank)
    dim = kw.get("dim")
    keep = kw.get("keepdim", False)
    if dim is None or dim == ():
        kw[names[0]] = p.reshape(p.shape[:k] + (-1,))
        kw["dim"] = k
        if "keepdim" in names:
            kw["keepdim"] = False
        out = _run(fn, (), kw)
        if op in ("max", "min"):  # with a dim they also give the indices
            out = out[0]
        if keep:
            out = _map(lambda o: o.reshape(o.shape[:k] + (1,) * rank), out)
        return _wrap(out, levels)
    kw[names[0]] = p
    kw["dim"] = _shift(dim, rank, k)
    return _wrap(_run(fn, (), kw), levels)


def _map(f, out):
    if isinstance(out, tuple):
        items = [f(o) for o in out]
        return type(out)(*items) if hasattr(out, "_fields") else tuple(items)
    return f(out)


def _dims(*dim_names, rank_plus=0, full=False, none=None, keep=()):
    """A rule for ops whose ``dim_names`` parameters are dims of the (aligned) tensors;
    ``rank_plus`` for dims of the result (unsqueeze's), ``full`` for ops that do not
    broadcast their tensors (gather, scatter), ``none`` the logical dim meant by None,
    ``keep`` tensor parameters taken as they are (an index), which must not be batched."""
    def rule(op, fn, levels, args, kwargs):
        kw, names = _bind(fn, args, kwargs)
        if any(isinstance(kw.get(n), BatchedTensor) for n in keep):
            return _fallback(op, fn, levels, args, kwargs)
        rank = max((v.ndim for n, v in kw.items() if isinstance(v, Tensor) and n not in keep),
                   default=0)
        k = len(levels)
        align = _full if full else _align
        for n in names:
            v = kw.get(n)
            if isinstance(v, Tensor) and n not in keep:
                kw[n] = align(v, levels, rank)
        for n in dim_names:
            v = kw.get(n)
            if v is None:
                if none is None:
                    continue
                v = none(rank)
            kw[n] = _shift(v, rank + rank_plus, k, n)
        return _wrap(_run(fn, (), kw), levels)
    return rule


def _legacy_softmax_dim(rank):
    return 0 if rank in (0, 1, 3) else 1


def _join(op, fn, levels, args, kwargs):
    """cat and stack: every tensor expanded to the full batch, ``dim`` shifted."""
    kw, names = _bind(fn, args, kwargs)
    tensors = list(kw[names[0]])
    rank = tensors[0].ndim
    kw[names[0]] = [_full(t, levels, t.ndim) for t in tensors]
    kw["dim"] = _shift(kw.get("dim", 0), rank + (op == "stack"), len(levels))
    return _wrap(_run(fn, (), kw), levels)


def _squeeze(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    x = kw[names[0]]
    if kw.get("dim") is None:  # every logical dim of size 1, and no batch dim
        kw["dim"] = tuple(i for i, s in enumerate(x.shape) if s == 1)
    return _dims("dim")(op, fn, levels, (), kw)


def _trace(op, fn, levels, args, kwargs):
    x = args[0] if args else kwargs["input"]
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim}")
    return x.diagonal(0, 0, 1).sum(-1)


def _pad(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    if kw.get("mode", "constant") != "constant":
        return _fallback(op, fn, levels, args, kwargs)
    return _trailing(op, fn, levels, args, kwargs)


def _one_hot(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    if kw.get("num_classes", -1) < 0:  # the class count would depend on the whole batch
        return _fallback(op, fn, levels, args, kwargs)
    return _trailing(op, fn, levels, args, kwargs)


def _norm_affine(op, fn, levels, args, kwargs):
    """layer_norm and rms_norm: batched weights or biases are applied after normalizing."""
    kw, names = _bind(fn, args, kwargs)
    w, b = kw.get("weight"), kw.get("bias")
    if not isinstance(w, BatchedTensor) and not isinstance(b, BatchedTensor):
        return _trailing(op, fn, levels, args, kwargs)
    kw["weight"] = None
    if "bias" in kw:
        kw["bias"] = None
    out = getattr(_functional(), op)(**kw)
    out = out if w is None else out * w
    return out if b is None else out + b


def _batch_norm(op, fn, levels, args, kwargs):
    """Evaluation-mode batch norm (running statistics) is per example: fold into N. In
    training mode each example has statistics of its own: per example (the fallback)."""
    kw, names = _bind(fn, args, kwargs)
    if kw.get("training"):
        return _fallback(op, fn, levels, args, kwargs)
    return _fold(1)(op, fn, levels, args, kwargs)


def _embedding(op, fn, levels, args, kwargs):
    """A batched table looked up with unbatched indices is an index of the table."""
    kw, names = _bind(fn, args, kwargs)
    plain = kw.get("padding_idx") is None and kw.get("max_norm") is None
    if isinstance(kw["weight"], BatchedTensor) and plain and \
            not isinstance(kw["input"], BatchedTensor):
        return kw["weight"][kw["input"]]
    return _trailing(op, fn, levels, args, kwargs)


def _attention(op, fn, levels, args, kwargs):
    """scaled_dot_product_attention acts on the last two dims: batch dims lead."""
    kw, names = _bind(fn, args, kwargs)
    rank = _rank(kw)
    for n in ("query", "key", "value", "attn_mask"):
        if isinstance(kw.get(n), Tensor):
            kw[n] = _full(kw[n], levels, rank)
    return _wrap(_run(fn, (), kw), levels)


def _reshape(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    p = _align(kw[names[0]], levels, kw[names[0]].ndim)
    shape = kw[names[1]]
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _wrap(p.reshape(p.shape[:len(levels)] + shape), levels)


def _expand(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    shape = kw[names[1]]
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    p = _align(kw[names[0]], levels, len(shape))
    return _wrap(p.expand(p.shape[:len(levels)] + shape), levels)


def _permute(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    x = kw[names[0]]
    k = len(levels)
    dims = _shift(tuple(kw[names[1]]), x.ndim, k)
    return _wrap(_align(x, levels, x.ndim).permute(tuple(range(k)) + dims), levels)


def _t(op, fn, levels, args, kwargs):
    x = args[0] if args else kwargs["input"]
    if x.ndim < 2:
        return x
    k = len(levels)
    return _wrap(_align(x, levels, x.ndim).transpose(k, k + 1), levels)


def _sum_to_size(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    x, shape = kw[names[0]], tuple(kw[names[1]])
    k = len(levels)
    p = _align(x, levels, x.ndim)
    lead = x.ndim - len(shape)
    if lead > 0:
        p = p.sum(dim=tuple(range(k, k + lead)))
    return _wrap(p.sum_to_size(p.shape[:k] + shape), levels)


def _repeat(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    x, sizes = kw[names[0]], tuple(kw[names[1]])
    if len(sizes) < x.ndim:  # tile pads its dims in front
        sizes = (1,) * (x.ndim - len(sizes)) + sizes
    p = _align(x, levels, len(sizes))
    return _wrap(p.repeat((1,) * len(levels) + sizes), levels)


def _getitem(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    x, index = kw[names[0]], kw[names[1]]
    index = index if isinstance(index, tuple) else (index,)
    advanced = [i for i, v in enumerate(index)
                if isinstance(v, (Tensor, list)) or hasattr(v, "__array__")]
    mixed = advanced and (any(isinstance(v, int) and not isinstance(v, bool) for v in index)
                          or advanced[-1] - advanced[0] != len(advanced) - 1)
    if any(isinstance(v, BatchedTensor) for v in index) or mixed:
        return _fallback(op, fn, levels, args, kwargs)
    p = _align(x, levels, x.ndim)
    return _wrap(p[(slice(None),) * len(levels) + index], levels)


def _matmul_parts(a, b, levels):
    k = len(levels)
    ra, rb = a.ndim, b.ndim
    pa, pb = _align(a, levels, ra), _align(b, levels, rb)
    # A batch against an unbatched matrix is one GEMM over all rows. An input expanded
    # along a batch dim (a primal under jacrev) has stride 0 there, which sends NumPy's
    # matmul down a slow non-BLAS loop: a copy costs far less.
    if not isinstance(b, BatchedTensor) and rb == 2:
        pa = pa.contiguous()
        rows = pa if pa.ndim == 2 else pa.reshape(-1, pa.shape[-1])
        out = rows @ b
        return out if pa.ndim == 2 else out.reshape(pa.shape[:-1] + (b.shape[-1],))
    if not isinstance(a, BatchedTensor) and ra == 2 and rb == 1:
        pb = pb.contiguous()
        rows = pb if pb.ndim == 2 else pb.reshape(-1, pb.shape[-1])
        out = rows @ a.transpose(0, 1)
        return out if pb.ndim == 2 else out.reshape(pb.shape[:-1] + (a.shape[0],))
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


def _matmul(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    a, b = kw[names[0]], kw[names[1]]
    if a.ndim == 0 or b.ndim == 0 or (op == "dot" and (a.ndim, b.ndim) != (1, 1)):
        return _fallback(op, fn, levels, args, kwargs)
    if op in ("mm", "bmm"):
        want = 2 if op == "mm" else 3
        if a.ndim != want or b.ndim != want:
            raise RuntimeError(f"{op}: expected {want}-D tensors, got {a.ndim}-D and "
                               f"{b.ndim}-D")
    return _wrap(_matmul_parts(a, b, levels), levels)


def _outer(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    pa = _align(kw[names[0]], levels, 1)
    pb = _align(kw[names[1]], levels, 1)
    return _wrap(pa.unsqueeze(-1) * pb.unsqueeze(-2), levels)


def _linear(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    x, w, b = kw["input"], kw["weight"], kw.get("bias")
    if not isinstance(w, BatchedTensor) and not isinstance(b, BatchedTensor):
        return _wrap(_run(fn, (), dict(kw, input=_align(x, levels, x.ndim))), levels)
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
    phys = [_full(t, levels, t.ndim) for t in operands]
    return _wrap(_run(fn, (new, *phys), {}), levels)


def _fold(core):
    """Ops on (N, C, ...) or unbatched (C, ...) inputs of ``core`` + 1 or ``core`` dims
    (convolutions, pooling, group norm): the batch dims fold into N."""
    def rule(op, fn, levels, args, kwargs):
        kw, names = _bind(fn, args, kwargs)
        if any(isinstance(kw[n], BatchedTensor) for n in names[1:] if n in kw):
            return _fallback(op, fn, levels, args, kwargs)
        x = kw[names[0]]
        k = len(levels)
        p = _align(x, levels, x.ndim)
        lead = p.shape[:k + (x.ndim > core)]
        kw[names[0]] = p.reshape((-1,) + p.shape[len(lead):])
        out = _run(fn, (), kw)
        return _wrap(_map(lambda o: o.reshape(lead + o.shape[1:]), out), levels)
    return rule


def _conv(core):
    """Convolutions: with unbatched weights the batch folds into N (``_fold``); batched
    weights become groups: examples side by side along the channels, one group each."""
    fold = _fold(core)

    def rule(op, fn, levels, args, kwargs):
        kw, names = _bind(fn, args, kwargs)
        if not isinstance(kw["weight"], BatchedTensor) and \
                not isinstance(kw.get("bias"), BatchedTensor):
            return fold(op, fn, levels, args, kwargs)
        if op.startswith("conv_transpose"):
            return _fallback(op, fn, levels, args, kwargs)
        x, w, b = kw["input"], kw["weight"], kw.get("bias")
        k = len(levels)
        sizes = tuple(_sizes[lv] for lv in levels)
        count = math.prod(sizes)
        unbatched = x.ndim == core
        px = _full(x, levels, x.ndim)
        if unbatched:
            px = px.unsqueeze(k)
        px = px.reshape((count,) + px.shape[k:])  # (P, N, C, ...)
        px = px.transpose(0, 1).reshape((px.shape[1], -1) + px.shape[3:])  # (N, P*C, ...)
        pw = _full(w, levels, w.ndim)
        kw["input"] = px
        kw["weight"] = pw.reshape((-1,) + pw.shape[k + 1:])  # (P*O, C/g, ...)
        if b is not None:
            kw["bias"] = _full(b, levels, 1).reshape(-1)
        kw["groups"] = kw.get("groups", 1) * count
        out = _run(fn, (), kw)  # (N, P*O, ...)
        out = out.reshape((out.shape[0], count, -1) + out.shape[2:]).transpose(0, 1)
        out = out.reshape(sizes + out.shape[1:])  # (batch..., N, O, ...)
        return _wrap(out.squeeze(k) if unbatched else out, levels)
    return rule


_ELEMENTWISE_LOSSES = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div",
                       "binary_cross_entropy", "binary_cross_entropy_with_logits"}


def _loss(op, fn, levels, args, kwargs):
    """Elementwise losses: computed with reduction='none', then reduced per example."""
    kw, names = _bind(fn, args, kwargs)
    reduction = kw.get("reduction", "mean")
    rank = _rank(kw)
    shape = None
    for n in names:
        if isinstance(kw.get(n), Tensor):
            kw[n] = _full(kw[n], levels, rank)
            shape = kw[n].shape if shape is None else _broadcast_shape(shape, kw[n].shape)
    for n in names:  # losses warn about targets that broadcast: give them the full shape
        if isinstance(kw.get(n), Tensor) and kw[n].shape != shape:
            kw[n] = kw[n].expand(shape)
    kw["reduction"] = "none"
    out = _run(fn, (), kw)
    k = len(levels)
    dims = tuple(range(k, out.ndim))
    if reduction == "mean":
        out = out.mean(dim=dims) if dims else out
    elif reduction == "sum":
        out = out.sum(dim=dims) if dims else out
    elif reduction == "batchmean":
        out = out.sum(dim=dims) / (out.shape[k] if dims else 1)
    return _wrap(out, levels)


def _class_loss(op, fn, levels, args, kwargs):
    """cross_entropy and nll_loss: the batch folds into N, the loss is computed with
    reduction='none' and reduced per example ('mean' over the weights of kept targets)."""
    kw, names = _bind(fn, args, kwargs)
    x, target, weight = kw["input"], kw["target"], kw.get("weight")
    if not isinstance(target, Tensor) or isinstance(weight, BatchedTensor) or (
            weight is not None and kw.get("label_smoothing", 0.0)):
        return _fallback(op, fn, levels, args, kwargs)
    k = len(levels)
    sizes = tuple(_sizes[lv] for lv in levels)
    px, pt = _full(x, levels, x.ndim), _full(target, levels, target.ndim)
    if x.ndim == 1:  # one example of C classes: an N of 1
        px, pt = px.unsqueeze(k), pt.unsqueeze(k)
    kw["input"] = px.reshape((-1,) + px.shape[k + 1:])
    kw["target"] = pt.reshape((-1,) + pt.shape[k + 1:])
    reduction, kw["reduction"] = kw["reduction"], "none"
    loss = _run(fn, (), kw).reshape(sizes + pt.shape[k:] if target.dtype.kind != "f"
                                    else sizes + (pt.shape[k],) + pt.shape[k + 2:])
    dims = tuple(range(k, loss.ndim))
    if reduction == "sum":
        loss = loss.sum(dim=dims)
    elif reduction == "mean" and target.dtype.kind == "f":
        loss = loss.mean(dim=dims)
    elif reduction == "mean":
        keep = pt != kw.get("ignore_index", -100)
        if weight is None:
            total = keep.sum(dim=dims)
        else:
            safe = pt.masked_fill(keep.logical_not(), 0)
            total = (weight[safe] * keep).sum(dim=dims)
        loss = loss.sum(dim=dims) / total
    elif x.ndim == 1:
        loss = loss.squeeze(k)
    return _wrap(loss, levels)


def _broadcast_shape(a, b):
    return tuple(max(x, y) for x, y in zip(a, b))


def _roll(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    x = kw[names[0]]
    if kw.get("dims") is None:  # roll the flattened tensor
        return x.flatten().roll(kw["shifts"], 0).reshape(x.shape)
    return _dims("dims")(op, fn, levels, (), kw)


def _masked_fill(op, fn, levels, args, kwargs):
    kw, names = _bind(fn, args, kwargs)
    value = kw[names[2]]
    if isinstance(value, BatchedTensor):
        return _ops().where(kw[names[1]], value, kw[names[0]])
    return _pointwise(op, fn, levels, (), kw)


class RandomnessError(RuntimeError):
    """A random op inside ``vmap(..., randomness="error")``."""


def _randomness(inner):
    """Random ops follow the levels' ``randomness``: 'error' raises, 'different' draws
    independently per example (the physical op already does), 'same' shares the draw
    along those levels (dropout: one mask)."""
    def rule(op, fn, levels, args, kwargs):
        kw, names = _bind(fn, args, kwargs)
        if op.startswith("dropout") and (not kw.get("training", True) or kw.get("p") == 0):
            return inner(op, fn, levels, args, kwargs)
        modes = [_modes[lv] for lv in levels]
        if "error" in modes:
            raise RandomnessError("vmap: called random operation while in randomness error mode. "
                               "Please either use the 'same' or 'different' randomness flags "
                               "on vmap or perform the randomness operation out of vmap")
        if "same" not in modes:
            return inner(op, fn, levels, args, kwargs)
        if not op.startswith("dropout"):
            raise NotImplementedError(f"vmap: randomness='same' is not supported for {op}")
        x = kw[names[0]]
        different = tuple(lv for lv, m in zip(levels, modes) if m == "different")
        p = _align(x, levels, x.ndim)
        ones = p.new_ones(tuple(_sizes[lv] for lv in different) + x.shape)
        mask = getattr(_functional(), op)(batched(ones, different), kw.get("p", 0.5), True)
        return x * mask
    return rule


def _functional():
    from ..nn import functional
    return functional


_INPLACE = {"setitem", "copy_", "fill_"}


def _fallback(op, fn, levels, args, kwargs):
    """Run ``fn`` once per example of the batch and stack the results (slow but general)."""
    if op in _INPLACE or op.endswith("_"):
        raise NotImplementedError(f"vmap: in-place op {op} on a batched tensor is not "
                                  f"supported; use its out-of-place version")
    warnings.warn(f"vmap: {op} has no batching rule, so it runs once per example of the "
                  f"batch (slow)", VmapFallbackWarning, stacklevel=4)
    sizes = [_sizes[lv] for lv in levels]
    results = []
    for idx in itertools.product(*map(range, sizes)):
        pick = dict(zip(levels, idx))
        results.append(_run(fn, [_example(a, pick) for a in args],
                            {n: _example(a, pick) for n, a in kwargs.items()}))
    return _stack(op, results, tuple(sizes), levels)


def _example(a, pick):
    if isinstance(a, BatchedTensor):
        return a._phys[tuple(pick[lv] for lv in a._levels)]
    if a.__class__ in (list, tuple):
        return type(a)(_example(b, pick) for b in a)
    return a


def _stack(op, results, sizes, levels):
    first = results[0]
    if isinstance(first, Tensor):
        shapes = {r.shape for r in results}
        if len(shapes) > 1:
            raise RuntimeError(f"vmap: {op} gives results of different shapes {sorted(shapes)} "
                               f"for different examples, which cannot be batched")
        out = _ops().stack(results, 0)
        return BatchedTensor(out.reshape(sizes + first.shape), levels)
    if isinstance(first, (tuple, list)):
        parts = [_stack(op, list(group), sizes, levels) for group in zip(*results)]
        return type(first)(*parts) if hasattr(first, "_fields") else type(first)(parts)
    raise RuntimeError(f"vmap: {op} returns a {type(first).__name__}, not a Tensor, so its "
                       f"per-example results cannot be batched (data-dependent control flow "
                       f"is not supported inside vmap)")


_RULES = {}
for _name in ("neg exp log log1p sqrt sin cos abs exp2 expm1 log2 log10 rsqrt square "
              "reciprocal erf floor ceil trunc maximum minimum add sub mul pow floor_divide "
              "remainder fmod div round tril triu clamp tanh sigmoid gelu relu leaky_relu "
              "logical_not bitwise_not sign isfinite isnan eq ne lt le gt ge logical_and "
              "logical_or bitwise_and bitwise_or bitwise_xor isclose lerp nan_to_num clone "
              "logsigmoid softsign tanhshrink elu celu softplus silu selu mish relu6 "
              "hardswish hardsigmoid hardtanh pairwise_distance").split():
    _RULES[_name] = _pointwise
for _name in _ALL_WHEN_NONE:
    _RULES[_name] = _reduction
_RULES["bucketize"] = _trailing
_RULES.update({
    "where": lambda op, fn, levels, args, kwargs: (
        _fallback(op, fn, levels, args, kwargs) if len(args) + len(kwargs) < 3
        else _pointwise(op, fn, levels, args, kwargs)),
    "masked_fill": _masked_fill,
    "softmax": _dims("dim", none=_legacy_softmax_dim),
    "log_softmax": _dims("dim", none=_legacy_softmax_dim),
    "cumsum": _dims("dim"), "cumprod": _dims("dim"), "sort": _dims("dim"),
    "argsort": _dims("dim"), "topk": _dims("dim"), "glu": _dims("dim"),
    "normalize": _dims("dim"), "cosine_similarity": _dims("dim"), "narrow": _dims("dim"),
    "unbind": _dims("dim"), "split": _dims("dim"), "chunk": _dims("dim"),
    "diff": _dims("dim"), "squeeze": _squeeze, "trace": _trace, "pad": _pad,
    "one_hot": _one_hot, "embedding": _embedding, "batch_norm": _batch_norm,
    "layer_norm": _norm_affine, "rms_norm": _norm_affine,
    "scaled_dot_product_attention": _attention,
    "unsqueeze": _dims("dim", rank_plus=1),
    "flatten": _dims("start_dim", "end_dim"), "transpose": _dims("dim0", "dim1"),
    "movedim": _dims("source", "destination"), "unflatten": _dims("dim"),
    "diagonal": _dims("dim1", "dim2"), "flip": _dims("dims"),
    "index_select": _dims("dim", keep=("index",)), "gather": _dims("dim", full=True),
    "scatter": _dims("dim", full=True), "scatter_add": _dims("dim", full=True),
    "index_add": _dims("dim", full=True, keep=("index",)),
    "cat": _join, "stack": _join, "roll": _roll, "cross_entropy": _class_loss,
    "nll_loss": _class_loss,
    "reshape": _reshape, "view": _reshape, "expand": _expand, "broadcast_to": _expand,
    "permute": _permute, "t": _t, "sum_to_size": _sum_to_size,
    "repeat": _repeat, "tile": _repeat, "getitem": _getitem,
    "matmul": _matmul, "mm": _matmul, "bmm": _matmul, "dot": _matmul, "outer": _outer,
    "linear": _linear, "einsum": _einsum,
    "conv1d": _conv(2), "conv2d": _conv(3), "conv_transpose1d": _conv(2),
    "conv_transpose2d": _conv(3), "max_pool1d": _fold(2), "max_pool2d": _fold(3),
    "avg_pool1d": _fold(2), "avg_pool2d": _fold(3), "adaptive_avg_pool1d": _fold(2),
    "adaptive_avg_pool2d": _fold(3), "adaptive_max_pool1d": _fold(2),
    "adaptive_max_pool2d": _fold(3), "group_norm": _fold(1), "pixel_shuffle": _fold(3),
    "pixel_unshuffle": _fold(3),
    "dropout": _randomness(_pointwise), "dropout2d": _randomness(_fold(3)),
    "bernoulli": _randomness(_pointwise), "normal": _randomness(_pointwise),
    "multinomial": _randomness(_fallback), "gumbel_softmax": _randomness(_dims("dim")),
})
for _name in _ELEMENTWISE_LOSSES:
    _RULES[_name] = _loss
