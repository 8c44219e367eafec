"""Loss layers: modules holding a loss's options, over ``gpugrad.nn.functional``.

Class weights are registered as buffers, so they move with ``to()`` and are saved, as in
PyTorch.
"""
from ...tensor import Tensor
from .. import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def _register_weight(self, name, weight):
        if weight is not None and not isinstance(weight, Tensor):
            raise TypeError(f"{type(self).__name__}: {name} must be a Tensor or None")
        self.register_buffer(name, weight)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits, fused and stable (see ``F.cross_entropy``).

    >>> import gpugrad as gg
    >>> loss = gg.nn.CrossEntropyLoss()(gg.zeros(2, 4), gg.tensor([0, 3]))
    >>> round(loss.item(), 4)
    1.3863
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self._register_weight("weight", weight)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (``gg.nn.NLLLoss()(logp, target)``).

    >>> logp = gg.tensor([[0.25, 0.75], [0.5, 0.5]]).log()
    >>> gg.nn.NLLLoss()(logp, gg.tensor([1, 0])).round(decimals=4)
    tensor(0.4904)
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self._register_weight("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error.

    >>> import gpugrad as gg
    >>> gg.nn.MSELoss()(gg.tensor([2.0]), gg.tensor([0.0])).item()
    4.0
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error (``gg.nn.L1Loss()(x, y)``).

    >>> gg.nn.L1Loss()(gg.tensor([1.0, 4.0]), gg.tensor([2.0, 2.0]))
    tensor(1.5)
    """

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits, stable for any logit (``pos_weight`` optional).

    >>> import gpugrad as gg
    >>> round(gg.nn.BCEWithLogitsLoss()(gg.tensor([0.0]), gg.tensor([0.0])).item(), 4)
    0.6931
    """

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self._register_weight("weight", weight)
        self._register_weight("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class SmoothL1Loss(_Loss):
    """Squared below ``beta``, L1 above (``gg.nn.SmoothL1Loss(beta=0.5)(x, y)``).

    >>> loss = gg.nn.SmoothL1Loss(reduction='none', beta=1.0)
    >>> loss(gg.tensor([0.5, 3.0]), gg.zeros(2))
    tensor([0.125, 2.5  ])
    """

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Squared below ``delta``, delta-scaled L1 above (``gg.nn.HuberLoss(delta=2.0)``).

    >>> loss = gg.nn.HuberLoss(reduction='none', delta=2.0)
    >>> loss(gg.tensor([1.0, 3.0]), gg.zeros(2))
    tensor([0.5, 4. ])
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence of log-probabilities from a target distribution; use
    ``reduction='batchmean'`` for the true KL divergence (see ``F.kl_div``).

    >>> import gpugrad as gg
    >>> p = gg.tensor([[0.25, 0.75]])
    >>> gg.nn.KLDivLoss(reduction="batchmean")(p.log(), p).item()
    0.0
    """

    def __init__(self, reduction="mean", log_target=False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities, logs clamped to >= -100 (``F.binary_cross_entropy``).

    >>> import gpugrad as gg
    >>> round(gg.nn.BCELoss()(gg.tensor([0.5]), gg.tensor([0.0])).item(), 4)
    0.6931
    """

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self._register_weight("weight", weight)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 - cos for similar pairs (target 1), max(0, cos - margin) for dissimilar ones (-1).

    >>> a, b = gg.tensor([[1.0, 0.0], [1.0, 0.0]]), gg.tensor([[0.0, 1.0], [1.0, 0.0]])
    >>> gg.nn.CosineEmbeddingLoss(reduction='none')(a, b, gg.tensor([1, -1]))
    tensor([1., 1.])
    """

    def __init__(self, margin=0.0, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, self.margin,
                                       reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """max(0, -y (x1 - x2) + margin) (``F.margin_ranking_loss``).

    >>> loss = gg.nn.MarginRankingLoss(margin=0.5)
    >>> loss(gg.tensor([1.0]), gg.tensor([0.0]), gg.tensor([1.0])).item()
    0.0
    """

    def __init__(self, margin=0.0, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, self.margin,
                                     reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """max(0, d(a, p) - d(a, n) + margin) with p-norm distances
    (``F.triplet_margin_loss``).

    >>> a = gg.zeros(1, 2)
    >>> gg.nn.TripletMarginLoss()(a, a, a + 5.0).item()
    0.0
    """

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
        super().__init__(reduction)
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, self.margin, self.p,
                                     self.eps, self.swap, reduction=self.reduction)
