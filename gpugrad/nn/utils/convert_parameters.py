"""``parameters_to_vector`` and ``vector_to_parameters``: all parameters as one flat vector."""
from ...autograd.grad_mode import no_grad
from ...ops.join import cat
from ...tensor import Tensor


def parameters_to_vector(parameters):
    """Concatenate the flattened parameters (differentiable, in the order given).

    >>> import gpugrad as gg
    >>> gg.nn.utils.parameters_to_vector(gg.nn.Linear(2, 3).parameters()).shape
    (9,)
    """
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-d ``vec`` into ``parameters``, in place.

    >>> import gpugrad as gg
    >>> lin = gg.nn.Linear(1, 1)
    >>> gg.nn.utils.vector_to_parameters(gg.tensor([2.0, 3.0]), lin.parameters())
    >>> lin.weight.item(), lin.bias.item()
    (2.0, 3.0)
    """
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError(f"vector_to_parameters: expected a 1-d Tensor, got "
                        f"{getattr(vec, 'shape', type(vec).__name__)}")
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if total != vec.shape[0]:
        raise ValueError(f"vector_to_parameters: the vector has {vec.shape[0]} elements but "
                         f"the parameters hold {total}")
    start = 0
    with no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(vec[start:start + n].reshape(p.shape))
            start += n
