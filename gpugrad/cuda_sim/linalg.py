"""Simulated ``cupy.linalg`` (NumPy's, on the current device)."""
import numpy as np

from ._dispatch import call


def __getattr__(name):
    fn = getattr(np.linalg, name)

    def simulated(*args, **kwargs):
        return call(fn, args, kwargs)
    simulated.__name__ = name
    globals()[name] = simulated
    return simulated
