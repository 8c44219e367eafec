"""Padding layers over ``F.pad``: reflection, replication, constant (and zero) and circular
padding of the last 1, 2 or 3 dims, one class per mode and number of dims as in PyTorch."""
from .. import functional as F
from .module import Module


class _PadNd(Module):
    """What the padding layers share: ``padding`` is one int for every side or 2 * dims
    ints (left, right, top, bottom, front, back: last dim first, as ``F.pad``)."""

    mode = "constant"
    dims = 2

    def __init__(self, padding):
        super().__init__()
        size = 2 * self.dims
        if isinstance(padding, int):
            padding = (padding,) * size
        padding = tuple(int(p) for p in padding)
        if len(padding) != size:
            raise ValueError(f"{type(self).__name__}: padding must be an int or {size} ints, "
                             f"got {padding}")
        self.padding = padding

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = float(value)

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``: ``padding`` is an int or (left, right).

    >>> gg.nn.ConstantPad1d((1, 2), 3.5)(gg.ones(1, 2)).tolist()
    [[3.5, 1.0, 1.0, 3.5, 3.5]]
    """

    dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with ``value``: ``padding`` is an int or
    (left, right, top, bottom).

    >>> gg.nn.ConstantPad2d(1, -1.0)(gg.ones(1, 1, 1)).tolist()
    [[[-1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, -1.0]]]
    """

    dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with ``value``: ``padding`` is an int or
    (left, right, top, bottom, front, back).

    >>> gg.nn.ConstantPad3d((1, 0, 0, 0, 0, 2), 2.0)(gg.ones(1, 1, 1, 1)).shape
    (1, 3, 1, 2)
    """

    dims = 3


class _ZeroPadNd:
    """Mixed into ZeroPad1d/2d/3d ahead of ConstantPadNd: value 0, left out of the repr (as
    in PyTorch)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd, ConstantPad1d):
    """Pad the last dim with zeros: ``padding`` is an int or (left, right).

    >>> gg.nn.ZeroPad1d((0, 2))(gg.ones(1, 2)).tolist()
    [[1.0, 1.0, 0.0, 0.0]]
    """


class ZeroPad2d(_ZeroPadNd, ConstantPad2d):
    """Pad the last two dims with zeros: ``padding`` is one int for all four sides or
    (left, right, top, bottom).

    >>> import gpugrad as gg
    >>> gg.nn.ZeroPad2d((1, 0, 0, 2))(gg.ones(1, 1, 2, 2)).shape
    (1, 1, 4, 3)
    """


class ZeroPad3d(_ZeroPadNd, ConstantPad3d):
    """Pad the last three dims with zeros: ``padding`` is an int or
    (left, right, top, bottom, front, back).

    >>> gg.nn.ZeroPad3d(1)(gg.ones(1, 2, 2, 2)).shape
    (1, 4, 4, 4)
    """


class ReflectionPad1d(_PadNd):
    """Pad the last dim of (C, W) or (N, C, W) inputs with its reflection about the edge
    entries (which are not repeated); each side must be smaller than the dim.

    >>> gg.nn.ReflectionPad1d(2)(gg.tensor([[[1.0, 2.0, 3.0]]])).tolist()
    [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]]
    """

    mode, dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    """Reflection padding of the last two dims of (C, H, W) or (N, C, H, W) inputs;
    ``padding`` is an int or (left, right, top, bottom).

    >>> gg.nn.ReflectionPad2d((1, 1, 0, 1))(gg.ones(1, 1, 2, 2)).shape
    (1, 1, 3, 4)
    """

    mode, dims = "reflect", 2


class ReflectionPad3d(_PadNd):
    """Reflection padding of the last three dims of (C, D, H, W) or (N, C, D, H, W)
    inputs; ``padding`` is an int or (left, right, top, bottom, front, back).

    >>> gg.nn.ReflectionPad3d(1)(gg.ones(1, 1, 2, 2, 2)).shape
    (1, 1, 4, 4, 4)
    """

    mode, dims = "reflect", 3


class ReplicationPad1d(_PadNd):
    """Pad the last dim of (C, W) or (N, C, W) inputs by repeating the edge entries.

    >>> gg.nn.ReplicationPad1d((2, 1))(gg.tensor([[[1.0, 2.0]]])).tolist()
    [[[1.0, 1.0, 1.0, 2.0, 2.0]]]
    """

    mode, dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    """Replication padding of the last two dims of (C, H, W) or (N, C, H, W) inputs;
    ``padding`` is an int or (left, right, top, bottom).

    >>> gg.nn.ReplicationPad2d(1)(gg.ones(1, 1, 2, 2)).shape
    (1, 1, 4, 4)
    """

    mode, dims = "replicate", 2


class ReplicationPad3d(_PadNd):
    """Replication padding of the last three dims of (C, D, H, W) or (N, C, D, H, W)
    inputs; ``padding`` is an int or (left, right, top, bottom, front, back).

    >>> gg.nn.ReplicationPad3d((1, 0, 0, 0, 0, 1))(gg.ones(1, 1, 2, 2, 2)).shape
    (1, 1, 3, 2, 3)
    """

    mode, dims = "replicate", 3


class CircularPad1d(_PadNd):
    """Pad the last dim of (C, W) or (N, C, W) inputs by wrapping around: the left side
    gets the last entries, the right side the first ones.

    >>> gg.nn.CircularPad1d((1, 2))(gg.tensor([[[1.0, 2.0, 3.0]]])).tolist()
    [[[3.0, 1.0, 2.0, 3.0, 1.0, 2.0]]]
    """

    mode, dims = "circular", 1


class CircularPad2d(_PadNd):
    """Circular padding of the last two dims of (C, H, W) or (N, C, H, W) inputs;
    ``padding`` is an int or (left, right, top, bottom).

    >>> gg.nn.CircularPad2d(1)(gg.ones(1, 1, 2, 2)).shape
    (1, 1, 4, 4)
    """

    mode, dims = "circular", 2


class CircularPad3d(_PadNd):
    """Circular padding of the last three dims of (C, D, H, W) or (N, C, D, H, W)
    inputs; ``padding`` is an int or (left, right, top, bottom, front, back).

    >>> gg.nn.CircularPad3d(1)(gg.ones(1, 1, 2, 2, 2)).shape
    (1, 1, 4, 4, 4)
    """

    mode, dims = "circular", 3
