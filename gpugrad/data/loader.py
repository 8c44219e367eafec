"""``DataLoader``: batches of a dataset, shuffled reproducibly, resumable mid-epoch.

The order of epoch ``e`` is a pure function of ``(seed, e)``, so a loader rebuilt from its
``state_dict()`` (seed, epoch, position) yields exactly the batches the original would have.
"""
import numbers

import numpy as np

import gpugrad as gg
from ..backends.device import _NUMPY


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` examples.

    * ``shuffle``: a new permutation every epoch, drawn from ``seed`` (an int) or, when no
      seed is given, from one base seed taken at construction from ``generator`` (a NumPy
      ``Generator``) or else from gpugrad's CPU generator (so ``gg.manual_seed`` fixes it).
    * ``drop_last``: skip a final batch smaller than ``batch_size``.
    * ``collate_fn(list_of_examples)`` builds a batch; the default stacks tensors, numbers
      and arrays field by field. A ``TensorDataset`` is gathered with one index per tensor.
    * ``device``: where the batch tensors are put.

    Each ``for`` loop over the loader is one epoch. ``state_dict()`` records the epoch and
    how many batches of it were consumed; ``load_state_dict`` makes the next loop continue
    from exactly there.

    >>> import gpugrad as gg
    >>> from gpugrad.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(gg.arange(5))
    >>> [x.tolist() for (x,) in DataLoader(ds, batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 generator=None, device=None, collate_fn=None):
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.device = device
        self.collate_fn = collate_fn
        self.seed = _base_seed(seed, generator)
        self._epoch = 0
        self._position = 0  # batches of ``_epoch`` already handed out
        self._resume = False

    def __len__(self):
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    @property
    def epoch(self):
        """The epoch the current (or next) loop runs.

        >>> from gpugrad.data import DataLoader, TensorDataset
        >>> loader = DataLoader(TensorDataset(gg.arange(6)), batch_size=2, shuffle=True, seed=0)
        >>> loader.epoch
        0
        >>> _ = list(loader)
        >>> loader.epoch
        1
        """
        return self._epoch

    def set_epoch(self, epoch):
        """Make the next loop run epoch ``epoch`` from its first batch.

        >>> from gpugrad.data import DataLoader, TensorDataset
        >>> loader = DataLoader(TensorDataset(gg.arange(6)), batch_size=2, shuffle=True, seed=0)
        >>> loader.set_epoch(3)
        >>> first = [x.tolist() for (x,) in loader]
        >>> loader.set_epoch(3)
        >>> [x.tolist() for (x,) in loader] == first
        True
        """
        self._epoch = int(epoch)
        self._position = 0
        self._resume = True

    def __iter__(self):
        if not self._resume and self._position != 0:
            # The previous loop was abandoned part way: a new loop is a new epoch.
            self._epoch += 1
            self._position = 0
        self._resume = False
        return self._batches(self._epoch, self._position)

    def _batches(self, epoch, start):
        order = self.indices(epoch)
        for k in range(start, len(self)):
            indices = order[k * self.batch_size:(k + 1) * self.batch_size]
            batch = self._fetch(indices)
            self._position = k + 1
            yield batch
        if self._epoch == epoch:
            self._epoch, self._position = epoch + 1, 0

    def indices(self, epoch):
        """The example order of ``epoch`` (a NumPy int64 array).

        >>> from gpugrad.data import DataLoader, TensorDataset
        >>> loader = DataLoader(TensorDataset(gg.arange(6)), batch_size=2, shuffle=True, seed=0)
        >>> sorted(loader.indices(0).tolist())
        [0, 1, 2, 3, 4, 5]
        >>> loader.indices(0).tolist() == loader.indices(0).tolist()
        True
        """
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(n)

    def _fetch(self, indices):
        if self.collate_fn is None and hasattr(self.dataset, "batch"):
            batch = self.dataset.batch(indices)
        else:
            collate = self.collate_fn or default_collate
            batch = collate([self.dataset[int(i)] for i in indices])
        if self.device is None:
            return batch
        return to_device(batch, self.device)

    def state_dict(self):
        """``{"seed", "epoch", "position"}``: where the next batch would come from.

        >>> import gpugrad as gg
        >>> from gpugrad.data import DataLoader, TensorDataset
        >>> loader = DataLoader(TensorDataset(gg.arange(4)), batch_size=2, seed=0)
        >>> it = iter(loader); _ = next(it)
        >>> loader.state_dict()
        {'seed': 0, 'epoch': 0, 'position': 1}
        """
        epoch, position = self._epoch, self._position
        if position >= len(self):
            epoch, position = epoch + 1, 0
        return {"seed": self.seed, "epoch": epoch, "position": position}

    def load_state_dict(self, state):
        """Continue, on the next loop, from a ``state_dict()``.

        >>> from gpugrad.data import DataLoader, TensorDataset
        >>> loader = DataLoader(TensorDataset(gg.arange(6)), batch_size=2, shuffle=True, seed=0)
        >>> it = iter(loader); first = next(it)
        >>> state = loader.state_dict()
        >>> rest = [x.tolist() for (x,) in it]
        >>> again = DataLoader(TensorDataset(gg.arange(6)), batch_size=2, shuffle=True, seed=0)
        >>> again.load_state_dict(state)
        >>> [x.tolist() for (x,) in again] == rest
        True
        """
        self.seed = int(state["seed"])
        self._epoch = int(state["epoch"])
        self._position = int(state["position"])
        self._resume = True


def default_collate(examples):
    """Stack a list of examples field by field into one batch.

    Tensors are stacked along a new dim 0; numbers and NumPy arrays become tensors; tuples,
    lists and dicts are collated per field.

    >>> import gpugrad as gg
    >>> x, y = default_collate([(gg.tensor([1.0]), 0), (gg.tensor([2.0]), 1)])
    >>> x.shape, y.tolist()
    ((2, 1), [0, 1])
    """
    first = examples[0]
    if isinstance(first, gg.Tensor):
        with gg.no_grad():
            return gg.stack(examples)
    if isinstance(first, np.ndarray):
        return gg.tensor(np.stack(examples))
    if isinstance(first, (numbers.Number, np.generic)):
        return gg.tensor(np.array(examples))
    if isinstance(first, dict):
        return {key: default_collate([ex[key] for ex in examples]) for key in first}
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate(list(field)) for field in zip(*examples))
    raise TypeError(f"default_collate: don't know how to batch {type(first).__name__}")


def to_device(batch, device):
    """``batch`` (tensors, nested in tuples, lists and dicts) with every tensor on ``device``.

    >>> import gpugrad as gg
    >>> to_device({"x": (gg.ones(1),)}, "cpu")
    {'x': (tensor([1.]),)}
    """
    if isinstance(batch, gg.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(value, device) for value in batch)
    return batch


def _base_seed(seed, generator):
    if seed is not None:
        return int(seed)
    if generator is None:
        generator = _NUMPY.generator()
    # 63 bits: fits an int64 and a JSON-safe checkpoint scalar.
    return int(generator.integers(0, 2 ** 63 - 1))
