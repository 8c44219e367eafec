"""gpugrad: tensors with reverse- and forward-mode autodiff on NumPy (CPU) or CuPy (GPU).

>>> import gpugrad as gg
>>> a, b = gg.tensor(2.0, requires_grad=True), gg.tensor(1.0, requires_grad=True)
>>> f = (a + b) * (b + 1)
>>> f.backward()
>>> f.item(), a.grad.item(), b.grad.item()
(6.0, 2.0, 5.0)
"""
# First: in a checkout on PYTHONPATH, gpugrad.kernels is mapped to the kernels/ folder.
from . import _source_tree  # noqa: F401
from . import autograd  # the autograd package and the tensor module import each other
from .autograd import detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad
from .autograd import inference_mode, set_grad_enabled
from .backends.cuda import get_float32_matmul_precision, set_float32_matmul_precision
from .backends.device import Device, device
from .creation import (arange, as_tensor, empty, empty_like, eye, from_dlpack, from_numpy,
                       full, full_like, linspace, ones, ones_like, rand, rand_like, randint,
                       randn, randn_like, tensor, zeros, zeros_like)
from .dtypes import (bfloat16, bool_, double, dtype, float16, float32, float64, get_default_dtype,
                     half, int8, int16, int32, int64, long, set_default_dtype, short, uint8)
from .dtypes import bool_ as bool  # noqa: A001  (PyTorch's name; shadows the builtin here)
from .dtypes import float32 as float  # noqa: A001
from .dtypes import int32 as int  # noqa: A001  (torch.int is int32)
from .gradcheck import GradcheckError, gradcheck
from .ops.compare import (allclose, eq, equal, ge, gt, isclose, isfinite, isnan, le,
                          logical_and, logical_not, logical_or, lt, ne, sign)
from .ops.einsum import einsum
from .ops.elementwise import (abs, add, ceil, clamp, cos, div, erf, exp, exp2, expm1, floor,
                              floor_divide, fmod, log, log1p, log2, log10, masked_fill, maximum,
                              minimum, mul, neg, pow, reciprocal, relu, remainder, round, rsqrt,
                              sigmoid, sin, sqrt, square, sub, tanh, tril, triu, trunc, where)
from .ops.indexing import diagonal, gather, getitem, index_select, scatter_add
from .ops.join import cat, chunk, hstack, split, stack, unbind, vstack
from .ops.linalg import addmm, bmm, cdist, diag, dot, kron, matmul, mm, outer, trace
from .ops.pointwise import lerp, log_softmax, nan_to_num, softmax
from .ops.rearrange import flip, repeat_interleave, roll, tile
from .ops.reduction import (all, amax, amin, any, argmax, argmin, count_nonzero, logsumexp, max,
                            mean, min, norm, prod, std, sum, var)
from .ops.sampling import bernoulli, multinomial, normal, randint_like, randperm
from .ops.scan import cumprod, cumsum, diff
from .ops.scatter import index_add, masked_select, nonzero, scatter
from .ops.shape import clone, expand, flatten, permute, reshape, squeeze, transpose, unsqueeze
from .ops.sorting import argsort, bucketize, searchsorted, sort, topk, unique
from .ops.views import broadcast_to, meshgrid, movedim, narrow, t, unflatten
from .random import Generator, get_rng_state, manual_seed, seed, set_rng_state
from .sparse import RowSparseGrad
from .tensor import Tensor
from .threads import get_num_threads, set_num_threads
from .serialization import load, save
from .amp import autocast, get_autocast_dtype, is_autocast_enabled
from . import amp, cpu  # noqa: E402  (gg.amp, gg.cpu.amp: mixed precision)
from . import cuda, data, func, nn, optim, parallel, train, utils, viz  # noqa: E402  (after Tensor)
from .jit import compile  # noqa: E402,A004  (PyTorch's name; shadows the builtin here)

clip = clamp
concat = cat


def numel(input):
    """The number of elements of ``input``.

    >>> gg.numel(gg.zeros(2, 3))
    6
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"numel(): argument 'input' must be a Tensor, not "
                        f"{type(input).__name__}")
    return input.numel()


def is_tensor(obj):
    """True if ``obj`` is a gpugrad Tensor.

    >>> gg.is_tensor(gg.zeros(1)), gg.is_tensor([1.0])
    (True, False)
    """
    return isinstance(obj, Tensor)

__version__ = "0.1.0"
