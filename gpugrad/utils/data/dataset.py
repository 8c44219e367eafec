"""Datasets: map-style (``__len__`` + ``__getitem__``), iterable, and their combinations."""
import bisect
import math

import numpy as np

import gpugrad as gg
from ...backends.device import _NUMPY


class Dataset:
    """Base class of map-style datasets: subclasses define ``__len__`` and ``__getitem__``
    (no default ``__len__``, as in PyTorch: ``len()`` of a stream raises ``TypeError``).

    ``a + b`` concatenates two datasets (a ``ConcatDataset``).

    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 3
    ...     def __getitem__(self, i):
    ...         return i * i
    >>> [Squares()[i] for i in range(3)], len(Squares() + Squares())
    ([0, 1, 4], 6)
    """

    def __getitem__(self, index):
        raise NotImplementedError

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of datasets that are a stream: subclasses define ``__iter__``.

    With ``num_workers > 0`` every worker iterates the same object; ``__iter__`` shards the
    stream by ``get_worker_info()`` (as in PyTorch), or each worker yields all of it.

    >>> class Count(IterableDataset):
    ...     def __iter__(self):
    ...         return iter(range(3))
    >>> list(Count())
    [0, 1, 2]
    """

    def __iter__(self):
        raise NotImplementedError

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """The iterable datasets ``datasets`` one after the other.

    >>> class Count(IterableDataset):
    ...     def __iter__(self):
    ...         return iter(range(2))
    >>> list(ChainDataset([Count(), Count()]))
    [0, 1, 0, 1]
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for dataset in self.datasets:
            yield from dataset

    def __len__(self):
        return sum(len(d) for d in self.datasets)


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


class ConcatDataset(Dataset):
    """The map-style datasets ``datasets`` one after the other; ``cumulative_sizes[i]`` is
    the length of the first ``i + 1``. Negative indices count from the end.

    >>> ds = ConcatDataset([[0, 1], [2, 3, 4]])
    >>> len(ds), ds[2], ds[-1], ds.cumulative_sizes
    (5, 2, 4, [2, 5])
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not take an IterableDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise IndexError("ConcatDataset: index out of range")
            index += len(self)
        part = bisect.bisect_right(self.cumulative_sizes, index)
        if part == len(self.datasets):
            raise IndexError("ConcatDataset: index out of range")
        start = self.cumulative_sizes[part - 1] if part > 0 else 0
        return self.datasets[part][index - start]


class Subset(Dataset):
    """The examples ``indices`` of ``dataset``, in that order.

    >>> sub = Subset([10, 11, 12, 13], [3, 0])
    >>> len(sub), sub[0], sub[1]
    (2, 13, 10)
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)

    @property
    def batch(self):
        """The dataset's ``batch`` gather through ``indices`` (None when it has none), so
        a ``Subset`` of a ``TensorDataset`` is batched as fast as the dataset.

        >>> import numpy as np, gpugrad as gg
        >>> Subset(TensorDataset(gg.tensor([5, 6, 7])), [2, 1]).batch(np.array([1, 0]))
        (tensor([6, 7]),)
        """
        gather = getattr(self.dataset, "batch", None)
        if not callable(gather):
            return None
        rows = np.asarray(self.indices)
        return lambda indices: gather(rows[np.asarray(indices)])


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping ``Subset`` s of the given ``lengths``.

    ``lengths`` are ints that sum to ``len(dataset)``, or fractions that sum to 1: each
    part gets ``floor(frac * n)`` and the remainder goes one by one to the parts in turn,
    as in PyTorch. ``generator`` is a ``gg.Generator`` (CPU) or a NumPy ``Generator``; None
    draws from gpugrad's CPU generator (so ``gg.manual_seed`` fixes the split).

    >>> a, b = random_split(range(10), [0.7, 0.3], generator=np.random.default_rng(0))
    >>> len(a), len(b), sorted(list(a) + list(b)) == list(range(10))
    (7, 3, True)
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = [int(math.floor(n * frac)) for frac in lengths]
        for frac in lengths:
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction {frac} is not in [0, 1]")
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError("random_split: the lengths do not sum to the dataset's length")
    order = _generator(generator).permutation(n).tolist()
    parts, start = [], 0
    for length in lengths:
        parts.append(Subset(dataset, order[start:start + length]))
        start += length
    return parts


def _generator(generator):
    """A NumPy ``Generator``: ``generator``'s (see ``_numpy_generator``), or a fresh one
    seeded from gpugrad's."""
    if generator is not None:
        return _numpy_generator(generator)
    return np.random.default_rng(int(_NUMPY.generator().integers(0, 2 ** 63 - 1)))


def _numpy_generator(generator):
    """The NumPy ``Generator`` behind ``generator``: a CPU ``gg.Generator``'s own, or a NumPy
    ``Generator`` as it is. Data loading draws its indices on the host."""
    if isinstance(generator, gg.Generator):
        if generator.device.type != "cpu":
            raise RuntimeError(f"expected a 'cpu' device type for generator but found "
                               f"'{generator.device.type}'")
        return generator._rng
    return generator
