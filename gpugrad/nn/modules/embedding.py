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
    weight's ``.grad`` is a ``gpugrad.sparse.RowSparseGrad`` of the rows a batch used.

    >>> import gpugrad as gg
    >>> emb = gg.nn.Embedding(10, 3, padding_idx=0)
    >>> emb(gg.tensor([[0, 4]])).shape, emb.weight[0].tolist()
    ((1, 2, 3), [0.0, 0.0, 0.0])
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        super().__init__()
        if max_norm is not None or scale_grad_by_freq:
            raise NotImplementedError("Embedding: max_norm and scale_grad_by_freq are not "
                                      "supported")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings)
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
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, sparse=False):
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
        return cls(rows, dim, padding_idx=padding_idx, sparse=sparse, _weight=weight,
                   _freeze=freeze)

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, sparse=self.sparse)

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.sparse:
            text += ", sparse=True"
        return text
