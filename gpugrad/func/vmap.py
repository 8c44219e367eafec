"""``vmap``: the vectorizing map of ``torch.func``, as a real batched computation.

``vmap(f)(xs)`` computes ``stack([f(x) for x in xs])``, but runs each op of ``f`` once on
the whole batch (see ``batching.py`` for how): the batch dim of each input becomes a hidden
leading dim that ``f`` does not see. It composes with ``grad``, ``vjp``, ``jvp`` and with
itself (levels), and ``jacrev``/``jacfwd``/``hessian`` are built on it.

>>> import gpugrad as gg
>>> x = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
>>> gg.func.vmap(gg.dot)(x, x).tolist()
[5.0, 25.0]
"""
import functools

from ..ops.views import movedim
from ..tensor import Tensor
from . import batching

__all__ = ["vmap"]


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """The function mapping ``func`` over a batch dim of its inputs, as in
    ``torch.func.vmap``.

    ``in_dims`` says which dim of each input is the batch dim: an int for all of them, or a
    (nested) tuple matching the positional arguments, with None for an argument that is not
    batched (keyword arguments never are). ``out_dims`` says where the batch dim goes in
    each output. ``randomness`` is what random ops (dropout, bernoulli) do on batched
    tensors: ``'error'`` raises, ``'different'`` draws independently per example,
    ``'same'`` draws once for the whole batch. ``chunk_size`` maps that many examples at a
    time (less memory, more ops).

    An op without a batching rule runs once per example, with a ``VmapFallbackWarning``;
    in-place ops on batched tensors, ``.item()`` and Python control flow on values raise.

    >>> import gpugrad as gg
    >>> w = gg.tensor([[1.0, 0.0], [0.0, 2.0]])
    >>> gg.func.vmap(lambda x: w @ x)(gg.tensor([[1.0, 1.0], [2.0, 3.0]])).tolist()
    [[1.0, 2.0], [2.0, 6.0]]
    >>> gg.func.vmap(lambda x, y: x * y, in_dims=(1, None))(gg.ones(2, 3), gg.tensor(2.0)).shape
    (3, 2)
    >>> per_example = gg.func.vmap(gg.func.grad(lambda x: (x ** 2).sum()))
    >>> per_example(gg.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [[2.0, 4.0], [6.0, 8.0]]
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. "
                         f"(got {chunk_size})")

    @functools.wraps(func)
    def vmapped(*args, **kwargs):
        return _call(func, in_dims, out_dims, randomness, chunk_size, args, kwargs)
    return vmapped


def _name(func):
    return getattr(func, "__name__", type(func).__name__)


def _call(func, in_dims, out_dims, randomness, chunk_size, args, kwargs):
    name = _name(func)
    if not args:
        raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add "
                         f"inputs, or you are trying to vmap over a function with no inputs. "
                         f"The latter is unsupported.")
    if not (isinstance(in_dims, (int, tuple)) and not isinstance(in_dims, bool)):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` "
                         f"to be int or a (potentially nested) tuple matching the structure "
                         f"of inputs, got: {type(in_dims)}.")
    leaves, spec = _flatten(args)
    try:
        dims = _broadcast(in_dims if isinstance(in_dims, int) else tuple(in_dims), args)
    except _Mismatch:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not "
                         f"compatible with the structure of `inputs`.") from None
    size = None
    sizes = []
    for leaf, dim in zip(leaves, dims):
        if dim is None:
            continue
        if not isinstance(leaf, Tensor):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim="
                             f"{dim} for an input but the input is of type {type(leaf)}. We "
                             f"cannot vmap over non-Tensor arguments, please use None as the "
                             f"respective in_dim")
        if not isinstance(dim, int) or not -max(leaf.ndim, 1) <= dim < leaf.ndim:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim="
                             f"{dim} for some input, but that input is a Tensor of "
                             f"dimensionality {leaf.ndim} so expected in_dim to satisfy "
                             f"-{leaf.ndim} <= in_dim < {leaf.ndim}.")
        sizes.append(leaf.shape[dim])
    if not sizes:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got all in_dims="
                         f"None, but at least one Tensor input must be batched")
    size = sizes[0]
    if any(s != size for s in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    if chunk_size is not None and chunk_size < size:
        return _chunked(func, leaves, dims, spec, out_dims, randomness, chunk_size, size,
                        kwargs)
    level = batching.enter_level(size, randomness)
    try:
        wrapped = [leaf if dim is None else _add_level(leaf, dim, level)
                   for leaf, dim in zip(leaves, dims)]
        out = func(*_unflatten(wrapped, spec), **kwargs)
        outs, out_spec = _flatten(out)
        try:
            odims = _broadcast(out_dims, out)
        except _Mismatch:
            raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is "
                             f"not compatible with the structure of `outputs`.") from None
        results = [_remove_level(o, d, level, size, name) for o, d in zip(outs, odims)]
    finally:
        batching.exit_level(level)
    return _unflatten(results, out_spec)


def _chunked(func, leaves, dims, spec, out_dims, randomness, chunk_size, size, kwargs):
    """Map ``chunk_size`` examples at a time; the outputs are joined along ``out_dims``."""
    from ..ops.join import cat
    pieces = []
    for start in range(0, size, chunk_size):
        length = min(chunk_size, size - start)
        part = [leaf if dim is None else leaf.narrow(dim, start, length)
                for leaf, dim in zip(leaves, dims)]
        part_dims = _unflatten(list(dims), spec)
        pieces.append(_call(func, part_dims, out_dims, randomness, None,
                            _unflatten(part, spec), kwargs))
    first, out_spec = _flatten(pieces[0])
    odims = _broadcast(out_dims, pieces[0])
    joined = []
    for i, d in enumerate(odims):
        parts = [_flatten(p)[0][i] for p in pieces]
        joined.append(parts[0] if d is None else cat(parts, d))
    return _unflatten(joined, out_spec)


def _add_level(t, dim, level):
    phys, own = batching.unwrap(movedim(t, dim, 0) if dim != 0 else t)
    return batching.BatchedTensor(phys, own + (level,))


def _remove_level(out, dim, level, size, name):
    if not isinstance(out, Tensor):
        raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                         f"{type(out)}. Did you mean to set out_dims= to None for output?")
    phys, own = batching.unwrap(out)
    if level not in own:
        if dim is None:
            return out
        dim = _norm_out_dim(dim, out.ndim + 1)
        return out.unsqueeze(dim).expand(out.shape[:dim] + (size,) + out.shape[dim:])
    if dim is None:
        raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when "
                         f"out_dim is None")
    dim = _norm_out_dim(dim, out.ndim + 1)
    rest = tuple(lv for lv in own if lv != level)
    source, target = own.index(level), len(rest) + dim
    if phys.shape[source] != size:  # broadcast along this level (size 1): make it real
        phys = phys.expand(phys.shape[:source] + (size,) + phys.shape[source + 1:])
    moved = phys if source == target else movedim(phys, source, target)
    return batching.batched(moved, rest)


def _norm_out_dim(dim, rank):
    if not isinstance(dim, int) or not -rank <= dim < rank:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-rank}, "
                         f"{rank - 1}], but got {dim})")
    return dim % rank


# ---- pytrees of arguments: tuples, lists and dicts of leaves -----------------------------
class _Mismatch(Exception):
    pass


def _flatten(tree):
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for item in tree:
            sub, spec = _flatten(item)
            leaves += sub
            specs.append(spec)
        return leaves, (type(tree), specs)
    if isinstance(tree, dict):
        leaves, specs = [], []
        for key in tree:
            sub, spec = _flatten(tree[key])
            leaves += sub
            specs.append(spec)
        return leaves, (dict, list(tree), specs)
    return [tree], None


def _unflatten(leaves, spec):
    items = iter(leaves)
    return _build(items, spec)


def _build(items, spec):
    if spec is None:
        return next(items)
    if spec[0] is dict:
        return {key: _build(items, s) for key, s in zip(spec[1], spec[2])}
    kind, specs = spec
    built = [_build(items, s) for s in specs]
    if hasattr(kind, "_fields"):
        return kind(*built)
    return kind(built)


def _broadcast(dims, tree):
    """One dim per leaf of ``tree``: an int or None covers a whole subtree, a tuple must
    match a tuple or list, a dict a dict."""
    if dims is None or isinstance(dims, int):
        return [dims] * len(_flatten(tree)[0])
    if isinstance(dims, (tuple, list)) and isinstance(tree, (tuple, list)):
        if len(dims) != len(tree):
            raise _Mismatch
        return [d for sub_dims, sub in zip(dims, tree) for d in _broadcast(sub_dims, sub)]
    if isinstance(dims, dict) and isinstance(tree, dict) and dims.keys() == tree.keys():
        return [d for key in tree for d in _broadcast(dims[key], tree[key])]
    raise _Mismatch
