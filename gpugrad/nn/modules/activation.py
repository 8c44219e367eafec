"""Activation layers: thin modules over ``gpugrad.nn.functional``."""
from .. import functional as F
from .module import Module


class ReLU(Module):
    """max(x, 0) elementwise. ``inplace`` is accepted for ported code and ignored.

    >>> import gpugrad as gg
    >>> gg.nn.ReLU()(gg.tensor([-1.0, 1.0])).tolist()
    [0.0, 1.0]
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, else ``negative_slope * x``.

    >>> import gpugrad as gg
    >>> gg.nn.LeakyReLU(0.1)(gg.tensor([-10.0])).tolist()
    [-1.0]
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                          else "")


class GELU(Module):
    """x * Phi(x); ``approximate='tanh'`` for the tanh form.

    >>> import gpugrad as gg
    >>> gg.nn.GELU()(gg.zeros(1)).tolist()
    [0.0]
    """

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Tanh(Module):
    """tanh elementwise (``gg.nn.Tanh()(x)``).

    >>> gg.nn.Tanh()(gg.tensor([0.0, 100.0]))
    tensor([0., 1.])
    """

    def forward(self, input):
        return F.tanh(input)


class Sigmoid(Module):
    """The logistic function elementwise (``gg.nn.Sigmoid()(x)``).

    >>> gg.nn.Sigmoid()(gg.tensor([0.0, 100.0]))
    tensor([0.5, 1. ])
    """

    def forward(self, input):
        return F.sigmoid(input)


class Softmax(Module):
    """Softmax along ``dim``.

    >>> import gpugrad as gg
    >>> gg.nn.Softmax(dim=-1)(gg.zeros(1, 2)).tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """Log-softmax along ``dim`` (``gg.nn.LogSoftmax(dim=1)(x)``).

    >>> gg.nn.LogSoftmax(dim=1)(gg.zeros(1, 4)).exp()
    tensor([[0.25, 0.25, 0.25, 0.25]])
    """

    def forward(self, input):
        return F.log_softmax(input, self.dim)
