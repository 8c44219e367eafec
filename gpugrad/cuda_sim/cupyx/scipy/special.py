"""Simulated ``cupyx.scipy.special``: SciPy's ufuncs with CuPy's device rules."""
from ..._dispatch import Ufunc


def __getattr__(name):
    import scipy.special
    fn = getattr(scipy.special, name)
    simulated = globals()[name] = Ufunc(fn)
    return simulated
