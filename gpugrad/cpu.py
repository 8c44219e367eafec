"""``gg.cpu``: the CPU's counterpart of ``gg.cuda`` (``torch.cpu``); ``gg.cpu.amp`` holds
``autocast`` and ``GradScaler`` for the CPU.

>>> gg.cpu.is_available(), gg.cpu.device_count()
(True, 1)
"""
from .amp.devices import cpu as amp  # noqa: F401  (gg.cpu.amp, as torch.cpu.amp)


def is_available():
    """Always True: there is a CPU.

    >>> gg.cpu.is_available()
    True
    """
    return True


def device_count():
    """1: gpugrad sees the CPU as one device.

    >>> gg.cpu.device_count()
    1
    """
    return 1


def synchronize(device=None):
    """Nothing to wait for: CPU ops finish before they return.

    >>> gg.cpu.synchronize()
    """
