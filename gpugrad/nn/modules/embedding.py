"""``Embedding``: a lookup table of vectors, dense or with row-sparse gradients."""
from ... import creation
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..functional.embedding import _padding_index
from ..parameter import Parameter
from .module import Module


class Embedding(Module):
    """``num_embeddings`` vectors of size ``embedding_dim``, initialised N(0, 1) (the
    ``padding_idx`` row zeroed, and never updated by gradients). With ``sparse=True`` the
    weight's ``.grad`` is a ``gpugrad.sparse.RowSparseGrad`` of the rows a batch used. With
    ``max_norm``, each forward first rescales the looked-up rows whose ``norm_type``-norm
    exceeds it to that norm, in place (as PyTorch does).

    >>> import gpugrad as gg
    >>> emb = gg.nn.Embedding(10, 3, padding_idx=0)
    >>> emb(gg.tensor([[0, 4]])).shape, emb.weight[0].tolist()
    ((1, 2, 3), [0.0, 0.0, 0.0])
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        super().__init__()
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings)
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            weight = creation.empty(num_embeddings, embedding_dim, device=device, dtype=dtype)
            self.weight = Parameter(weight, requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: weight of shape {tuple(_weight.shape)} does not "
                                 f"match ({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with self.weight._backend.device_context(self.weight.device):
                self.weight._data[self.padding_idx] = 0
            self.weight._bump_version()

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding holding a copy of the 2-d ``embeddings``; frozen by default.

        >>> import gpugrad as gg
        >>> emb = gg.nn.Embedding.from_pretrained(gg.eye(3))
        >>> emb(gg.tensor([1])).tolist(), emb.weight.requires_grad
        ([[0.0, 1.0, 0.0]], False)
        """
        if not isinstance(embeddings, Tensor):
            embeddings = creation.tensor(embeddings)
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-d, got shape "
                             f"{embeddings.shape}")
        rows, dim = embeddings.shape
        weight = embeddings.detach().clone()  # on the embeddings' device, not the current one
        return cls(rows, dim, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=weight,
                   _freeze=freeze)

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, max_norm=self.max_norm,
                           norm_type=self.norm_type, scale_grad_by_freq=self.scale_grad_by_freq,
                           sparse=self.sparse)

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        if self.sparse:
            text += ", sparse=True"
        return text


class EmbeddingBag(Module):
    """Sums, means (default) or maxima of bags of rows of a ``(num_embeddings,
    embedding_dim)`` table, initialised N(0, 1), without materialising the looked-up rows'
    batch; see ``F.embedding_bag`` for bags, ``offsets``, ``per_sample_weights`` and
    ``padding_idx`` (whose row is zeroed and never counted in a bag).

    >>> import gpugrad as gg
    >>> bag = gg.nn.EmbeddingBag(10, 3, mode="sum")
    >>> bag(gg.tensor([1, 2, 4, 5]), gg.tensor([0, 2])).shape
    (2, 3)
    """

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        if scale_grad_by_freq:
            raise NotImplementedError("EmbeddingBag: scale_grad_by_freq is not supported")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type, self.mode = max_norm, norm_type, mode
        self.sparse, self.include_last_offset = sparse, include_last_offset
        self.padding_idx = _padding_index(padding_idx, num_embeddings)
        if _weight is None:
            weight = creation.empty(num_embeddings, embedding_dim, device=device, dtype=dtype)
            self.weight = Parameter(weight)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"EmbeddingBag: weight of shape {tuple(_weight.shape)} does "
                                 f"not match ({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight)

    def reset_parameters(self):
        """Draw the weight from N(0, 1) again (the ``padding_idx`` row zeroed).

        >>> gg.nn.EmbeddingBag(3, 2, padding_idx=1).weight[1].tolist()
        [0.0, 0.0]
        """
        Embedding.reset_parameters(self)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, mode="mean", sparse=False,
                        include_last_offset=False, padding_idx=None):
        """An EmbeddingBag holding a copy of the 2-d ``embeddings``; frozen by default.

        >>> bag = gg.nn.EmbeddingBag.from_pretrained(gg.eye(2), mode="sum")
        >>> bag(gg.tensor([[0, 1]])).tolist()
        [[1.0, 1.0]]
        """
        if not isinstance(embeddings, Tensor):
            embeddings = creation.tensor(embeddings)
        if embeddings.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-d, got "
                             f"shape {embeddings.shape}")
        rows, dim = embeddings.shape
        bag = cls(rows, dim, max_norm=max_norm, norm_type=norm_type,
                  scale_grad_by_freq=scale_grad_by_freq, mode=mode, sparse=sparse,
                  _weight=embeddings.detach().clone(), include_last_offset=include_last_offset,
                  padding_idx=padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, max_norm=self.max_norm,
                               norm_type=self.norm_type, mode=self.mode, sparse=self.sparse,
                               per_sample_weights=per_sample_weights,
                               include_last_offset=self.include_last_offset,
                               padding_idx=self.padding_idx)

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}, mode='{self.mode}'"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text
