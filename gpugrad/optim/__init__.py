"""Optimizers with PyTorch's names, hyperparameters and update rules.

Each class holds hyperparameters and per-parameter state; the update itself is a pure
function in ``gpugrad.optim.functional``.

>>> import gpugrad as gg
>>> w = gg.nn.Parameter(gg.tensor([1.0]))
>>> opt = gg.optim.SGD([w], lr=0.5)
>>> w.grad = gg.tensor([1.0])
>>> opt.step()
>>> w.item()
0.5
"""
from . import functional, lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = ["ASGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "NAdam", "Optimizer",
           "RAdam", "RMSprop", "Rprop", "SGD", "SparseAdam", "functional", "lr_scheduler"]
