"""Batched tensors and the dispatcher behind ``gg.func.vmap``.

Inside ``vmap`` a batched input is a ``BatchedTensor``: a plain *physical* tensor whose
leading dims are batch dims, one per vmap level it is batched at (outer levels first), and
whose other dims are the *logical* tensor that ``func`` sees (``.shape``, ``.dim()`` and
``len()`` report the logical shape). While a vmap is active every public op (the
``public_op`` boundary of ``gpugrad.ops.errors``) first offers its arguments to ``dispatch``
here; when one is batched, the op's rule rewrites the call for the physical tensors (moves
``dim`` past the batch dims, inserts unit dims so that broadcasting lines up, puts the batch
dims in front of a matmul or an einsum...; the package ``batching_rules``, one module per op
family) and runs the op once on the whole batch.

Autodiff never sees a ``BatchedTensor``: the graph and the forward-mode tangents live on the
physical tensors, so the engine, ``Function.backward`` and the ``jvp`` rules run unchanged on
the batch. ``grad``, ``vjp`` and ``jvp`` under vmap (``transforms.py``) lower their inputs to
physical tensors batched at every active level, so that each example gets its own gradient.

An op without a rule runs once per example (its slices stacked back), with a
``VmapFallbackWarning``; an in-place op on a batched tensor raises NotImplementedError.

>>> import gpugrad as gg
>>> gg.func.vmap(lambda x: x.sum())(gg.ones(3, 2)).tolist()
[2.0, 2.0, 2.0]
"""
import itertools
import math
import threading

from ..ops import errors as _errors
from ..tensor import Tensor

__all__ = ["BatchedTensor", "VmapFallbackWarning", "active_levels"]

_level_ids = itertools.count(1)  # ids are never reused: a level left behind is unknown
_local = threading.local()
_sizes = {}  # level id -> batch size, for the active levels of every thread
_modes = {}  # level id -> randomness ("error", "different" or "same")
_lock = threading.Lock()


class VmapFallbackWarning(UserWarning):
    """An op without a batching rule ran once per example inside ``vmap`` (slow).

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = gg.func.vmap(lambda x: gg.meshgrid(x, x))(gg.ones(2, 3))
    >>> caught[0].category.__name__
    'VmapFallbackWarning'
    """


def active_levels():
    """The ids of this thread's active vmap levels, outermost first.

    >>> gg.func.batching.active_levels()
    ()
    """
    return getattr(_local, "levels", ())


def enter_level(size, randomness):
    """Start a vmap level of batch size ``size``; returns its id (see ``exit_level``).

    >>> level = enter_level(3, "error")
    >>> batched(gg.zeros(3, 2), (level,)).shape
    (2,)
    >>> exit_level(level)
    """
    level = next(_level_ids)
    with _lock:
        _sizes[level] = size
        _modes[level] = randomness
        _errors.BATCHING[0] = dispatch
    _local.levels = active_levels() + (level,)
    return level


def exit_level(level):
    """End the vmap level ``level``; the hook goes away with the last level of any thread.

    >>> exit_level(enter_level(2, "same"))
    >>> active_levels()
    ()
    """
    _local.levels = tuple(lv for lv in active_levels() if lv != level)
    with _lock:
        _sizes.pop(level, None)
        _modes.pop(level, None)
        if not _sizes:
            _errors.BATCHING[0] = None


class BatchedTensor(Tensor):
    """A tensor inside ``vmap``: ``_phys`` holds one leading dim per level of ``_levels``
    (ids, outermost first), then the logical dims the function sees.

    >>> seen = []
    >>> _ = gg.func.vmap(lambda x: seen.append((type(x).__name__, x.shape)) or x)(gg.ones(4, 2))
    >>> seen
    [('BatchedTensor', (2,))]
    """

    def __init__(self, phys, levels):
        self._phys = phys
        self._levels = levels
        self._backend = phys._backend
        self._device = phys._device

    @property
    def _data(self):
        raise RuntimeError("vmap: this operation reads the values of a batched tensor, which "
                           "vmap cannot batch (in-place ops, .item(), .numpy(), Python control "
                           "flow on values); use out-of-place tensor ops inside vmap")

    # ---- the logical view -----------------------------------------------------------------
    @property
    def shape(self):
        return self._phys.shape[len(self._levels):]

    @property
    def dtype(self):
        return self._phys.dtype

    @property
    def ndim(self):
        return self._phys.ndim - len(self._levels)

    def dim(self):
        return self.ndim

    def numel(self):
        return math.prod(self.shape)

    def element_size(self):
        return self._phys.element_size()

    @property
    def nbytes(self):
        return self.numel() * self.element_size()

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __repr__(self):
        return (f"BatchedTensor(levels={self._levels}, shape={self.shape}, "
                f"physical={self._phys!r})")

    def __format__(self, format_spec):
        return repr(self)

    def _values_error(self, *args, **kwargs):
        raise RuntimeError("vmap: a batched tensor has one value per example; .item(), "
                           ".tolist(), .numpy() and bool() cannot be called on it inside vmap")

    item = tolist = numpy = __array__ = __bool__ = __float__ = __int__ = __index__ = \
        _values_error

    # ---- autograd and memory: the physical tensor's ---------------------------------------
    @property
    def requires_grad(self):
        return self._phys.requires_grad

    @property
    def grad_fn(self):
        return self._phys.grad_fn

    @property
    def grad(self):
        return None

    def requires_grad_(self, requires_grad=True):
        self._phys.requires_grad_(requires_grad)
        return self

    def detach(self):
        return BatchedTensor(self._phys.detach(), self._levels)

    def backward(self, *args, **kwargs):
        raise RuntimeError("vmap: .backward() inside vmap is not supported; use "
                           "gg.func.grad or gg.func.vjp, which compose with vmap")

    def to(self, *args, **kwargs):
        return BatchedTensor(self._phys.to(*args, **kwargs), self._levels)

    def contiguous(self):
        return BatchedTensor(self._phys.contiguous(), self._levels)

    def is_contiguous(self):
        return self._phys.is_contiguous()

    def _version_counter(self):
        return self._phys._version_counter()

    def __add__(self, other):
        return _ops().add(self, other)

    def __mul__(self, other):
        return _ops().mul(self, other)


