"""Padding layers: ``ZeroPad2d``, over ``F.pad``."""
from .. import functional as F
from .module import Module


class ZeroPad2d(Module):
    """Pad the last two dims with zeros: ``padding`` is one int for all four sides or
    (left, right, top, bottom).

    >>> import gpugrad as gg
    >>> gg.nn.ZeroPad2d((1, 0, 0, 2))(gg.ones(1, 1, 2, 2)).shape
    (1, 1, 4, 3)
    """

    def __init__(self, padding):
        super().__init__()
        if isinstance(padding, int):
            padding = (padding,) * 4
        padding = tuple(padding)
        if len(padding) != 4:
            raise ValueError(f"ZeroPad2d: padding must be an int or 4 ints, got {padding}")
        self.padding = padding
        self.value = 0.0

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"{self.padding}"
