"""Samplers: which example indices a ``DataLoader`` draws, and in which order.

Random samplers take a ``gg.Generator`` (CPU) or a NumPy ``Generator`` as ``generator``;
without one, each pass draws a fresh seed from gpugrad's CPU generator (so
``gg.manual_seed`` fixes the order).
"""
import numpy as np

import gpugrad as gg
from .dataset import _generator


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices) and usually ``__len__``.

    >>> class Evens(Sampler):
    ...     def __iter__(self):
    ...         return iter([0, 2, 4])
    >>> list(Evens())
    [0, 2, 4]
    """

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``.

    >>> list(SequentialSampler(range(3)))
    [0, 1, 2]
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices, or ``num_samples`` draws with ``replacement``.

    Without replacement, ``num_samples`` beyond ``len(data_source)`` chains permutations.

    >>> sampler = RandomSampler(range(4), generator=np.random.default_rng(0))
    >>> sorted(sampler)
    [0, 1, 2, 3]
    >>> len(RandomSampler(range(4), replacement=True, num_samples=10))
    10
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is not None and (not isinstance(num_samples, int) or num_samples <= 0):
            raise ValueError(f"num_samples must be a positive integer, got {num_samples}")

    @property
    def num_samples(self):
        """``num_samples`` as given, else ``len(data_source)``.

        >>> RandomSampler(range(5)).num_samples
        5
        """
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __iter__(self):
        n, rng = len(self.data_source), _generator(self.generator)
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        parts = [rng.permutation(n) for _ in range(-(-self.num_samples // n))]
        return iter(np.concatenate(parts)[:self.num_samples].tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order.

    >>> sorted(SubsetRandomSampler([5, 7, 9], generator=np.random.default_rng(0)))
    [5, 7, 9]
    """

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        order = _generator(self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in order.tolist())

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``.

    >>> rng = np.random.default_rng(0)
    >>> set(WeightedRandomSampler([0.0, 1.0, 0.0], 5, generator=rng))
    {1}
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or \
                num_samples <= 0:
            raise ValueError(f"num_samples must be a positive integer, got {num_samples}")
        if isinstance(weights, gg.Tensor):
            weights = weights.tolist()  # from any device
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(f"weights must be one-dimensional, got shape {weights.shape}")
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = bool(replacement)
        self.generator = generator
        if not self.replacement and num_samples > np.count_nonzero(weights):
            raise ValueError("WeightedRandomSampler: more samples than nonzero weights "
                             "without replacement")

    def __iter__(self):
        p = self.weights / self.weights.sum()
        rng = _generator(self.generator)
        draws = rng.choice(len(p), size=self.num_samples, replace=self.replacement, p=p)
        return iter(draws.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``; ``drop_last`` drops a
    final short list.

    >>> list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    >>> list(BatchSampler(range(5), 2, drop_last=True))
    [[0, 1], [2, 3]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last must be a bool, got {drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return -(-len(self.sampler) // self.batch_size)
