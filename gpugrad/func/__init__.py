"""Function transforms, as in ``torch.func`` and JAX: ``grad``, ``vjp``, ``jvp`` (true
forward mode), ``vmap`` (batching), ``jacrev``, ``jacfwd``, ``jacobian``, ``hessian`` and
``functional_call``; they compose.

>>> import gpugrad as gg
>>> f = lambda x: (x ** 2).sum()
>>> gg.func.grad(f)(gg.tensor([1.0, 2.0])).tolist()
[2.0, 4.0]
>>> gg.func.hessian(f, gg.tensor([1.0, 2.0])).tolist()
[[2.0, 0.0], [0.0, 2.0]]
"""
from . import batching, forward_ad
from .functional_call import functional_call
from .jacobians import hessian, jacfwd, jacobian, jacrev
from .transforms import grad, grad_and_value, jvp, vjp
from .vmap import vmap

__all__ = ["forward_ad", "functional_call", "grad", "grad_and_value", "hessian", "jacfwd",
           "jacobian", "jacrev", "jvp", "vjp", "vmap"]
