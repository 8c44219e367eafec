"""Functional forms of the layers: ``import gpugrad.nn.functional as F``, as in PyTorch.

One file per family: activation, loss, distance, linear, conv (conv2d, unfold, fold),
pooling, normalization, dropout, embedding, padding.
"""
from .activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .attention import scaled_dot_product_attention
from .conv import conv2d, fold, unfold
from .distance import cosine_similarity
from .dropout import dropout
from .embedding import embedding
from .linear import linear
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits,
                   cosine_embedding_loss, cross_entropy, huber_loss, kl_div, l1_loss, mse_loss,
                   nll_loss, smooth_l1_loss)
from .normalization import batch_norm, layer_norm
from .padding import pad
from .pooling import avg_pool2d, max_pool2d

__all__ = ["avg_pool2d", "batch_norm", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "conv2d", "cosine_embedding_loss",
           "cosine_similarity", "cross_entropy", "dropout", "embedding", "fold", "gelu",
           "huber_loss", "kl_div", "l1_loss", "layer_norm", "leaky_relu", "linear",
           "log_softmax", "max_pool2d", "mse_loss", "nll_loss", "pad", "relu", "sigmoid",
           "smooth_l1_loss", "softmax", "tanh", "unfold"]
__all__ += ["scaled_dot_product_attention"]

from .distance import normalize, pairwise_distance  # noqa: E402
from .dropout import dropout2d  # noqa: E402
from .embedding import one_hot  # noqa: E402
from .linear import bilinear  # noqa: E402
from .loss import margin_ranking_loss, triplet_margin_loss  # noqa: E402
from .nonlinear import (celu, elu, glu, gumbel_softmax, hardsigmoid, hardswish,  # noqa: E402
                        hardtanh, logsigmoid, mish, prelu, relu6, selu, silu, softplus,
                        softsign, tanhshrink)
from .normalization import group_norm, instance_norm, rms_norm  # noqa: E402

__all__ += ["bilinear", "celu", "dropout2d", "elu", "glu", "group_norm", "gumbel_softmax",
            "hardsigmoid", "hardswish", "hardtanh", "instance_norm", "logsigmoid",
            "margin_ranking_loss", "mish", "normalize", "one_hot", "pairwise_distance",
            "prelu", "relu6", "rms_norm", "selu", "silu", "softplus", "softsign", "tanhshrink",
            "triplet_margin_loss"]

from .adaptive_pool import (adaptive_avg_pool1d, adaptive_avg_pool2d,  # noqa: E402
                            adaptive_max_pool1d, adaptive_max_pool2d)
from .conv import conv1d  # noqa: E402
from .conv_transpose import conv_transpose1d, conv_transpose2d  # noqa: E402
from .pooling import avg_pool1d, max_pool1d  # noqa: E402
from .upsampling import interpolate, pixel_shuffle, pixel_unshuffle  # noqa: E402

__all__ += ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
            "adaptive_max_pool2d", "avg_pool1d", "conv1d", "conv_transpose1d",
            "conv_transpose2d", "interpolate", "max_pool1d", "pixel_shuffle", "pixel_unshuffle"]

from .embedding import embedding_bag  # noqa: E402

__all__ += ["embedding_bag"]
