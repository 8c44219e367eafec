"""PyTorch's ``torch.utils.data``: datasets, samplers, ``DataLoader`` and collation.

``gg.data`` is the same package under a short name.

>>> import gpugrad as gg
>>> from gpugrad.utils.data import DataLoader, TensorDataset
>>> loader = DataLoader(TensorDataset(gg.arange(4)), batch_size=3)
>>> [x.tolist() for (x,) in loader]
[[0, 1, 2], [3]]
"""
from . import distributed
from .collate import default_collate, default_convert, to_device
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset,
                      TensorDataset, random_split)
from .distributed import DistributedSampler
from .loader import DataLoader
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler, WeightedRandomSampler)
from .worker import WorkerInfo, get_worker_info

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
           "DistributedSampler", "IterableDataset", "RandomSampler", "Sampler",
           "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset",
           "WeightedRandomSampler", "WorkerInfo", "default_collate", "default_convert",
           "distributed", "get_worker_info", "random_split", "to_device"]
