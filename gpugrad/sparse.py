"""Row-sparse gradients: what ``Embedding(sparse=True)`` produces. Only the rows a batch
touched are stored, so an optimizer can update just those rows."""
import math

import numpy as np

from .tensor import Tensor


class RowSparseGrad:
    """A gradient that is zero except in rows ``indices``, which hold ``values``.

    ``indices`` may repeat until ``coalesce()`` sums the repeats.

    >>> import numpy as np
    >>> g = RowSparseGrad(np.array([2, 0, 2]), np.ones((3, 2)), (4, 2)).coalesce()
    >>> g.indices.tolist(), g.values.tolist()
    ([0, 2], [[1.0, 1.0], [2.0, 2.0]])
    """

    def __init__(self, indices, values, shape):
        if values.shape[0] != indices.shape[0] or tuple(values.shape[1:]) != tuple(shape[1:]):
            raise ValueError(f"RowSparseGrad: values of shape {values.shape} do not match "
                             f"{indices.shape[0]} indices into shape {tuple(shape)}")
        self.indices = indices
        self.values = values
        self.shape = tuple(shape)

    @property
    def dtype(self):
        """The dtype of the values.

        >>> g = gg.RowSparseGrad(np.array([2, 0, 2]), np.ones((3, 2)), (4, 2))
        >>> g.dtype
        dtype('float64')
        """
        return self.values.dtype

    @property
    def xp(self):
        """The array module of the values (NumPy, or CuPy on a GPU).

        >>> g = gg.RowSparseGrad(np.array([2, 0, 2]), np.ones((3, 2)), (4, 2))
        >>> g.xp.__name__
        'numpy'
        """
        from .backends.device import get_array_module
        return get_array_module(self.values)

    def _on_device(self):
        """The device context of the values: CuPy allocates on the current device."""
        from .backends.device import backend_of_array
        backend, device = backend_of_array(self.values)
        return backend.device_context(device)

    def coalesce(self):
        """Sorted unique rows, repeated rows summed.

        >>> g = gg.RowSparseGrad(np.array([2, 0, 2]), np.ones((3, 2)), (4, 2))
        >>> c = g.coalesce()
        >>> c.indices.tolist(), c.values[:, 0].tolist()
        ([0, 2], [1.0, 2.0])
        """
        xp = self.xp
        if xp is np and self.values.dtype in (np.float32, np.float64):
            return self._coalesce_sorted()
        with self._on_device():
            unique, inverse = xp.unique(self.indices, return_inverse=True)
            summed = xp.zeros((unique.shape[0],) + self.shape[1:], dtype=self.values.dtype)
            if xp is np:
                xp.add.at(summed, inverse.reshape(-1), self.values)
            else:
                import cupyx
                cupyx.scatter_add(summed, inverse.reshape(-1), self.values)
        return RowSparseGrad(unique, summed, self.shape)

    def _coalesce_sorted(self):
        """``coalesce`` on NumPy float arrays: a stable sort of the indices, then one
        compiled pass summing neighbours (10x ``np.add.at``)."""
        from .kernels import _cpu_sparse  # imports Numba: on first use only
        rows = self.indices.reshape(-1)
        width = math.prod(self.shape[1:])
        values = np.ascontiguousarray(self.values).reshape(rows.shape[0], width)
        order = np.argsort(rows, kind="stable")
        out_rows = np.empty_like(rows)
        out = np.empty_like(values)
        n = _cpu_sparse.sum_sorted_rows(order, rows[order], values, out_rows, out)
        return RowSparseGrad(out_rows[:n], out[:n].reshape((n,) + self.shape[1:]), self.shape)

    def to_dense(self):
        """The full gradient as a Tensor.

        >>> g = gg.RowSparseGrad(np.array([2, 0, 2]), np.ones((3, 2)), (4, 2))
        >>> g.to_dense()[:, 0].tolist()
        [1.0, 0.0, 2.0, 0.0]
        """
        c = self.coalesce()
        with self._on_device():
            dense = self.xp.zeros(self.shape, dtype=self.values.dtype)
            dense[c.indices] = c.values
        return Tensor(dense)

    def __add__(self, other):
        if isinstance(other, RowSparseGrad):
            xp = self.xp
            with self._on_device():
                return RowSparseGrad(xp.concatenate([self.indices, other.indices]),
                                     xp.concatenate([self.values, other.values]), self.shape)
        return self.to_dense() + other

    __radd__ = __add__

    def __repr__(self):
        return f"RowSparseGrad(rows={self.indices.shape[0]}, shape={self.shape})"
