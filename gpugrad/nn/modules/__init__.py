"""The layer classes, one file per family (as in PyTorch's ``torch/nn/modules``)."""
from .activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .attention import MultiheadAttention
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv2d
from .distance import CosineSimilarity
from .dropout import Dropout
from .embedding import Embedding
from .linear import Flatten, Identity, Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss,
                   HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss)
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .pooling import AvgPool2d, MaxPool2d
from .rnn import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell, RNNCellBase
from .activation import (CELU, ELU, GLU, Hardsigmoid, Hardswish, Hardtanh, LogSigmoid, Mish,
                         PReLU, ReLU6, SELU, SiLU, Softplus, Softsign, Tanhshrink)
from .container import ParameterDict, ParameterList
from .dropout import Dropout2d
from .linear import Bilinear, Unflatten
from .loss import MarginRankingLoss, TripletMarginLoss
from .normalization import GroupNorm, InstanceNorm1d, InstanceNorm2d, RMSNorm
from .padding import ZeroPad2d
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                          TransformerEncoder, TransformerEncoderLayer)

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "BCELoss", "BCEWithLogitsLoss", "Conv2d",
           "CosineEmbeddingLoss", "CosineSimilarity", "CrossEntropyLoss", "Dropout",
           "Embedding", "Flatten", "GELU", "HuberLoss", "Identity", "KLDivLoss", "L1Loss",
           "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax", "MaxPool2d", "Module",
           "ModuleDict", "ModuleList", "MSELoss", "NLLLoss", "ReLU", "Sequential", "Sigmoid",
           "SmoothL1Loss", "Softmax", "Tanh"]
__all__ += ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]
__all__ += ["MultiheadAttention", "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
            "TransformerEncoder", "TransformerEncoderLayer"]

__all__ += ["Bilinear", "CELU", "Dropout2d", "ELU", "GLU", "GroupNorm", "Hardsigmoid",
            "Hardswish", "Hardtanh", "InstanceNorm1d", "InstanceNorm2d", "LogSigmoid",
            "MarginRankingLoss", "Mish", "ParameterDict", "ParameterList", "PReLU", "ReLU6",
            "RMSNorm", "SELU", "SiLU", "Softplus", "Softsign", "Tanhshrink", "TripletMarginLoss",
            "Unflatten", "ZeroPad2d"]

from .embedding import EmbeddingBag  # noqa: E402

__all__ += ["EmbeddingBag"]

from .conv import Conv1d, ConvTranspose1d, ConvTranspose2d  # noqa: E402
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d,  # noqa: E402
                      AdaptiveMaxPool2d, AvgPool1d, MaxPool1d)
from .upsampling import PixelShuffle, PixelUnshuffle, Upsample  # noqa: E402

__all__ += ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
            "AvgPool1d", "Conv1d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d",
            "PixelShuffle", "PixelUnshuffle", "Upsample"]

from .padding import (CircularPad1d, CircularPad2d, CircularPad3d,  # noqa: E402
                      ConstantPad1d, ConstantPad2d, ConstantPad3d, ReflectionPad1d,
                      ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d,
                      ReplicationPad3d, ZeroPad1d, ZeroPad3d)

__all__ += ["CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d",
            "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d",
            "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
            "ZeroPad1d", "ZeroPad3d"]
