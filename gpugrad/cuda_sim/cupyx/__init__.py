"""Simulated ``cupyx``: ``scatter_add`` (NumPy's ``add.at`` semantics, as CuPy documents)."""
import numpy as np

from .._array import current_device, ndarray
from .._dispatch import unwrap, unwrap_index


def scatter_add(a, slices, value):
    """Add ``value`` into ``a[slices]``, accumulating repeated indices (in place)."""
    if type(a) is not ndarray:
        raise TypeError(f"Unsupported type {type(a)}")
    dev = current_device()
    target = unwrap(a, dev, {})
    np.add.at(target, unwrap_index(slices, dev), unwrap(value, dev, {}))
