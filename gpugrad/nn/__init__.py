"""Neural-network building blocks: ``Module`` and layers, ``functional``, ``init``, ``utils``.

>>> import gpugrad as gg
>>> net = gg.nn.Sequential(gg.nn.Linear(2, 8), gg.nn.ReLU(), gg.nn.Linear(8, 3))
>>> net(gg.ones(4, 2)).shape
(4, 3)
"""
from . import functional, init
from .modules import (BCEWithLogitsLoss, CrossEntropyLoss, Flatten, GELU, Identity, L1Loss,
                      LeakyReLU, Linear, LogSoftmax, Module, ModuleDict, ModuleList, MSELoss,
                      NLLLoss, ReLU, Sequential, Sigmoid, Softmax, Tanh)
from .parameter import Parameter

__all__ = ["BCEWithLogitsLoss", "CrossEntropyLoss", "Flatten", "GELU", "Identity", "L1Loss",
           "LeakyReLU", "Linear", "LogSoftmax", "Module", "ModuleDict", "ModuleList",
           "MSELoss", "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax",
           "Tanh", "functional", "init"]
