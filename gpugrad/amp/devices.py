"""``gg.cuda.amp`` and ``gg.cpu.amp``: ``autocast`` and ``GradScaler`` with the device type
fixed, under the signatures of ``torch.cuda.amp`` and ``torch.cpu.amp``.

>>> with gg.cpu.amp.autocast(dtype=gg.float16):
...     gg.is_autocast_enabled("cpu")
True
"""
import types

from .autocast_mode import autocast as _autocast
from .grad_scaler import GradScaler as _GradScaler
from ..dtypes import bfloat16, float16


class CudaAutocast(_autocast):
    """``gg.cuda.amp.autocast(enabled=True, dtype=gg.float16, cache_enabled=True)``: the
    same as ``gg.autocast("cuda", ...)``.

    >>> gg.cuda.amp.autocast(enabled=False).device
    'cuda'
    """

    def __init__(self, enabled=True, dtype=float16, cache_enabled=True):
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class CpuAutocast(_autocast):
    """``gg.cpu.amp.autocast(enabled=True, dtype=gg.bfloat16, cache_enabled=True)``: the
    same as ``gg.autocast("cpu", ...)``.

    >>> gg.cpu.amp.autocast().fast_dtype
    gpugrad.bfloat16
    """

    def __init__(self, enabled=True, dtype=bfloat16, cache_enabled=True):
        super().__init__("cpu", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class CudaGradScaler(_GradScaler):
    """``gg.cuda.amp.GradScaler(init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True)``: ``gg.amp.GradScaler("cuda", ...)``.

    >>> gg.cuda.amp.GradScaler(enabled=False).is_enabled()
    False
    """

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval,
                         enabled)


class CpuGradScaler(_GradScaler):
    """``gg.cpu.amp.GradScaler(...)``: ``gg.amp.GradScaler("cpu", ...)``.

    >>> gg.cpu.amp.GradScaler().get_scale()
    65536.0
    """

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        super().__init__("cpu", init_scale, growth_factor, backoff_factor, growth_interval,
                         enabled)


CudaAutocast.__name__ = CpuAutocast.__name__ = "autocast"
CudaGradScaler.__name__ = CpuGradScaler.__name__ = "GradScaler"

cuda = types.ModuleType("gpugrad.cuda.amp", "``torch.cuda.amp``'s names: autocast, GradScaler.")
cuda.autocast, cuda.GradScaler = CudaAutocast, CudaGradScaler
cpu = types.ModuleType("gpugrad.cpu.amp", "``torch.cpu.amp``'s names: autocast, GradScaler.")
cpu.autocast, cpu.GradScaler = CpuAutocast, CpuGradScaler
