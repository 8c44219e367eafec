"""PyTorch's ``torch.utils`` paths: ``gpugrad.utils.data`` holds datasets, samplers and
``DataLoader`` (also reachable as ``gg.data``).

>>> import gpugrad as gg
>>> gg.utils.data.DataLoader is gg.data.DataLoader
True
"""
from . import data

__all__ = ["data"]
