"""Batching rules of the elementwise ops (arithmetic, unary, comparisons, activations):
batch dims and ranks are aligned so that broadcasting lines up, and the op runs once.

>>> import gpugrad as gg
>>> gg.func.vmap(gg.mul, in_dims=(0, None))(gg.ones(3, 2), gg.tensor([2.0, 3.0])).tolist()
[[2.0, 3.0], [2.0, 3.0], [2.0, 3.0]]
"""
import itertools

from ...tensor import Tensor
from ..batching import BatchedTensor, _align, _ops
from ._common import bind, call, wrap
from ._generic import composite, unless


def pointwise(op, fn, levels, args, kwargs):
    """Elementwise ops and ops acting on trailing dims: align batch dims and ranks. (An
    unbatched tensor needs nothing: broadcasting lines up trailing dims, and its missing
    leading dims broadcast against the batch dims.)

    >>> gg.func.vmap(gg.maximum, in_dims=(0, None))(gg.eye(2), gg.tensor(0.5)).tolist()
    [[1.0, 0.5], [0.5, 1.0]]
    """
    tensors = [a for a in itertools.chain(args, kwargs.values()) if isinstance(a, Tensor)]
    rank = max(t.ndim for t in tensors)
    args = [_align(a, levels, rank) if isinstance(a, BatchedTensor) else a for a in args]
    kwargs = {n: _align(a, levels, rank) if isinstance(a, BatchedTensor) else a
              for n, a in kwargs.items()}
    return wrap(call(fn, args, kwargs), levels)


def _masked_fill(op, fn, levels, args, kwargs):
    kw, names = bind(fn, args, kwargs)
    value = kw[names[2]]
    if isinstance(value, BatchedTensor):
        return _ops().where(kw[names[1]], value, kw[names[0]])
    return pointwise(op, fn, levels, (), kw)


_POINTWISE = (
    "neg exp log log1p sqrt sin cos abs exp2 expm1 log2 log10 rsqrt square reciprocal erf "
    "floor ceil trunc maximum minimum add sub mul pow floor_divide remainder fmod div round "
    "tril triu clamp tanh sigmoid gelu relu leaky_relu logical_not bitwise_not sign isfinite "
    "isnan eq ne lt le gt ge logical_and logical_or bitwise_and bitwise_or bitwise_xor "
    "isclose lerp nan_to_num clone logsigmoid softsign tanhshrink elu celu softplus silu "
    "selu mish relu6 hardswish hardsigmoid hardtanh pairwise_distance").split()

RULES = dict.fromkeys(_POINTWISE, pointwise)
# where(condition) alone gives the indices: how many depends on the values
RULES.update(where=unless(lambda kw: kw["a"] is None, pointwise), masked_fill=_masked_fill,
             prelu=composite)
