"""Similarity layers (``gg.nn.CosineSimilarity``), over ``gpugrad.nn.functional``."""
from .. import functional as F
from .module import Module


class CosineSimilarity(Module):
    """Cosine similarity along ``dim``, norms clamped to ``eps`` (see
    ``F.cosine_similarity``).

    >>> import gpugrad as gg
    >>> cos = gg.nn.CosineSimilarity(dim=0)(gg.tensor([1.0, 1.0]), gg.tensor([-1.0, -1.0]))
    >>> round(cos.item(), 6)
    -1.0
    """

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
