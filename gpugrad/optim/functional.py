"""The pure update rules, one per optimizer: functions over lists of raw arrays that update
parameters and state in place. A fused GPU kernel can replace any of them one for one.

>>> import numpy as np
>>> from gpugrad.optim import functional as F
>>> p = np.array([1.0])
>>> F.sgd([p], [np.array([1.0])], [None], lr=0.5)
>>> p
array([0.5])
"""
from .adadelta import adadelta
from .adagrad import adagrad, sparse_adagrad
from .adam import adam
from .adamax import adamax
from .asgd import asgd
from .lbfgs import cubic_interpolate, lbfgs_direction, strong_wolfe
from .nadam import nadam
from .radam import radam
from .rmsprop import rmsprop
from .rprop import rprop
from .sgd import sgd, sparse_sgd
from .sparse_adam import sparse_adam

__all__ = ["adadelta", "adagrad", "adam", "adamax", "asgd", "cubic_interpolate",
           "lbfgs_direction", "nadam", "radam", "rmsprop", "rprop", "sgd", "sparse_adagrad",
           "sparse_adam", "sparse_sgd", "strong_wolfe"]
