"""Parametrizations (``torch.nn.utils.parametrize``): a module's tensor computed from other
tensors each time it is read.

``register_parametrization(module, "weight", p)`` moves the parameter to
``module.parametrizations.weight.original`` (or ``original0``, ``original1``, ... when
``p.right_inverse`` returns several tensors) and makes ``module.weight`` a property that
returns ``p(original)``. As in PyTorch, the module's class is swapped for a subclass
(``ParametrizedLinear``, say) holding those properties, so the state dict keys are
PyTorch's and a PyTorch state dict of a parametrized module loads unchanged.
"""
import contextlib

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from ..modules.container import ModuleDict, ModuleList
from ..parameter import Parameter

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "type_before_parametrizations", "ParametrizationList"]

_cache = {}
_cache_depth = [0]


@contextlib.contextmanager
def cached():
    """Within the block, each parametrized tensor is computed once, on first read, and the
    result reused (a weight read at every step of an RNN, say).

    >>> lin = gg.nn.Linear(2, 2)
    >>> _ = register_parametrization(lin, "weight", gg.nn.Identity())
    >>> with cached():
    ...     lin.weight is lin.weight
    True
    """
    _cache_depth[0] += 1
    try:
        yield
    finally:
        _cache_depth[0] -= 1
        if not _cache_depth[0]:
            _cache.clear()


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the unparametrized
    tensor(s) they start from: ``original`` (or ``original0``, ``original1``, ...).

    >>> lin = gg.nn.Linear(3, 2)
    >>> _ = register_parametrization(lin, "weight", gg.nn.Identity())
    >>> type(lin.parametrizations.weight).__name__, lin.parametrizations.weight.original.shape
    ('ParametrizationList', (2, 3))
    """

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        first = modules[0]
        with no_grad():
            new = first.right_inverse(original) if hasattr(first, "right_inverse") else original
        self.is_tensor = isinstance(new, Tensor)
        if self.is_tensor:
            if not unsafe and (new.shape != original.shape or new.dtype != original.dtype):
                raise ValueError(f"When `right_inverse` outputs one tensor, it may not change "
                                 f"the dtype or shape: original {original.dtype} "
                                 f"{original.shape}, right_inverse(original) {new.dtype} "
                                 f"{new.shape}")
            if new is not original:
                _set_data(original, new)  # the same Parameter: optimizers keep working
            self._register_original("original", original)
            self.ntensors = 1
        else:
            new = tuple(new)
            for i, t in enumerate(new):
                if isinstance(original, Parameter):
                    t = Parameter(t.detach().clone(), requires_grad=original.requires_grad)
                self._register_original(f"original{i}", t)
            self.ntensors = len(new)

    def _register_original(self, name, tensor):
        if isinstance(tensor, Parameter):
            self.register_parameter(name, tensor)
        else:
            self.register_buffer(name, tensor)

    def originals(self):
        """The unparametrized tensor(s), in order.

        >>> lin = gg.nn.Linear(3, 2)
        >>> _ = register_parametrization(lin, "weight", gg.nn.Identity())
        >>> [t.shape for t in lin.parametrizations.weight.originals()]
        [(2, 3)]
        """
        if self.is_tensor:
            return [self.original]
        return [getattr(self, f"original{i}") for i in range(self.ntensors)]

    def right_inverse(self, value):
        """Set the originals so that the parametrized tensor becomes ``value`` (each
        parametrization's ``right_inverse``, last first).

        >>> class Double(gg.nn.Module):
        ...     def forward(self, x):
        ...         return 2 * x
        ...     def right_inverse(self, x):
        ...         return x / 2
        >>> lin = register_parametrization(gg.nn.Linear(2, 2), "weight", Double())
        >>> lin.weight = gg.eye(2)
        >>> lin.parametrizations.weight.original.tolist()
        [[0.5, 0.0], [0.0, 0.5]]
        """
        with no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not "
                                       "implement right_inverse.")
                value = module.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor, got "
                                     f"{type(value).__name__}")
                _set_data(self.original, value)
            else:
                if len(value) != self.ntensors:
                    raise ValueError(f"`right_inverse` must return a sequence of "
                                     f"{self.ntensors} tensors, got {len(value)}")
                for original, t in zip(self.originals(), value):
                    _set_data(original, t)

    def forward(self):
        first, *rest = list(self)
        if self.is_tensor:
            x = first(self.original)
        else:
            x = first(*self.originals())
        for module in rest:
            x = module(x)
        return x


def _set_data(target, value):
    """Give ``target`` (a Parameter or buffer) the values of ``value``, in place when the
    shapes agree (so its identity and device stay), else by taking a copy's array."""
    with no_grad():
        if value.shape == target.shape and value.dtype == target.dtype:
            target.copy_(value)
        else:
            target._data = value.detach().clone()._data
            target._bump_version()


def _reclass(module):
    """Switch ``module`` to a fresh ``Parametrized<Cls>`` holding one property per
    parametrized tensor (or back to its own class when none is left). A new class each
    time: copies of the module (``copy.deepcopy``) keep theirs, untouched."""
    base = type_before_parametrizations(module)
    names = list(module.parametrizations) if "parametrizations" in module._modules else []
    if not names:
        object.__setattr__(module, "__class__", base)
        return
    attrs = {name: _property(name) for name in names}
    attrs.update(__setattr__=_setattr, _parametrized_from=base, __module__=base.__module__)
    object.__setattr__(module, "__class__", type(f"Parametrized{base.__name__}", (base,), attrs))


def _setattr(self, name, value):
    if name in type(self).__dict__ and isinstance(type(self).__dict__[name], property):
        type(self).__dict__[name].fset(self, value)  # a Parameter too: it sets the originals
        return
    type(self)._parametrized_from.__setattr__(self, name, value)


def _property(name):
    def get(self):
        key = (id(self), name)
        if _cache_depth[0] and key in _cache:
            return _cache[key]
        value = self.parametrizations[name]()
        if _cache_depth[0]:
            _cache[key] = value
        return value

    def set(self, value):
        self.parametrizations[name].right_inverse(value)
    return property(get, set)


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Make ``module.<tensor_name>`` the output of ``parametrization`` (a Module) applied to
    the original tensor, kept as ``module.parametrizations.<tensor_name>.original``; a
    second call on the same tensor appends to its list of parametrizations. With
    ``parametrization.right_inverse`` the original is initialised (and assignments to the
    tensor are mapped back) through it; unless ``unsafe``, the parametrization may not
    change the tensor's shape or dtype. Returns ``module``.

    >>> class Symmetric(gg.nn.Module):
    ...     def forward(self, x):
    ...         return x.triu() + x.triu(1).T
    >>> lin = register_parametrization(gg.nn.Linear(3, 3), "weight", Symmetric())
    >>> bool((lin.weight == lin.weight.T).all()), type(lin).__name__
    (True, 'ParametrizedLinear')
    >>> list(lin.state_dict())
    ['bias', 'parametrizations.weight.original']
    """
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            before = getattr(module, tensor_name)
            after = parametrization(before)
            if not isinstance(after, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got "
                                 f"{type(after).__name__}.")
            _check_unchanged(before, after)
        plist.append(parametrization)
        plist.unsafe = plist.unsafe or unsafe
        _cache.clear()
        return module
    original = _registered_tensor(module, tensor_name)
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    if not unsafe:
        with no_grad():
            after = plist()
        if not isinstance(after, Tensor):
            raise ValueError(f"A parametrization must return a tensor. Got "
                             f"{type(after).__name__}.")
        _check_unchanged(original, after)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = plist
    _reclass(module)
    return module


def _registered_tensor(module, name):
    for registry in (module._parameters, module._buffers):
        if name in registry and registry[name] is not None:
            return registry[name]
    raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                     f"parametrized element with name '{name}'")


def _check_unchanged(before, after):
    if before.shape != after.shape or before.dtype != after.dtype:
        raise ValueError(f"Registering a parametrization may not change the shape or dtype of "
                         f"the tensor, unless `unsafe` flag is enabled.\nunparametrized: "
                         f"{before.dtype} {before.shape}\nparametrized: {after.dtype} "
                         f"{after.shape}")


def is_parametrized(module, tensor_name=None):
    """Has ``module`` any parametrization (or one on ``tensor_name``)?

    >>> lin = gg.nn.Linear(2, 2)
    >>> is_parametrized(lin)
    False
    >>> _ = register_parametrization(lin, "weight", gg.nn.Identity())
    >>> is_parametrized(lin), is_parametrized(lin, "weight"), is_parametrized(lin, "bias")
    (True, True, False)
    """
    plists = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(plists, ModuleDict) or "_parametrized_from" not in vars(type(module)):
        return False
    return tensor_name is None or tensor_name in plists


def type_before_parametrizations(module):
    """The module's class before any parametrization was registered on it.

    >>> lin = register_parametrization(gg.nn.Linear(2, 2), "weight", gg.nn.Identity())
    >>> type_before_parametrizations(lin).__name__
    'Linear'
    """
    return getattr(type(module), "_parametrized_from", type(module))


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo the parametrizations of ``module.<tensor_name>``: the tensor becomes a plain
    parameter (or buffer) again, holding its current parametrized value when
    ``leave_parametrized`` (default), else the original. Returns ``module``.

    >>> lin = register_parametrization(gg.nn.Linear(2, 2), "weight", gg.nn.Identity())
    >>> lin = remove_parametrizations(lin, "weight")
    >>> type(lin).__name__, [n for n, _ in lin.named_parameters()]
    ('Linear', ['bias', 'weight'])
    """
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
            _set_data(original, value)
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a "
                             "tensor that is parametrized in terms of a sequence of tensors.")
        with no_grad():
            value = getattr(module, tensor_name).detach().clone()
        first = plist.originals()[0]
        if isinstance(first, Parameter):
            original = Parameter(value, requires_grad=first.requires_grad)
        else:
            original = value
    del module.parametrizations[tensor_name]
    if not len(module.parametrizations):
        delattr(module, "parametrizations")
    _reclass(module)
    if isinstance(original, Parameter):
        module.register_parameter(tensor_name, original)
    else:
        module.register_buffer(tensor_name, original)
    _cache.clear()
    return module
