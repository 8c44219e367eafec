"""gpugrad: tensors with reverse- and forward-mode autodiff on NumPy (CPU) or CuPy (GPU).

>>> import gpugrad as gg
>>> a, b = gg.tensor(2.0, requires_grad=True), gg.tensor(1.0, requires_grad=True)
>>> f = (a + b) * (b + 1)
>>> f.backward()
>>> f.item(), a.grad.item(), b.grad.item()
(6.0, 2.0, 5.0)
"""
from . import autograd  # first: the autograd package and tensor module import each other
from .autograd import detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad
from .autograd import set_grad_enabled
from .backends.device import Device, device
from .creation import (arange, empty, empty_like, eye, from_dlpack, from_numpy, full,
                       full_like, linspace, ones, ones_like, rand, rand_like, randint, randn,
                       randn_like, tensor, zeros, zeros_like)
from .dtypes import (bool_, double, float16, float32, float64, half, int32, int64, long)
from .dtypes import bool_ as bool  # noqa: A001  (PyTorch's name; shadows the builtin here)
from .dtypes import float32 as float  # noqa: A001
from .gradcheck import GradcheckError, gradcheck
from .ops.compare import (eq, ge, gt, isfinite, isnan, le, logical_and, logical_not,
                          logical_or, lt, ne, sign)
from .ops.elementwise import (abs, add, ceil, clamp, cos, div, erf, exp, exp2, expm1, floor,
                              floor_divide, fmod, log, log1p, log2, log10, masked_fill, maximum,
                              minimum, mul, neg, pow, reciprocal, relu, remainder, round, rsqrt,
                              sigmoid, sin, sqrt, square, sub, tanh, tril, triu, trunc, where)
from .ops.indexing import diagonal, gather, getitem, index_select, scatter_add
from .ops.join import cat, chunk, split, stack
from .ops.linalg import matmul, outer
from .ops.reduction import (all, amax, amin, any, argmax, argmin, count_nonzero, logsumexp, max,
                            mean, min, norm, prod, std, sum, var)
from .ops.scan import cumprod, cumsum
from .ops.shape import clone, expand, flatten, permute, reshape, squeeze, transpose, unsqueeze
from .ops.sorting import argsort, sort, topk
from .random import get_rng_state, manual_seed, set_rng_state
from .sparse import RowSparseGrad
from .tensor import Tensor
from .serialization import load, save
from . import cuda, data, func, nn, optim, parallel, train, viz  # noqa: E402  (after Tensor)

clip = clamp
concat = cat

__version__ = "0.1.0"
