"""Datasets: anything with ``__len__`` and ``__getitem__``; ``TensorDataset`` for arrays."""
import gpugrad as gg


class Dataset:
    """Base class of map-style datasets: subclasses define ``__len__`` and ``__getitem__``.

    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 3
    ...     def __getitem__(self, i):
    ...         return i * i
    >>> [Squares()[i] for i in range(3)]
    [0, 1, 4]
    """

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Examples are the rows (dim 0) of tensors that all have the same first dimension.

    ``dataset[i]`` is a tuple with one row of each tensor. ``DataLoader`` does not go row by
    row through ``__getitem__`` but gathers a whole batch with one index per tensor
    (``batch(indices)``), which is what makes it fast.

    >>> import gpugrad as gg
    >>> ds = TensorDataset(gg.arange(6).reshape(3, 2), gg.tensor([0, 1, 0]))
    >>> len(ds), ds[1]
    (3, (tensor([2, 3]), tensor(1)))
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(t if isinstance(t, gg.Tensor) else gg.tensor(t) for t in tensors)
        n = len(tensors[0])
        for i, t in enumerate(tensors):
            if t.ndim == 0 or len(t) != n:
                raise ValueError(f"TensorDataset: tensor {i} has shape {t.shape}, expected "
                                 f"{n} rows like tensor 0")
        self.tensors = tensors

    def __len__(self):
        return len(self.tensors[0])

    def __getitem__(self, index):
        with gg.no_grad():
            return tuple(t[index] for t in self.tensors)

    def batch(self, indices):
        """The rows ``indices`` (an integer NumPy array) of every tensor, as a tuple.

        >>> import numpy as np, gpugrad as gg
        >>> TensorDataset(gg.tensor([5, 6, 7])).batch(np.array([2, 0]))
        (tensor([7, 5]),)
        """
        with gg.no_grad():
            return tuple(t[indices] for t in self.tensors)
