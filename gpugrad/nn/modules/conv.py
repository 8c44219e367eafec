"""``Conv1d``, ``Conv2d``, ``ConvTranspose1d`` and ``ConvTranspose2d``.

A ``padding_mode`` other than 'zeros' pads the input with ``F.pad`` ('reflect',
'replicate', 'circular') and then convolves without padding, as PyTorch documents.
"""

from ... import creation
from .. import functional as F
from ..functional.conv import _pair, _single
from ..parameter import Parameter
from .linear import reset_weight_and_bias
from .module import Module


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(value, name, dims):
    return (_single(value, name),) if dims == 1 else _pair(value, name)


class _ConvNd(Module):
    """The arguments, parameters, initialisation and repr that all convolutions share."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, padding_mode, device, dtype, dims, transposed=False,
                 output_padding=0):
        super().__init__()
        name = type(self).__name__
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, but got "
                             f"padding_mode={padding_mode!r}")
        if transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _tuple(kernel_size, "kernel_size", dims)
        self.stride = _tuple(stride, "stride", dims)
        self.padding = padding if isinstance(padding, str) else _tuple(padding, "padding", dims)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        self.dilation = _tuple(dilation, "dilation", dims)
        self.transposed = transposed
        self.output_padding = _tuple(output_padding, "output_padding", dims)
        self.groups = groups
        self.padding_mode = padding_mode
        if transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(creation.empty(shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        reset_weight_and_bias(self.weight, self.bias)

    def extra_repr(self):
        n = len(self.kernel_size)
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * n:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text

    def _conv_input(self, input):
        """(input, padding) for the functional convolution: with a non-zero
        ``padding_mode`` the input padded by ``F.pad`` and padding 0."""
        if self.padding_mode == "zeros":
            return input, self.padding
        return F.pad(input, self._pad_widths(), self.padding_mode), 0

    def _pad_widths(self):
        """F.pad's sizes (last dim first, (left, right) each) for ``self.padding``;
        'same' splits dilation * (kernel - 1) with the extra one on the right."""
        widths = []
        for i in reversed(range(len(self.kernel_size))):
            if self.padding == "valid":
                left = right = 0
            elif self.padding == "same":
                total = self.dilation[i] * (self.kernel_size[i] - 1)
                left, right = total // 2, total - total // 2
            else:
                left = right = self.padding[i]
            widths += [left, right]
        return tuple(widths)


class Conv1d(_ConvNd):
    """1-d convolution of (N, C, L) inputs, with PyTorch's arguments and initialisation.

    >>> import gpugrad as gg
    >>> gg.nn.Conv1d(3, 8, kernel_size=3, padding=1)(gg.ones(2, 3, 5)).shape
    (2, 8, 5)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, dims=1)

    def forward(self, input):
        input, padding = self._conv_input(input)
        return F.conv1d(input, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class Conv2d(_ConvNd):
    """2-d convolution with PyTorch's arguments and default initialisation.

    >>> import gpugrad as gg
    >>> gg.nn.Conv2d(3, 8, kernel_size=3, padding=1)(gg.ones(2, 3, 5, 5)).shape
    (2, 8, 5, 5)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, dims=2)

    def forward(self, input):
        input, padding = self._conv_input(input)
        return F.conv2d(input, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class ConvTranspose1d(_ConvNd):
    """1-d transposed convolution; ``weight`` is (in_channels, out_channels / groups, k).

    >>> import gpugrad as gg
    >>> gg.nn.ConvTranspose1d(3, 8, kernel_size=3, stride=2)(gg.ones(2, 3, 5)).shape
    (2, 8, 11)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, dims=1, transposed=True,
                         output_padding=output_padding)

    def forward(self, input):
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


class ConvTranspose2d(_ConvNd):
    """2-d transposed convolution; ``weight`` is (in_channels, out_channels / groups, kh, kw).

    >>> import gpugrad as gg
    >>> gg.nn.ConvTranspose2d(3, 8, kernel_size=2, stride=2)(gg.ones(2, 3, 4, 4)).shape
    (2, 8, 8, 8)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, dims=2, transposed=True,
                         output_padding=output_padding)

    def forward(self, input):
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)
