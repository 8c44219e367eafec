"""``DistributedSampler``: each rank's share of a dataset, PyTorch's partition rule."""
import math

import numpy as np

from .sampler import Sampler


class DistributedSampler(Sampler):
    """The indices rank ``rank`` of ``num_replicas`` takes: rank ``r`` gets every
    ``num_replicas``-th index of the (shuffled) order, starting at ``r``.

    ``num_replicas`` and ``rank`` default to ``gpugrad.distributed``'s world size and rank
    once it is initialised, else 1 and 0. Every rank gets ``num_samples`` indices: without
    ``drop_last`` the order is padded by repeating its start, with it the tail is dropped.
    ``shuffle`` permutes with seed ``(seed, epoch)``: call ``set_epoch`` every epoch, the
    same on every rank.

    >>> [list(DistributedSampler(range(5), 2, r, shuffle=False)) for r in (0, 1)]
    [[0, 2, 4], [1, 3, 0]]
    >>> list(DistributedSampler(range(5), 2, 1, shuffle=False, drop_last=True))
    [1, 3]
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            world, own = _world()
            num_replicas = world if num_replicas is None else num_replicas
            rank = own if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = int(seed)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng([self.seed, self.epoch]).permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Shuffle the next pass with ``epoch`` (the same on every rank).

        >>> s = DistributedSampler(range(8), 2, 0, seed=1)
        >>> s.set_epoch(3); a = list(s); s.set_epoch(3)
        >>> a == list(s)
        True
        """
        self.epoch = int(epoch)


def _world():
    """(world size, rank) of the process group once initialised, else (1, 0)."""
    from ... import distributed as dist
    if not dist.is_initialized():
        return 1, 0
    # PyTorch's names where the process-group layer provides them (they honour
    # destroy_process_group), else the MPI runtime's.
    size = getattr(dist, "get_world_size", dist.world_size)
    rank = getattr(dist, "get_rank", dist.rank)
    return size(), rank()
