"""Replicas of a module on other devices, and keeping them equal to the primary.

``replicate`` deep-copies the module tree with fresh Parameters and buffers on the target
device. ``ReplicaSync`` then copies, before each step, only the tensors that changed.

How a change is detected (what this relies on): each tensor's fingerprint is the tensor
object, its array object (``_data``), and its version counter (``_version``). gpugrad's
optimizers and in-place ops (through ``.data`` too) write the array in place and bump the
version; ``p.data = t``, or a new tensor assigned to a module attribute, changes an object in
the fingerprint. The version counter only counts once it exists, so ``ReplicaSync`` creates
it on every tensor it tracks. A raw write into ``p._data[...]`` that bypasses gpugrad (no
version bump) is not seen: call ``DataParallel.invalidate()`` after one.
"""
import copy

import gpugrad as gg
from ..backends import device as _device_module


def replicate(module, device):
    """A deep copy of ``module`` whose parameters and buffers are new tensors on ``device``.

    Shared (tied) parameters stay shared in the copy. Gradients and hooks are not copied.

    >>> import gpugrad as gg
    >>> class Scale:
    ...     def __init__(self):
    ...         self.w = gg.nn.Parameter(gg.ones(2))
    ...     def named_parameters(self):
    ...         return [("w", self.w)]
    >>> m = Scale(); r = replicate(m, "cpu")
    >>> r.w is not m.w, r.w.tolist(), r.w.requires_grad
    (True, [1.0, 1.0], True)
    """
    device = gg.device(device)
    memo = _shared_objects()
    for _, t in _named_tensors(module):
        if id(t) not in memo:
            memo[id(t)] = copy_tensor(t, device)
    return copy.deepcopy(module, memo)


def copy_tensor(t, device):
    """A new leaf tensor (a Parameter for a Parameter) with ``t``'s values on ``device``.

    >>> import gpugrad as gg
    >>> t = gg.ones(2); c = copy_tensor(t, "cpu")
    >>> c is t, c._data is t._data, c.tolist()
    (False, False, [1.0, 1.0])
    """
    with gg.no_grad():
        moved = t.detach().to(device)
        if moved._data is t._data:
            moved = moved.clone()
    if isinstance(t, gg.nn.Parameter):
        return type(t)(moved, requires_grad=t.requires_grad)
    if t.requires_grad:
        moved.requires_grad_(True)
    return moved


def named_parameters(module):
    """``(name, parameter)`` pairs of a module, in its fixed registration order."""
    return list(module.named_parameters())


def named_buffers(module):
    """``(name, buffer)`` pairs of a module (none for objects without ``named_buffers``)."""
    method = getattr(module, "named_buffers", None)
    return [] if method is None else list(method())


def _named_tensors(module):
    return named_parameters(module) + named_buffers(module)


def _shared_objects():
    """A deepcopy memo that maps backends and devices to themselves: they are singletons
    (``t.device is CPU`` checks rely on it), never to be copied along with a module."""
    memo = {id(_device_module._NUMPY): _device_module._NUMPY}
    if _device_module._cupy_backend is not None:
        memo[id(_device_module._cupy_backend)] = _device_module._cupy_backend
    for dev in list(_device_module._devices.values()):
        memo[id(dev)] = dev
    return memo


def fingerprint(t):
    """What changes when ``t`` is updated in place or replaced (see the module docstring).

    Creates ``t``'s version counter if it has none yet, so later in-place updates count.
    """
    return (t, t._data, t._version_counter()[0])


def _same(a, b):
    return a is not None and a[0] is b[0] and a[1] is b[1] and a[2] == b[2]


class ReplicaSync:
    """Copies changed parameters and buffers from the primary module into each replica.

    ``changes(k)`` lists the names of tensors replica ``k`` needs (those whose primary or
    replica fingerprint moved since the last copy); ``copy(k, names)`` copies them;
    ``invalidate()`` forgets every fingerprint so the next step copies everything.

    >>> import gpugrad as gg
    >>> class One:
    ...     def __init__(self):
    ...         self.w = gg.nn.Parameter(gg.zeros(1))
    ...     def named_parameters(self):
    ...         return [("w", self.w)]
    >>> m = One(); sync = ReplicaSync(m, [replicate(m, "cpu")])
    >>> sync.changes(0)
    []
    >>> with gg.no_grad():
    ...     _ = m.w.add_(1.0)
    >>> sync.changes(0)
    ['w']
    """

    def __init__(self, primary, replicas):
        self.primary = primary
        self.replicas = list(replicas)
        self._synced = [dict() for _ in self.replicas]
        for k in range(len(self.replicas)):
            self._record(k, self._pairs(k))

    def _pairs(self, k):
        """``[(name, primary tensor, replica tensor)]`` for replica ``k``."""
        mine = _named_tensors(self.primary)
        theirs = _named_tensors(self.replicas[k])
        if [n for n, _ in mine] != [n for n, _ in theirs]:
            raise RuntimeError("DataParallel: a replica no longer has the primary's parameters "
                               "and buffers (was the module changed after wrapping?)")
        return [(name, src, dst) for (name, src), (_, dst) in zip(mine, theirs)]

    def _record(self, k, pairs):
        for name, src, dst in pairs:
            self._synced[k][name] = (fingerprint(src), fingerprint(dst))

    def changes(self, k):
        """Names of the tensors replica ``k`` must copy before the next step."""
        stale = []
        for name, src, dst in self._pairs(k):
            seen = self._synced[k].get(name)
            if seen is None or not (_same(seen[0], fingerprint(src))
                                    and _same(seen[1], fingerprint(dst))):
                stale.append(name)
        return stale

    def copy(self, k, names):
        """Copy the primary's values of ``names`` into replica ``k`` (in place)."""
        wanted = set(names)
        pairs = [pair for pair in self._pairs(k) if pair[0] in wanted]
        with gg.no_grad():
            for _, src, dst in pairs:
                dst.copy_(src)
        self._record(k, pairs)

    def invalidate(self):
        """Forget what was copied: the next ``changes`` lists everything."""
        for synced in self._synced:
            synced.clear()
