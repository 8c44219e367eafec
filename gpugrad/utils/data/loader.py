"""``DataLoader``: batches of a dataset, shuffled reproducibly, resumable mid-epoch.

Without a user ``sampler``, the order of epoch ``e`` is a pure function of ``(seed, e)``,
so a loader rebuilt from its ``state_dict()`` (seed, epoch, position) yields exactly the
batches the original would have. With a user sampler, resuming replays the sampler and
skips the batches already taken (exact when the sampler is seeded, such as
``DistributedSampler``).
"""
import itertools

import numpy as np

from ...backends.device import _NUMPY
from .collate import default_collate, default_convert, to_device
from .dataset import IterableDataset, _numpy_generator
from .sampler import BatchSampler, RandomSampler, SequentialSampler
from .worker import WorkerInfo, run_workers


class DataLoader:
    """Iterate over ``dataset`` in batches, with PyTorch's signature.

    * ``batch_size`` examples per batch (None: one example at a time, not collated);
      ``drop_last`` skips a final short batch.
    * ``shuffle``: a new permutation every epoch, drawn from ``seed`` (an int) or, when no
      seed is given, from one base seed taken at construction from ``generator`` (a CPU
      ``gg.Generator`` or a NumPy ``Generator``) or else from gpugrad's CPU generator (so
      ``gg.manual_seed`` fixes it).
    * ``sampler`` (indices) or ``batch_sampler`` (lists of indices) replace the order;
      exclusive with ``shuffle`` (and ``batch_sampler`` with ``batch_size``/``drop_last``).
    * ``collate_fn(list_of_examples)`` builds a batch (default ``default_collate``). A
      dataset with a ``batch(indices)`` method (``TensorDataset``) is gathered with one
      index per tensor instead.
    * ``num_workers > 0``: batches are built by that many worker threads, worker ``w``
      taking batches ``w, w + num_workers, ...``; they come out in the same order as with
      ``num_workers=0``. ``worker_init_fn(worker_id)`` runs first in each worker, and
      ``get_worker_info()`` tells the worker who it is. Each worker draws gpugrad's random
      numbers from its own generator seeded with ``WorkerInfo.seed``. An
      ``IterableDataset`` is iterated once per worker (shard it by worker info).
      ``prefetch_factor`` batches (default 2) are built ahead per worker; ``timeout``
      seconds (0: forever) bounds the wait for one. ``persistent_workers`` and
      ``multiprocessing_context`` are accepted: threads are cheap, so each epoch starts
      fresh ones. Batches always come in order (``in_order=False`` is allowed, not needed).
    * ``pin_memory`` (and ``pin_memory_device``) is accepted and does nothing (batches are
      not staged in pinned host memory); ``device`` puts the batch tensors on a device.

    Each ``for`` loop over the loader is one epoch. ``state_dict()`` records the epoch and
    how many batches of it were consumed; ``load_state_dict`` makes the next loop continue
    from exactly there.

    >>> import gpugrad as gg
    >>> from gpugrad.utils.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(gg.arange(5))
    >>> [x.tolist() for (x,) in DataLoader(ds, batch_size=2)]
    [[0, 1], [2, 3], [4]]
    >>> [x.tolist() for (x,) in DataLoader(ds, batch_size=2, num_workers=2)]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False,
                 timeout=0, worker_init_fn=None, multiprocessing_context=None, generator=None,
                 *, prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True, seed=None, device=None):
        if batch_size is not None and int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        if int(num_workers) < 0:
            raise ValueError("num_workers option should be non-negative")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing. let num_workers > 0 to enable it")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self._iterable = isinstance(dataset, IterableDataset)
        shuffle = bool(shuffle)
        if self._iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle, "
                             "sampler and batch_sampler")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        self._own_order = sampler is None and batch_sampler is None and not self._iterable
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, int(batch_size), bool(drop_last))
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = shuffle
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self.prefetch_factor = 2 if prefetch_factor is None else int(prefetch_factor)
        self.persistent_workers = persistent_workers
        self.device = device
        self.seed = _base_seed(seed, generator)
        self._epoch = 0
        self._position = 0  # batches of ``_epoch`` already handed out
        self._resume = False

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (self._iterable and self.batch_size)

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        if not self._iterable:
            return len(self.sampler)
        n = len(self.dataset)  # TypeError for a stream of unknown length, as in PyTorch
        if self.batch_size is None:
            return n
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
        """Make the next loop run epoch ``epoch`` from its first batch (a sampler with its
        own ``set_epoch``, such as ``DistributedSampler``, is told too).

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
        self._tell_sampler()

    def _tell_sampler(self):
        for sampler in (self.sampler, getattr(self.batch_sampler, "sampler", None),
                        self.batch_sampler):
            if not self._own_order and hasattr(sampler, "set_epoch"):
                sampler.set_epoch(self._epoch)

    def __iter__(self):
        if not self._resume and self._position != 0:
            # The previous loop was abandoned part way: a new loop is a new epoch.
            self._epoch += 1
            self._position = 0
        self._resume = False
        return self._batches(self._epoch, self._position)

    def _batches(self, epoch, start):
        if self.num_workers == 0:
            batches = self._stream(epoch, start)
        else:
            batches = self._from_workers(epoch, start)
        for k, batch in enumerate(batches, start):
            if self.device is not None:
                batch = to_device(batch, self.device)
            self._position = k + 1
            yield batch
        if self._epoch == epoch:
            self._epoch, self._position = epoch + 1, 0

    def _stream(self, epoch, start, worker=0, workers=1):
        """The batches of ``epoch`` from number ``start`` on that worker ``worker`` builds."""
        if self._iterable:
            batches = self._iterable_batches()
            return itertools.islice(batches, start + worker, None, workers)
        tasks = itertools.islice(self._index_batches(epoch), start + worker, None, workers)
        return (self._fetch(task) for task in tasks)

    def _from_workers(self, epoch, start):
        if self._iterable:
            # Every worker iterates the dataset; the resumed batches are skipped in turn.
            streams = [lambda: self._iterable_batches() for _ in range(self.num_workers)]
            return itertools.islice(self._run(streams, epoch), start, None)
        tasks = list(itertools.islice(self._index_batches(epoch), start, None))
        streams = [_fetcher(self, tasks[w::self.num_workers]) for w in range(self.num_workers)]
        return self._run(streams, epoch)

    def _run(self, streams, epoch):
        base = int(np.random.default_rng([self.seed, int(epoch), 1]).integers(0, 2 ** 62))

        def info(worker):
            return WorkerInfo(worker, self.num_workers, base + worker, self.dataset)
        return run_workers(streams, info, self.worker_init_fn, self.prefetch_factor,
                           self.timeout)

    def _index_batches(self, epoch):
        if self._own_order:
            order = self.indices(epoch)
            if self.batch_size is None:
                return iter(order.tolist())
            stop = len(self) * self.batch_size
            return (order[k:k + self.batch_size] for k in range(0, stop, self.batch_size))
        if self.batch_sampler is not None:
            return iter(self.batch_sampler)
        return iter(self.sampler)

    def _iterable_batches(self):
        examples = iter(self.dataset)
        if self.batch_size is None:
            convert = self.collate_fn or default_convert
            yield from (convert(example) for example in examples)
            return
        collate = self.collate_fn or default_collate
        while True:
            chunk = list(itertools.islice(examples, self.batch_size))
            if not chunk or (self.drop_last and len(chunk) < self.batch_size):
                return
            yield collate(chunk)

    def indices(self, epoch):
        """The example order of ``epoch`` (a NumPy int64 array) when the loader orders the
        examples itself (no ``sampler`` or ``batch_sampler`` given).

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
        if not self._auto_collation:
            return (self.collate_fn or default_convert)(self.dataset[_plain(indices)])
        gather = getattr(self.dataset, "batch", None)
        if self.collate_fn is None and callable(gather):
            return gather(np.asarray(indices, dtype=np.int64))
        collate = self.collate_fn or default_collate
        return collate([self.dataset[_plain(i)] for i in indices])

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
        if position > 0 and position >= _length(self):
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
        self._tell_sampler()


def _fetcher(loader, tasks):
    return lambda: (loader._fetch(task) for task in tasks)


def _plain(index):
    """A NumPy integer as a Python int (datasets index lists and ranges with it)."""
    return index.item() if isinstance(index, np.generic) else index


def _length(loader):
    try:
        return len(loader)
    except TypeError:  # a stream of unknown length: it ends when it ends
        return float("inf")


def _base_seed(seed, generator):
    if seed is not None:
        return int(seed)
    generator = _NUMPY.generator() if generator is None else _numpy_generator(generator)
    # 63 bits: fits an int64 and a JSON-safe checkpoint scalar.
    return int(generator.integers(0, 2 ** 63 - 1))
