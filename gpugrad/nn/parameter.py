"""``Parameter``: a leaf tensor that modules register as trainable."""
import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that requires grad by default and that ``Module`` registers automatically.

    >>> import gpugrad as gg
    >>> p = gg.nn.Parameter(gg.zeros(2))
    >>> p.requires_grad, p.is_leaf
    (True, True)
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        if isinstance(data, Tensor):
            data = data._data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
