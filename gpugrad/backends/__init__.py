"""Array backends: one object per array library, chosen once per op by the dispatch layer.

``Device`` names where a tensor lives; ``backend_for(device)`` gives the ``Backend`` that
owns it: NumPy for ``cpu``, CuPy for ``cuda:N`` (imported only when first asked for).
"""
from .base import Backend
from .device import Device, backend_for, get_array_module
from . import cuda, cudnn  # PyTorch's flags, accepted and documented as doing nothing

# ``gpugrad.backends.device`` stays the module; ``gg.device()`` is exported by the package.
__all__ = ["Backend", "Device", "backend_for", "get_array_module"]
