"""``gpugrad.nn.parallel``: PyTorch's path to the data-parallel wrappers, which live in
``gpugrad.parallel`` (one process, several devices) and ``gpugrad.distributed`` (one process
per device).

>>> from gpugrad.nn.parallel import DataParallel, DistributedDataParallel
>>> DistributedDataParallel is gg.distributed.DistributedDataParallel
True
"""
from ..distributed import DistributedDataParallel
from ..parallel import DataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
