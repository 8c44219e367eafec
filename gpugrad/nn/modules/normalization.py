"""Normalisation layers: LayerNorm, BatchNorm1d/2d, GroupNorm, InstanceNorm1d/2d, RMSNorm."""
from ... import creation
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module


class _AffineNorm(Module):
    """What the norms share: an optional per-feature scale (ones at start) and shift (zeros
    at start; only with the scale), registered as None where absent, as in PyTorch."""

    def _init_affine(self, shape, affine, bias, device, dtype):
        if affine:
            self.weight = Parameter(creation.ones(shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if affine and bias:
            self.bias = Parameter(creation.zeros(shape, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)


class LayerNorm(_AffineNorm):
    """Normalise over the trailing ``normalized_shape`` dims; weight 1 and bias 0 at start.

    >>> import gpugrad as gg
    >>> gg.nn.LayerNorm(4)(gg.randn(2, 4)).shape
    (2, 4)
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self._init_affine(self.normalized_shape, elementwise_affine, bias, device, dtype)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class _BatchNorm(_AffineNorm):
    """Shared by the batch norms; subclasses say which input ranks they accept."""

    ranks = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self._init_affine(num_features, affine, bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, device=device,
                                                                dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, device=device,
                                                              dtype=dtype))
            self.register_buffer("num_batches_tracked",
                                 creation.tensor(0, dtype="int64", device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        self.reset_running_stats()
        super().reset_parameters()

    def forward(self, input):
        if input.ndim not in self.ranks:
            raise ValueError(f"{type(self).__name__}: expected {' or '.join(map(str, self.ranks))}"
                             f"-d input, got {input.ndim}-d input of shape {input.shape}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels in "
                             f"dim 1, got input of shape {input.shape}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative average over all batches so far
                momentum = 1.0 / float(self.num_batches_tracked.item())
        # Without running statistics, batch statistics are used in eval mode too.
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch_stats, momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")

    def _optional_state_keys(self):
        return ("num_batches_tracked",) if self.track_running_stats else ()


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs, per channel C.

    >>> import gpugrad as gg
    >>> bn = gg.nn.BatchNorm1d(3)
    >>> bn(gg.randn(8, 3)).shape, int(bn.num_batches_tracked)
    ((8, 3), 1)
    """

    ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs, per channel C (``gg.nn.BatchNorm2d(16)``).

    >>> bn = gg.nn.BatchNorm2d(3)
    >>> y = bn(gg.randn(4, 3, 5, 5))
    >>> y.shape, abs(y.mean().item()) < 1e-5
    ((4, 3, 5, 5), True)
    >>> bn.running_mean.shape
    (3,)
    """

    ranks = (4,)


class GroupNorm(_AffineNorm):
    """Normalise groups of channels of each sample (``F.group_norm``); per-channel weight 1
    and bias 0 at start when ``affine``.

    >>> gn = gg.nn.GroupNorm(2, 4)
    >>> gn(gg.randn(3, 4, 5)).shape, gn.weight.shape
    ((3, 4, 5), (4,))
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        self._init_affine(num_channels, affine, bias, device, dtype)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


class _InstanceNorm(_BatchNorm):
    """Shared by the instance norms: batch norm's state, statistics per sample."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def forward(self, input):
        name = type(self).__name__
        batched = self.ranks[-1]
        if input.ndim not in self.ranks:
            raise ValueError(f"{name}: expected {batched - 1}D or {batched}D input (got "
                             f"{input.ndim}D input)")
        unbatched = input.ndim == batched - 1
        if unbatched:
            input = input.unsqueeze(0)
        if self.affine and input.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected input's size at dim={1 - unbatched} to match "
                             f"num_features ({self.num_features}), but got: {input.shape[1]}.")
        use_input_stats = self.training or not self.track_running_stats
        # PyTorch's instance norm has no cumulative average: momentum None updates nothing.
        momentum = 0.0 if self.momentum is None else self.momentum
        out = F.instance_norm(input, self.running_mean, self.running_var, self.weight,
                              self.bias, use_input_stats, momentum, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of (N, C, L) or unbatched (C, L) inputs; no affine part and no running
    statistics by default, as in PyTorch.

    >>> y = gg.nn.InstanceNorm1d(3)(gg.randn(2, 3, 5))
    >>> y.shape, abs(y.mean(2)).max().item() < 1e-5
    ((2, 3, 5), True)
    """

    ranks = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of (N, C, H, W) or unbatched (C, H, W) inputs.

    >>> gg.nn.InstanceNorm2d(3, affine=True)(gg.randn(2, 3, 4, 4)).shape
    (2, 3, 4, 4)
    """

    ranks = (3, 4)


class RMSNorm(Module):
    """x / rms(x) over the trailing ``normalized_shape`` dims, times a weight of ones at
    start; ``eps=None`` is the input dtype's machine epsilon (``F.rms_norm``).

    >>> gg.nn.RMSNorm(4)(gg.randn(2, 4)).shape
    (2, 4)
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(creation.ones(self.normalized_shape, device=device,
                                                  dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
