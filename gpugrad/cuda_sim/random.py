"""Simulated ``cupy.random``: NumPy's generators, drawing onto the current device."""
import numpy as np

from ._array import current_device, ndarray

# cupy.random.Generator's documented methods (a subset of NumPy's Generator).
_GENERATOR_METHODS = ("random", "standard_normal", "normal", "uniform", "integers",
                      "standard_exponential", "exponential", "binomial", "poisson",
                      "standard_gamma", "gamma", "beta", "permutation", "choice")


class Generator:
    """``cupy.random.default_rng(seed)``: arrays land on the device current at each call."""

    def __init__(self, seed=None):
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name):
        if name not in _GENERATOR_METHODS:
            raise AttributeError(f"'Generator' object has no attribute '{name}'")
        draw = getattr(self._rng, name)

        def method(*args, **kwargs):
            from ._dispatch import call
            return call(draw, args, kwargs)
        return method


def default_rng(seed=None):
    """A new simulated generator."""
    return Generator(seed)


_global = np.random.RandomState()


def seed(seed=None):
    _global.seed(seed)


def _legacy(name):
    def draw(*args, **kwargs):
        dtype = kwargs.pop("dtype", None)
        out = np.asarray(getattr(_global, name)(*args, **kwargs))
        if dtype is not None:
            out = out.astype(dtype)
        return ndarray._new(out, current_device())
    draw.__name__ = name
    return draw


for _name in ("rand", "randn", "random", "random_sample", "normal", "uniform", "randint",
              "permutation", "standard_normal"):
    globals()[_name] = _legacy(_name)
