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
from .nadam import nadam
from .rmsprop import rmsprop
from .sgd import sgd, sparse_sgd
from .sparse_adam import sparse_adam

__all__ = ["adadelta", "adagrad", "adam", "adamax", "nadam", "rmsprop", "sgd", "sparse_adagrad",
           "sparse_adam", "sparse_sgd"]
