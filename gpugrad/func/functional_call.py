"""``functional_call``: run a module with other tensors in place of its parameters and
buffers (``torch.func.functional_call``), so transforms can differentiate with respect to
them."""
from ..tensor import Tensor


def functional_call(module, parameter_and_buffer_dicts, args=(), kwargs=None, *,
                    tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the tensors of ``parameter_and_buffer_dicts`` (one
    dict of dotted names, or a tuple of them) standing in for the parameters and buffers of
    those names; the module's own are back in place afterwards. A single non-tuple ``args``
    is one argument. ``strict`` requires every parameter and buffer to be given; with
    ``tie_weights`` a tensor given under one name of a shared parameter serves all its names.

    >>> import gpugrad as gg
    >>> fc = gg.nn.Linear(2, 1)
    >>> params = {"weight": gg.ones(1, 2), "bias": gg.zeros(1)}
    >>> gg.func.functional_call(fc, params, (gg.tensor([[1.0, 2.0]]),)).tolist()
    [[3.0]]
    """
    dicts = parameter_and_buffer_dicts
    dicts = tuple(dicts) if isinstance(dicts, (tuple, list)) else (dicts,)
    given = {}
    for d in dicts:
        for name, value in d.items():
            if name in given:
                raise ValueError(f"functional_call: {name!r} appears in more than one dict")
            given[name] = value
    slots = _slots(module)
    if tie_weights:
        given = _tie(module, given)
    unknown = [name for name in given if name not in slots]
    if unknown:
        raise ValueError(f"functional_call: {type(module).__name__} has no parameter or "
                         f"buffer named {unknown}")
    if strict:
        missing = [name for name in slots if name not in given]
        if missing:
            raise RuntimeError(f"functional_call: missing parameters or buffers {missing}")
    for name, value in given.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"functional_call: {name!r} must be a Tensor, got "
                            f"{type(value).__name__}")
    saved = []
    try:
        for name, value in given.items():
            registry, key = slots[name]
            saved.append((registry, key, registry[key]))
            registry[key] = value
        args = args if isinstance(args, tuple) else (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for registry, key, old in reversed(saved):
            registry[key] = old


def _slots(module):
    """{dotted name: (the registry dict holding it, its key)} of every parameter and buffer,
    shared ones under each of their names."""
    slots = {}
    for prefix, sub in module.named_modules(remove_duplicate=False):
        for attr in ("_parameters", "_buffers"):
            registry = sub.__dict__[attr]
            for key, value in registry.items():
                if value is not None:
                    slots[f"{prefix}.{key}" if prefix else key] = (registry, key)
    return slots


def _tie(module, given):
    """``given`` extended to every other name of a tensor shared under several names."""
    names = {}
    for name, t in module.named_parameters(remove_duplicate=False):
        names.setdefault(id(t), []).append(name)
    for name, t in module.named_buffers(remove_duplicate=False):
        names.setdefault(id(t), []).append(name)
    out = dict(given)
    for group in names.values():
        chosen = [n for n in group if n in given]
        for name in group:
            if chosen and name not in out:
                out[name] = given[chosen[0]]
    return out
