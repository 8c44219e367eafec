"""What every family of batching rules shares: binding an op's arguments, calling it on
physical tensors, shifting ``dim`` arguments past the batch dims, and the per-example
fallback of ops without a rule.

>>> import gpugrad as gg
>>> shift(-1, 3, 2)
4
"""
import inspect
import itertools
import warnings

from ...ops import errors as _errors
from ...tensor import Tensor
from ..batching import BatchedTensor, VmapFallbackWarning, _ops, batch_sizes

_PARAMS = {}  # op function -> (parameter names, their defaults)


def bind(fn, args, kwargs):
    """The call's arguments by name, defaults filled in, and the parameter names.

    >>> bind(lambda a, dim=0: a, (1,), {})
    ({'dim': 0, 'a': 1}, ['a', 'dim'])
    """
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


def call(fn, args, kwargs):
    """Call ``fn`` in the device context of its first tensor (or first tensor of a list),
    as the op boundary would: on physical tensors, or on batched ones (a composite).

    >>> call(gg.sum.__wrapped__, (gg.ones(2),), {}).item()
    2.0
    """
    scope = None
    for a in itertools.chain(args, kwargs.values()):
        if a.__class__ in (list, tuple) and a:
            a = a[0]
        if isinstance(a, Tensor):
            scope = _errors._device_scope(a._phys if isinstance(a, BatchedTensor) else a)
            break
    if scope is None:
        return fn(*args, **kwargs)
    with scope:
        return fn(*args, **kwargs)


def each(f, out):
    """``f`` applied to ``out``, or to each item of a tuple, named tuple or list ``out``.

    >>> each(abs, (-1, -2))
    (1, 2)
    """
    if isinstance(out, (tuple, list)):
        items = [f(o) for o in out]
        if hasattr(out, "_fields"):
            return type(out)(*items)
        return type(out)(items)
    return f(out)


def wrap(out, levels):
    """The physical result(s) ``out`` of an op as BatchedTensors at ``levels``.

    >>> wrap(3, ())
    3
    """
    if isinstance(out, Tensor):
        return BatchedTensor(out, levels)
    if isinstance(out, (tuple, list)):
        return each(lambda o: wrap(o, levels), out)
    return out


def shift(dim, rank, k, name="dim"):
    """Logical dim(s) ``dim`` of a rank-``rank`` tensor as physical dims (k batch dims).

    >>> shift((0, -1), 2, 1)
    (1, 2)
    """
    if isinstance(dim, (tuple, list)):
        return tuple(shift(d, rank, k, name) for d in dim)
    if not isinstance(dim, int):
        raise TypeError(f"{name} must be an int, got {type(dim).__name__}")
    top = max(rank, 1)
    if not -top <= dim < top:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-top}, "
                         f"{top - 1}], but got {dim})")
    return dim % top + k


def rank_of(kw):
    """The largest logical rank among the tensor arguments ``kw``.

    >>> rank_of({"a": gg.ones(2, 3), "dim": 1})
    2
    """
    return max((v.ndim for v in kw.values() if isinstance(v, Tensor)), default=0)


def is_batched(*values):
    """Is any of ``values`` a BatchedTensor?

    >>> is_batched(gg.ones(2), None)
    False
    """
    return any(isinstance(v, BatchedTensor) for v in values)


def functional():
    """``gpugrad.nn.functional``, imported on first use (it imports the ops, not vmap).

    >>> functional().relu.__name__
    'relu'
    """
    from ...nn import functional
    return functional


# ---- the fallback ------------------------------------------------------------------------
_INPLACE = {"setitem", "copy_", "fill_"}


def fallback(op, fn, levels, args, kwargs):
    """Run ``fn`` once per example of the batch and stack the results (slow but general),
    with a ``VmapFallbackWarning`` that names the op.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     out = gg.func.vmap(lambda x: gg.meshgrid(x, x)[0])(gg.ones(3, 2))
    >>> out.shape, "meshgrid" in str(caught[0].message)
    ((3, 2, 2), True)
    """
    if op in _INPLACE or op.endswith("_"):
        raise NotImplementedError(f"vmap: in-place op {op} on a batched tensor is not "
                                  f"supported; use its out-of-place version")
    warnings.warn(f"vmap: {op} has no batching rule, so it runs once per example of the "
                  f"batch (slow)", VmapFallbackWarning, stacklevel=4)
    sizes = batch_sizes(levels)
    results = [_on_example(fn, args, kwargs, dict(zip(levels, idx)))
               for idx in itertools.product(*map(range, sizes))]
    return _stack(op, results, sizes, levels)


def first_example_error(fn, levels, args, kwargs):
    """The error ``fn`` raises on the first example of the batch, or None.

    >>> level = gg.func.batching.enter_level(2, "error")
    >>> x = gg.func.batching.batched(gg.ones(2, 3), (level,))
    >>> first_example_error(gg.reshape.__wrapped__, (level,), (x, (4,)), {})
    ShapeError('reshape: cannot reshape array of size 3 into shape (4,) (input shapes (3,))')
    >>> gg.func.batching.exit_level(level)
    """
    try:
        _on_example(fn, args, kwargs, dict.fromkeys(levels, 0))
    except Exception as err:
        return err
    return None


def _on_example(fn, args, kwargs, pick):
    """``fn`` on one example: ``pick`` maps each level id to the example's index."""
    return call(fn, [_example(a, pick) for a in args],
                {n: _example(a, pick) for n, a in kwargs.items()})


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