def batched(phys, levels):
    """``phys`` as a BatchedTensor at ``levels`` (itself when ``levels`` is empty).

    >>> batched(gg.zeros(2), ()).shape
    (2,)
    """
    return BatchedTensor(phys, levels) if levels else phys


def unwrap(t):
    """``(physical tensor, levels)`` of a tensor, batched or not.

    >>> unwrap(gg.zeros(2))[1]
    ()
    """
    if isinstance(t, BatchedTensor):
        return t._phys, t._levels
    return t, ()


def to_physical(t, levels, rank=None):
    """``t`` (batched at some of ``levels`` or not at all) as a plain tensor whose leading
    dims are all of ``levels``, expanded (a view) where ``t`` is not batched, then unit dims
    up to logical rank ``rank`` (default: ``t``'s own), then ``t``'s logical dims. This is
    ``_align`` for ops that do not broadcast their batch dims (cat, gather, einsum).

    >>> level = enter_level(3, "error")
    >>> to_physical(gg.ones(2), (level,)).shape
    (3, 2)
    >>> to_physical(gg.ones(2), (level,), 2).shape
    (3, 1, 2)
    >>> exit_level(level)
    """
    p = _align(t, levels, t.ndim if rank is None else rank)
    full = batch_sizes(levels)
    if p.shape[:len(levels)] != full:
        p = p.expand(full + p.shape[len(levels):])
    return p


def select(t, pick):
    """``t`` at one example of some vmap levels: ``pick`` maps level id -> index.

    >>> level = enter_level(3, "error")
    >>> select(batched(gg.arange(6).reshape(3, 2), (level,)), {level: 1}).tolist()
    [2, 3]
    >>> exit_level(level)
    """
    phys, own = unwrap(t)
    if not any(lv in pick for lv in own):
        return t
    index = tuple(pick.get(lv, slice(None)) for lv in own)
    return batched(phys[index], tuple(lv for lv in own if lv not in pick))


def batch_sizes(levels):
    """The batch sizes of the active vmap levels ``levels``.

    >>> level = enter_level(4, "error")
    >>> batch_sizes((level,))
    (4,)
    >>> exit_level(level)
    """
    return tuple(_sizes[lv] for lv in levels)


def join(results, extra, sizes):
    """The per-example ``results`` (in ``itertools.product`` order over the levels
    ``extra``, newer than any level they are batched at) as one tensor batched at them.

    >>> level = enter_level(2, "error")
    >>> joined = join([gg.zeros(3), gg.ones(3)], (level,), (2,))
    >>> joined.shape, unwrap(joined)[0].tolist()
    ((3,), [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    >>> exit_level(level)
    """
    stacked = _ops().stack(results, 0)
    stacked = stacked.reshape(tuple(sizes) + results[0].shape)
    phys, own = unwrap(stacked)
    return BatchedTensor(phys, own + tuple(extra))


# ---- the dispatcher ----------------------------------------------------------------------
def dispatch(op, fn, /, *args, **kwargs):
    """Run public op ``op`` (its undecorated function ``fn``) on batched arguments, or
    return NotImplemented when none is batched.

    >>> dispatch("sin", gg.sin.__wrapped__, gg.zeros(2))
    NotImplemented
    """
    found = set()
    for a in itertools.chain(args, kwargs.values()):
        if isinstance(a, BatchedTensor):
            found.update(a._levels)
        elif a.__class__ in (list, tuple):
            for b in a:
                if isinstance(b, BatchedTensor):
                    found.update(b._levels)
    if not found:
        return NotImplemented
    return _rules.run(op, fn, tuple(sorted(found)), args, kwargs)


def _ops():
    import gpugrad  # the gg namespace: imported by now, and not at import time (a cycle)
    return gpugrad


def _align(t, levels, rank):
    """``t``'s physical tensor with one leading dim per level of ``levels`` (size 1 where
    ``t`` is not batched at it), then unit dims up to logical rank ``rank``, then ``t``'s
    logical dims: it broadcasts against every other argument aligned the same way."""
    phys, own = unwrap(t)
    logical = phys.shape[len(own):]
    if own == levels and len(logical) == rank:
        return phys
    shape = []
    i = 0
    for lv in levels:
        if i < len(own) and own[i] == lv:
            shape.append(phys.shape[i])
            i += 1
        else:
            shape.append(1)
    return phys.reshape(tuple(shape) + (1,) * (rank - len(logical)) + logical)


from . import batching_rules as _rules  # noqa: E402  (the rules use the classes above)
