"""Functional forms of the layers: ``import gpugrad.nn.functional as F``, as in PyTorch.

One file per family: activation, loss, linear, conv (conv2d, unfold, fold), pooling,
normalization, dropout, embedding, padding.
"""
from .activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .linear import linear
from .loss import (binary_cross_entropy_with_logits, cross_entropy, l1_loss, mse_loss,
                   nll_loss)

__all__ = ["binary_cross_entropy_with_logits", "cross_entropy", "gelu", "l1_loss",
           "leaky_relu", "linear", "log_softmax", "mse_loss", "nll_loss", "relu", "sigmoid",
           "softmax", "tanh"]
