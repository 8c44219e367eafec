"""Automatic mixed precision: ``autocast`` regions and the ``GradScaler``, as ``torch.amp``.

``gg.cuda.amp`` and ``gg.cpu.amp`` hold the same with the device fixed, as
``torch.cuda.amp`` and ``torch.cpu.amp``.

>>> with gg.amp.autocast("cpu", dtype=gg.float16):
...     (gg.ones(2, 3) @ gg.ones(3, 2)).dtype
gpugrad.float16
"""
from .autocast_mode import (autocast, clear_autocast_cache, get_autocast_dtype,
                            is_autocast_available, is_autocast_cache_enabled,
                            is_autocast_enabled)
from .grad_scaler import GradScaler

__all__ = ["GradScaler", "autocast", "clear_autocast_cache", "get_autocast_dtype",
           "is_autocast_available", "is_autocast_cache_enabled", "is_autocast_enabled"]
