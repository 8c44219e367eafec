"""Similarities and distances between vectors: cosine_similarity, pairwise_distance, and
normalize (vectors scaled to unit norm), as PyTorch's ``F`` has them."""
import numbers

from ...ops.errors import check_floating, public_op
from ...ops.reduction import norm as _p_norm


def _norm(x, dim):
    """The 2-norm along ``dim`` (kept), with PyTorch's gradient 0 at a zero vector."""
    squared = (x * x).sum(dim, keepdim=True)
    zero = squared == 0
    return squared.masked_fill(zero, 1).sqrt().masked_fill(zero, 0)


@public_op
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """x1 . x2 / (max(|x1|, eps) max(|x2|, eps)) along ``dim`` (inputs broadcast).

    As in PyTorch, each vector is divided by its norm before the dot product (the result
    stays in [-1, 1]) and the clamp to ``eps`` is invisible to the gradient.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.cosine_similarity(gg.tensor([[1.0, 0.0]]), gg.tensor([[2.0, 0.0]])).tolist()
    [1.0]
    """
    norms = []
    for x in (x1, x2):
        norm = _norm(x, dim)
        # Clamped as a constant shift: PyTorch clamps under no_grad.
        fixed = norm.detach()
        norms.append(norm + (fixed.clamp(min=eps) - fixed))
    return ((x1 / norms[0]) * (x2 / norms[1])).sum(dim)


def _cosine_similarity_eps(x1, x2, dim, eps=1e-12):
    """cosine_embedding_loss's cosine: eps added to each squared norm."""
    squared1 = (x1 * x1).sum(dim) + eps
    squared2 = (x2 * x2).sum(dim) + eps
    return (x1 * x2).sum(dim) / (squared1 * squared2).sqrt()


def _p(name, p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{name}(): argument 'p' must be a number, not {type(p).__name__}")
    if p <= 0:
        raise ValueError(f"{name}: p must be positive, got {p}")
    return p


@public_op
def normalize(input, p=2.0, dim=1, eps=1e-12):
    """x / max(||x||_p, eps) along ``dim``: unit vectors, zero vectors left at zero.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.normalize(gg.tensor([[3.0, 4.0], [0.0, 0.0]], dtype=gg.float64)).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    check_floating("normalize", input)
    norm = _p_norm(input, _p("normalize", p), dim, keepdim=True)
    return input / norm.clamp(min=eps)


@public_op
def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim (inputs broadcast); eps keeps the norm's
    gradient finite where x1 == x2, as in PyTorch.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.pairwise_distance(gg.tensor([[0.0, 0.0]]), gg.tensor([[3.0, 4.0]]), eps=0).tolist()
    [5.0]
    """
    check_floating("pairwise_distance", x1)
    check_floating("pairwise_distance", x2)
    diff = x1 - x2 + eps
    dim = max(x1.ndim, x2.ndim) - 1
    return _p_norm(diff, _p("pairwise_distance", p), max(dim, 0) if diff.ndim else None,
                   keepdim)


__all__ = ["cosine_similarity", "normalize", "pairwise_distance"]
