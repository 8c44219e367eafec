"""``Dropout`` and ``Dropout2d``: active in training mode, the identity in eval mode."""
from .. import functional as F
from .module import Module


class Dropout(Module):
    """Zero elements with probability ``p`` during training, scaling the rest by 1/(1-p).

    >>> import gpugrad as gg
    >>> drop = gg.nn.Dropout(0.5).eval()
    >>> drop(gg.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) inputs with probability ``p`` during training
    (``F.dropout2d``).

    >>> drop = gg.nn.Dropout2d(0.5).eval()
    >>> drop(gg.ones(1, 2, 1, 1)).flatten().tolist()
    [1.0, 1.0]
    """

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training)
