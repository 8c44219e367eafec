"""Random state: one seed for every backend, and a state that checkpoints can save."""
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


def get_rng_state():
    """The CPU generator's state as a JSON-serialisable dict (for checkpoints)."""
    return _NUMPY.get_rng_state()


def set_rng_state(state):
    _NUMPY.set_rng_state(state)
