"""Pooling layers: ``MaxPool1d/2d``, ``AvgPool1d/2d`` and the adaptive ones."""
from .. import functional as F
from ..functional.conv import _single
from .module import Module


class MaxPool2d(Module):
    """Max over kernel windows (stride defaults to the kernel size).

    >>> import gpugrad as gg
    >>> gg.nn.MaxPool2d(2)(gg.ones(1, 3, 4, 4)).shape
    (1, 3, 2, 2)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Mean over kernel windows (stride defaults to the kernel size).

    >>> import gpugrad as gg
    >>> gg.nn.AvgPool2d(2)(gg.ones(1, 3, 4, 4)).shape
    (1, 3, 2, 2)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool1d(MaxPool2d):
    """Max over kernel windows of (N, C, L) inputs (stride defaults to the kernel size).

    >>> import gpugrad as gg
    >>> gg.nn.MaxPool1d(2)(gg.ones(1, 3, 4)).shape
    (1, 3, 2)
    """

    def forward(self, input):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool1d(Module):
    """Mean over kernel windows of (N, C, L) inputs (stride defaults to the kernel size).

    >>> import gpugrad as gg
    >>> gg.nn.AvgPool1d(2)(gg.ones(1, 3, 4)).shape
    (1, 3, 2)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        # PyTorch keeps these three as 1-tuples (and shows them so in the repr)
        self.kernel_size = (_single(kernel_size, "kernel_size"),)
        self.stride = (_single(kernel_size if stride is None else stride, "stride"),)
        self.padding = (_single(padding, "padding"),)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptivePool(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """Mean over ``output_size`` near-equal windows, whatever the input length.

    >>> import gpugrad as gg
    >>> gg.nn.AdaptiveAvgPool1d(3)(gg.ones(2, 4, 7)).shape
    (2, 4, 3)
    """

    def forward(self, input):
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePool):
    """Mean over an ``output_size`` grid of near-equal windows, whatever the input size.

    >>> import gpugrad as gg
    >>> gg.nn.AdaptiveAvgPool2d((1, 1))(gg.ones(2, 4, 5, 7)).shape
    (2, 4, 1, 1)
    """

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveMaxPool1d(_AdaptivePool):
    """Max over ``output_size`` near-equal windows, whatever the input length.

    >>> import gpugrad as gg
    >>> gg.nn.AdaptiveMaxPool1d(3)(gg.ones(2, 4, 7)).shape
    (2, 4, 3)
    """

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(AdaptiveMaxPool1d):
    """Max over an ``output_size`` grid of near-equal windows, whatever the input size.

    >>> import gpugrad as gg
    >>> gg.nn.AdaptiveMaxPool2d(2)(gg.ones(2, 4, 5, 7)).shape
    (2, 4, 2, 2)
    """

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)
