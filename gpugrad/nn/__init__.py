"""Neural-network building blocks: ``Module`` and layers, ``functional``, ``init``, ``utils``.

>>> import gpugrad as gg
>>> net = gg.nn.Sequential(gg.nn.Linear(2, 8), gg.nn.ReLU(), gg.nn.Linear(8, 3))
>>> net(gg.ones(4, 2)).shape
(4, 3)
"""
from . import functional, init, modules, utils
from .modules import *  # noqa: F401,F403 (the layer classes; modules.__all__ lists them)
from .parameter import Parameter

__all__ = modules.__all__ + ["Parameter", "functional", "init", "utils"]


def __getattr__(name):
    # ``gg.nn.parallel`` (PyTorch's path to DistributedDataParallel) imports
    # gpugrad.distributed, which imports gpugrad: it loads on first use, not with gpugrad.
    if name == "parallel":
        import importlib
        return importlib.import_module(".parallel", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
