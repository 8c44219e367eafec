"""The legacy weight normalisation (``torch.nn.utils.weight_norm``): parameters
``<name>_g`` and ``<name>_v``, and ``<name>`` recomputed from them before each forward."""
from ..parameter import Parameter
from .parametrizations import _weight_dim, norm_except_dim

__all__ = ["weight_norm", "remove_weight_norm"]


class _WeightNormHook:
    """The forward pre-hook that recomputes ``module.<name>`` from g and v."""

    def __init__(self, name, dim):
        self.name, self.dim = name, dim

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / norm_except_dim(v, 2, self.dim))

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Weight normalisation, the legacy way: the parameter ``name`` is replaced by
    ``<name>_g`` (its norm over every dim but ``dim``; ``dim=None``: the whole tensor) and
    ``<name>_v`` (its direction), and ``module.<name>`` = g * v / ||v|| is recomputed
    before each forward. ``nn.utils.parametrizations.weight_norm`` is the newer form.
    Returns ``module``.

    >>> lin = gg.nn.utils.weight_norm(gg.nn.Linear(3, 2))
    >>> list(lin.state_dict()), lin(gg.ones(1, 3)).shape
    (['bias', 'weight_g', 'weight_v'], (1, 2))
    """
    hooks = module.__dict__.setdefault("_weight_norm_hooks", {})
    if name in hooks:
        raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter "
                           f"{name}")
    weight = getattr(module, name)
    hook = _WeightNormHook(name, _weight_dim(dim, weight.ndim))
    del module._parameters[name]
    module.register_parameter(name + "_g",
                              Parameter(norm_except_dim(weight, 2, hook.dim).detach()))
    module.register_parameter(name + "_v", Parameter(weight.detach()))
    object.__setattr__(module, name, hook.compute_weight(module))
    hooks[name] = (hook, module.register_forward_pre_hook(hook))
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``name`` becomes a plain parameter again holding g * v / ||v||.
    Returns ``module``.

    >>> lin = gg.nn.utils.remove_weight_norm(gg.nn.utils.weight_norm(gg.nn.Linear(3, 2)))
    >>> list(lin.state_dict())
    ['bias', 'weight']
    """
    hooks = module.__dict__.get("_weight_norm_hooks", {})
    if name not in hooks:
        raise ValueError(f"weight_norm of '{name}' not found in {module}")
    hook, handle = hooks.pop(name)
    weight = hook.compute_weight(module).detach()
    handle.remove()
    del module._parameters[name + "_g"], module._parameters[name + "_v"]
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(weight))
    return module
