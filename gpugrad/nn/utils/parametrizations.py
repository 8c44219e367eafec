"""Parametrizations to register on a module's tensors (``torch.nn.utils.parametrizations``):
``weight_norm`` and ``spectral_norm``."""
from ...autograd.grad_mode import no_grad
from .. import functional as F
from ..modules.module import Module
from .parametrize import register_parametrization

__all__ = ["weight_norm", "spectral_norm"]


def norm_except_dim(v, pow=2, dim=0):
    """The ``pow``-norm of ``v`` over every dim but ``dim`` (kept, the others of size 1);
    ``dim=-1`` is the norm of the whole tensor (a 0-d tensor), as in PyTorch.

    >>> norm_except_dim(gg.tensor([[3.0, 4.0], [0.0, 1.0]]), 2, 0).tolist()
    [[5.0], [1.0]]
    >>> norm_except_dim(gg.tensor([[3.0, 4.0]]), 2, -1).item()
    5.0
    """
    if dim == -1:
        return (v.abs() ** pow).sum() ** (1.0 / pow)
    others = tuple(d for d in range(v.ndim) if d != dim)
    if not others:
        return v.abs()
    return (v.abs() ** pow).sum(dim=others, keepdim=True) ** (1.0 / pow)


def _weight_dim(dim, ndim):
    if dim is None:
        return -1
    if dim < -1:
        return dim + ndim
    return dim


class _WeightNorm(Module):
    """weight = g * v / ||v|| (the norm over every dim but ``dim``), from (g, v)."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / norm_except_dim(weight_v, 2, self.dim))

    def right_inverse(self, weight):
        """(g, v) for ``weight``: its norm and itself.

        >>> g, v = _WeightNorm(0).right_inverse(gg.tensor([[3.0, 4.0]]))
        >>> g.tolist(), v.tolist()
        ([[5.0]], [[3.0, 4.0]])
        """
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Weight normalisation: ``module.<name>`` becomes g * v / ||v||, with magnitude g
    (``parametrizations.<name>.original0``, the norm over every dim but ``dim``) and
    direction v (``original1``) trained separately. ``dim=None`` normalises the whole
    tensor (g is then 0-d). The state dict keys are PyTorch's. Returns ``module``.

    >>> lin = weight_norm(gg.nn.Linear(3, 2))
    >>> list(lin.state_dict())
    ['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
    >>> lin.parametrizations.weight.original0.shape
    (2, 1)
    """
    weight = getattr(module, name)
    register_parametrization(module, name, _WeightNorm(_weight_dim(dim, weight.ndim)),
                             unsafe=True)
    return module


class _SpectralNorm(Module):
    """weight / sigma, sigma the largest singular value of the weight seen as a matrix (dim
    ``dim`` first, the others flattened), estimated by power iteration on the buffers
    ``_u`` and ``_v``: ``n_power_iterations`` steps per forward in training, none in eval."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            mat = self._matrix(weight)
            h, w = mat.shape
            with no_grad():
                u = mat.new_empty(h).normal_(0, 1)
                v = mat.new_empty(w).normal_(0, 1)
                self.register_buffer("_u", F.normalize(u, dim=0, eps=eps))
                self.register_buffer("_v", F.normalize(v, dim=0, eps=eps))
            self._power_method(mat, 15)

    def _matrix(self, weight):
        if self.dim != 0:
            order = [self.dim] + [d for d in range(weight.ndim) if d != self.dim]
            weight = weight.permute(*order)
        return weight.flatten(1)

    def _power_method(self, mat, n):
        with no_grad():
            mat = mat.detach()
            for _ in range(n):
                self._u.copy_(F.normalize(mat @ self._v, dim=0, eps=self.eps))
                self._v.copy_(F.normalize(mat.T @ self._u, dim=0, eps=self.eps))

    def forward(self, weight):
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        mat = self._matrix(weight)
        if self.training:
            self._power_method(mat, self.n_power_iterations)
        # copies: the next power iteration updates the buffers in place
        u, v = self._u.clone(), self._v.clone()
        sigma = (u * (mat @ v)).sum()
        return weight / sigma

    def right_inverse(self, value):
        """Any weight is its own preimage (sigma is re-estimated at each forward).

        >>> w = gg.ones(2, 2)
        >>> _SpectralNorm(w).right_inverse(w) is w
        True
        """
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Spectral normalisation: ``module.<name>`` becomes the weight divided by its largest
    singular value, estimated by ``n_power_iterations`` power-iteration steps per training
    forward (buffers ``parametrizations.<name>.0._u`` / ``_v``, PyTorch's keys). ``dim``
    (default 0; 1 for transposed convolutions) is the output dim of the weight matrix.
    Returns ``module``.

    >>> lin = spectral_norm(gg.nn.Linear(4, 3))
    >>> list(lin.state_dict())
    ['bias', 'parametrizations.weight.original', 'parametrizations.weight.0._u',
     'parametrizations.weight.0._v']
    >>> _ = [lin(gg.ones(1, 4)) for _ in range(20)]
    >>> round(float(np.linalg.svd(lin.weight.detach().numpy(), compute_uv=False)[0]), 4)
    1.0
    """
    weight = getattr(module, name)
    if dim is None:
        transposed = type(module).__name__.startswith("ConvTranspose")
        dim = 1 if transposed else 0
    register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
