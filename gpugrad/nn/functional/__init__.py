"""Functional forms of the layers: ``import gpugrad.nn.functional as F``, as in PyTorch.

One file per family: activation, loss, linear, conv (conv2d, unfold, fold), pooling,
normalization, dropout, embedding, padding.
"""
from .activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .conv import conv2d, fold, unfold
from .dropout import dropout
from .embedding import embedding
from .linear import linear
from .loss import (binary_cross_entropy_with_logits, cross_entropy, l1_loss, mse_loss,
                   nll_loss)
from .normalization import batch_norm, layer_norm
from .padding import pad
from .pooling import avg_pool2d, max_pool2d

__all__ = ["avg_pool2d", "batch_norm", "binary_cross_entropy_with_logits", "conv2d",
           "cross_entropy", "dropout", "embedding", "fold", "gelu", "l1_loss", "layer_norm",
           "leaky_relu", "linear", "log_softmax", "max_pool2d", "mse_loss", "nll_loss", "pad",
           "relu", "sigmoid", "softmax", "tanh", "unfold"]
