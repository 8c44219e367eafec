"""PyTorch's ``torch.utils`` paths: ``gpugrad.utils.data`` holds datasets, samplers and
``DataLoader`` (also reachable as ``gg.data``); ``gpugrad.utils.checkpoint`` activation
checkpointing; ``gpugrad.utils.tensorboard`` (imported on its own, as in PyTorch) the
TensorBoard ``SummaryWriter``.

>>> import gpugrad as gg
>>> gg.utils.data.DataLoader is gg.data.DataLoader
True
>>> gg.utils.checkpoint.checkpoint.__name__
'checkpoint'
"""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]
