"""Similarities between vectors: cosine_similarity (as PyTorch's ``F.cosine_similarity``)."""
from ...ops.errors import public_op


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


__all__ = ["cosine_similarity"]
