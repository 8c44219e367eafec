"""Neural-network building blocks: ``Module`` and layers, ``functional``, ``init``, ``utils``.

>>> import gpugrad as gg
>>> net = gg.nn.Sequential(gg.nn.Linear(2, 8), gg.nn.ReLU(), gg.nn.Linear(8, 3))
>>> net(gg.ones(4, 2)).shape
(4, 3)
"""
from . import functional, init, utils
from .modules import (AvgPool2d, BatchNorm1d, BatchNorm2d, BCELoss, BCEWithLogitsLoss, Conv2d,
                      CosineEmbeddingLoss, CosineSimilarity, CrossEntropyLoss, Dropout,
                      Embedding, Flatten, GELU, HuberLoss, Identity, KLDivLoss, L1Loss,
                      LayerNorm, LeakyReLU, Linear, LogSoftmax, MaxPool2d, Module, ModuleDict,
                      ModuleList, MSELoss, NLLLoss, ReLU, Sequential, Sigmoid, SmoothL1Loss,
                      Softmax, Tanh)
from .modules import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell, RNNCellBase
from .modules import (MultiheadAttention, Transformer, TransformerDecoder,
                      TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer)
from .modules import (Bilinear, CELU, Dropout2d, ELU, GLU, GroupNorm, Hardsigmoid, Hardswish,
                      Hardtanh, InstanceNorm1d, InstanceNorm2d, LogSigmoid, MarginRankingLoss,
                      Mish, ParameterDict, ParameterList, PReLU, ReLU6, RMSNorm, SELU, SiLU,
                      Softplus, Softsign, Tanhshrink, TripletMarginLoss, Unflatten, ZeroPad2d)
from .modules import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d,
                      AdaptiveMaxPool2d, AvgPool1d, Conv1d, ConvTranspose1d, ConvTranspose2d,
                      MaxPool1d, PixelShuffle, PixelUnshuffle, Upsample)
from .parameter import Parameter

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "BCELoss", "BCEWithLogitsLoss", "Conv2d",
           "CosineEmbeddingLoss", "CosineSimilarity", "CrossEntropyLoss", "Dropout",
           "Embedding", "Flatten", "GELU", "HuberLoss", "Identity", "KLDivLoss", "L1Loss",
           "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax", "MaxPool2d", "Module",
           "ModuleDict", "ModuleList", "MSELoss", "NLLLoss", "Parameter", "ReLU", "Sequential",
           "Sigmoid", "SmoothL1Loss", "Softmax", "Tanh", "functional", "init", "utils"]
__all__ += ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]
__all__ += ["MultiheadAttention", "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
            "TransformerEncoder", "TransformerEncoderLayer"]

__all__ += ["Bilinear", "CELU", "Dropout2d", "ELU", "GLU", "GroupNorm", "Hardsigmoid",
            "Hardswish", "Hardtanh", "InstanceNorm1d", "InstanceNorm2d", "LogSigmoid",
            "MarginRankingLoss", "Mish", "ParameterDict", "ParameterList", "PReLU", "ReLU6",
            "RMSNorm", "SELU", "SiLU", "Softplus", "Softsign", "Tanhshrink", "TripletMarginLoss",
            "Unflatten", "ZeroPad2d"]
__all__ += ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
            "AvgPool1d", "Conv1d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d",
            "PixelShuffle", "PixelUnshuffle", "Upsample"]

from .modules import EmbeddingBag  # noqa: E402

__all__ += ["EmbeddingBag"]


def __getattr__(name):
    # ``gg.nn.parallel`` (PyTorch's path to DistributedDataParallel) imports
    # gpugrad.distributed, which imports gpugrad: it loads on first use, not with gpugrad.
    if name == "parallel":
        import importlib
        return importlib.import_module(".parallel", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
