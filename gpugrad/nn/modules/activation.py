"""Activation layers: thin modules over ``gpugrad.nn.functional``."""
from ... import creation
from .. import functional as F
from .. import init as nn_init
from ..parameter import Parameter
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


class _Elementwise(Module):
    """An activation with only ``inplace`` (accepted for ported code and ignored)."""

    fn = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self).fn(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class SiLU(_Elementwise):
    """x * sigmoid(x) (``F.silu``).

    >>> gg.nn.SiLU()(gg.tensor([0.0])).tolist()
    [0.0]
    """

    fn = staticmethod(F.silu)


class SELU(_Elementwise):
    """Scaled ELU with the self-normalising constants (``F.selu``).

    >>> gg.nn.SELU()(gg.tensor([0.0])).tolist()
    [0.0]
    """

    fn = staticmethod(F.selu)


class Mish(_Elementwise):
    """x * tanh(softplus(x)) (``F.mish``).

    >>> gg.nn.Mish()(gg.tensor([0.0])).tolist()
    [0.0]
    """

    fn = staticmethod(F.mish)


class Hardswish(_Elementwise):
    """x * relu6(x + 3) / 6 (``F.hardswish``).

    >>> gg.nn.Hardswish()(gg.tensor([3.0])).tolist()
    [3.0]
    """

    fn = staticmethod(F.hardswish)

    def extra_repr(self):
        return ""


class Hardsigmoid(Hardswish):
    """relu6(x + 3) / 6 (``F.hardsigmoid``).

    >>> gg.nn.Hardsigmoid()(gg.tensor([0.0])).tolist()
    [0.5]
    """

    fn = staticmethod(F.hardsigmoid)


class LogSigmoid(Module):
    """log(sigmoid(x)), stable at any x (``F.logsigmoid``).

    >>> gg.nn.LogSigmoid()(gg.tensor([-1000.0])).tolist()
    [-1000.0]
    """

    def forward(self, input):
        return F.logsigmoid(input)


class Softsign(Module):
    """x / (1 + |x|) (``F.softsign``).

    >>> gg.nn.Softsign()(gg.tensor([1.0])).tolist()
    [0.5]
    """

    def forward(self, input):
        return F.softsign(input)


class Tanhshrink(Module):
    """x - tanh(x) (``F.tanhshrink``).

    >>> gg.nn.Tanhshrink()(gg.tensor([0.0])).tolist()
    [0.0]
    """

    def forward(self, input):
        return F.tanhshrink(input)


class ELU(Module):
    """x for x > 0, else alpha * (exp(x) - 1) (``F.elu``).

    >>> gg.nn.ELU(alpha=2.0)(gg.tensor([-1000.0])).tolist()
    [-2.0]
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.elu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """x for x > 0, else alpha * (exp(x / alpha) - 1) (``F.celu``).

    >>> gg.nn.CELU(alpha=2.0)(gg.tensor([-1000.0])).tolist()
    [-2.0]
    """

    def forward(self, input):
        return F.celu(input, self.alpha)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` (``F.softplus``).

    >>> gg.nn.Softplus(beta=2.0)(gg.tensor([100.0])).tolist()
    [100.0]
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """x clipped to [min_val, max_val] (``F.hardtanh``).

    >>> gg.nn.Hardtanh(-2.0, 2.0)(gg.tensor([-5.0, 5.0])).tolist()
    [-2.0, 2.0]
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val "
                             f"({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return (f"min_val={self.min_val}, max_val={self.max_val}"
                + (", inplace=True" if self.inplace else ""))


class ReLU6(Hardtanh):
    """min(max(x, 0), 6) (``F.relu6``).

    >>> gg.nn.ReLU6()(gg.tensor([-1.0, 9.0])).tolist()
    [0.0, 6.0]
    """

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class PReLU(Module):
    """x for x > 0, else a * x, with ``num_parameters`` learnt slopes (1, or one per
    channel) starting at ``init``, in a Parameter named ``weight``.

    >>> prelu = gg.nn.PReLU()
    >>> prelu(gg.tensor([-4.0])).tolist(), prelu.weight.shape
    ([-1.0], (1,))
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(creation.empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        nn_init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class GLU(Module):
    """a * sigmoid(b) of the halves of the input along ``dim`` (``F.glu``).

    >>> gg.nn.GLU()(gg.ones(2, 4)).shape
    (2, 2)
    """

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
