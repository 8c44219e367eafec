"""Datasets and batching: ``TensorDataset`` and a resumable ``DataLoader``.

>>> import gpugrad as gg
>>> loader = gg.data.DataLoader(gg.data.TensorDataset(gg.arange(4)), batch_size=3)
>>> [x.tolist() for (x,) in loader]
[[0, 1, 2], [3]]
"""
from .dataset import Dataset, TensorDataset
from .loader import DataLoader, default_collate, to_device

__all__ = ["DataLoader", "Dataset", "TensorDataset", "default_collate", "to_device"]
