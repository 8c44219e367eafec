"""``dropout``: zero elements with probability p, scale the rest by 1 / (1 - p).

The keep-mask comes from the counter-based generator in ``kernels/dropout.py``: a pure
function of (seed, element index), so the same seed gives bit-identical masks on NumPy and
CuPy. Each call draws its seed from the CPU generator that ``gg.manual_seed`` seeds: one host
integer, no device sync, and reproducible runs. Nothing is saved for backward: it redraws
the same mask from the seed. On the GPU one kernel draws the mask and applies it.
"""
import warnings


from ... import cuda
from ...autograd.function import Function
from ...kernels import dropout as dropout_kernels
from ...creation import rand
from ...random import draw_seed
from ...ops.errors import ShapeError, public_op


class Dropout(Function):
    """x * keep / (1 - p) with keep = ``dropout_mask(seed, 0, x.shape, p)``.

    Linear in x with a fixed mask, so backward and jvp are this op again, with the same seed.
    """

    @staticmethod
    def forward(ctx, xp, x, p, seed):
        ctx.p, ctx.seed = p, seed
        if cuda.use_kernels(xp, x):
            return dropout_kernels.dropout_forward(x, p, seed)
        mask = dropout_kernels.dropout_mask(seed, 0, x.shape, p, xp=xp)
        scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
        return x * (mask * scale).astype(x.dtype)

    @staticmethod
    def backward(ctx, g):
        return Dropout.apply(g, p=ctx.p, seed=ctx.seed)

    @staticmethod
    def jvp(ctx, t):
        return Dropout.apply(t, p=ctx.p, seed=ctx.seed)


@public_op
def dropout(input, p=0.5, training=True, inplace=False):
    """Randomly zero elements with probability ``p`` while ``training``; identity otherwise.
    ``inplace`` is accepted for ported code; the result is always a new tensor.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.dropout(gg.ones(4), p=0.5, training=False).tolist()
    [1.0, 1.0, 1.0, 1.0]
    >>> sorted(set(F.dropout(gg.ones(100), p=0.5).tolist()))
    [0.0, 2.0]
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    return Dropout.apply(input, p=p, seed=draw_seed())


@public_op
def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels (dim 1 of an (N, C, H, W) input) with probability ``p`` while
    ``training``, scaling the rest by 1 / (1 - p). A 3-D input is taken as (N, C, L), as
    PyTorch still does (with its warning).

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> y = F.dropout2d(gg.ones(1, 8, 2, 2))
    >>> sorted(set(y.flatten().tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"dropout2d(): argument 'p' must be a number, not {type(p).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      "deprecated and will result in an error in a future release.",
                      stacklevel=3)
    elif input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-"
                      "wise 1D dropout behavior is desired - input is interpreted as shape "
                      "(N, C, L).", stacklevel=3)
    if not training or p == 0.0:
        return input
    if input.ndim < 2:
        raise ShapeError(f"dropout2d: expected an input with a channel dim, got shape "
                         f"{input.shape}")
    mask_shape = input.shape[:2] + (1,) * (input.ndim - 2)
    keep = rand(mask_shape, dtype=input.dtype, device=input.device) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return input * (keep.to(dtype=input.dtype) * scale)
