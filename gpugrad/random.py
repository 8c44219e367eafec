"""Random state: one seed for every backend, a state that checkpoints can save, and
per-thread generators for work that runs on several threads at once."""
import contextlib

import numpy as np

from .backends.device import _NUMPY


def manual_seed(seed):
    """Seed the generators of every backend (init, ``rand*``, dropout) for reproducibility.

    >>> import gpugrad as gg
    >>> _ = gg.manual_seed(0); a = gg.rand(2).tolist()
    >>> _ = gg.manual_seed(0); a == gg.rand(2).tolist()
    True
    """
    from .backends import device as _dev
    seed = int(seed)
    _NUMPY.seed(seed)
    if _dev._cupy_backend is not None:
        _dev._cupy_backend.seed(seed)
    return seed


def seed():
    """Seed every backend's generator with a fresh non-deterministic number and return it
    (``torch.seed``), so that a run can be reproduced with ``gg.manual_seed(that)``.

    >>> s = gg.seed()
    >>> a = gg.rand(2).tolist()
    >>> _ = gg.manual_seed(s)
    >>> a == gg.rand(2).tolist()
    True
    """
    return manual_seed(int(np.random.SeedSequence().entropy) % 2**63)


def get_rng_state():
    """The CPU generator's state as a JSON-serialisable dict (for checkpoints).

    >>> state = gg.get_rng_state()
    >>> a = gg.rand(2).tolist()
    >>> gg.set_rng_state(state)
    >>> a == gg.rand(2).tolist()
    True
    """
    return _NUMPY.get_rng_state()


def set_rng_state(state):
    """Restore a state that ``get_rng_state`` returned (a checkpoint's, say).

    >>> state = gg.get_rng_state()
    >>> first = gg.randn(3).tolist()
    >>> gg.set_rng_state(state)
    >>> gg.randn(3).tolist() == first
    True
    """
    _NUMPY.set_rng_state(state)


@contextlib.contextmanager
def thread_generator(seed):
    """Within the block, this thread draws CPU random numbers (init, ``rand*``, dropout)
    from its own generator seeded with ``seed``; other threads are unaffected.

    Data-parallel workers use it so that each replica's dropout masks depend on the seed
    drawn for it, not on which thread reached the shared generator first.

    >>> import gpugrad as gg
    >>> with thread_generator(7):
    ...     a = gg.rand(2).tolist()
    >>> with thread_generator(7):
    ...     a == gg.rand(2).tolist()
    True
    """
    previous = _NUMPY.thread_local.generator
    _NUMPY.thread_local.generator = np.random.default_rng(seed)
    try:
        yield
    finally:
        _NUMPY.thread_local.generator = previous
