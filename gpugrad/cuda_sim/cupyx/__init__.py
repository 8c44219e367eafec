"""Simulated ``cupyx``: ``scatter_add`` (NumPy's ``add.at`` semantics, as CuPy documents)."""
import numpy as np

from .._array import current_device, ndarray
from .. import _graph, _order
from .._dispatch import arrays_in, unwrap, unwrap_index


def scatter_add(a, slices, value):
    """Add ``value`` into ``a[slices]``, accumulating repeated indices (in place)."""
    if type(a) is not ndarray:
        raise TypeError(f"Unsupported type {type(a)}")
    dev = current_device()
    target = unwrap(a, dev, {})
    index, values = unwrap_index(slices, dev), unwrap(value, dev, {})
    _order.launch(reads=arrays_in((slices, value)), writes=(a,))
    _graph.before_write(target)
    np.add.at(target, index, values)
    _graph.note(lambda: np.add.at(target, index, values))
