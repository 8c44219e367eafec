"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``,
``ParameterDict``."""
import operator
from collections import OrderedDict

from ...tensor import Tensor
from ..parameter import Parameter
from .module import Module, _block, _indent


def _index(n, idx):
    """``idx`` as a non-negative position in a container of ``n`` modules."""
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for a container of {n} modules")
    return idx % n


class _IndexedModules(Module):
    """Shared by Sequential and ModuleList: modules stored under "0", "1", ... in order."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __setitem__(self, idx, module):
        key = list(self._modules)[_index(len(self), idx)]
        self.register_module(key, module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        doomed = keys[idx] if isinstance(idx, slice) else [keys[_index(len(self), idx)]]
        for key in doomed:
            del self._modules[key]
        self._renumber(list(self._modules.values()))

    def _renumber(self, modules):
        # PyTorch renumbers after a deletion or insertion, so keys stay "0".."n-1".
        self._modules.clear()
        for i, module in enumerate(modules):
            self._modules[str(i)] = module

    def append(self, module):
        """Add ``module`` at the end; returns the container."""
        self.register_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        if not isinstance(module, Module):
            raise TypeError(f"insert: expected a Module, got {type(module).__name__}")
        modules = list(self._modules.values())
        modules.insert(index, module)  # list.insert's rules for out-of-range indices
        self._renumber(modules)


class Sequential(_IndexedModules):
    """Modules applied in order; indexable, sliceable, with ``len`` and ``append``.

    >>> import gpugrad as gg
    >>> net = gg.nn.Sequential(gg.nn.Linear(2, 3), gg.nn.ReLU(), gg.nn.Linear(3, 1))
    >>> len(net), type(net[1]).__name__, len(net[:2])
    (3, 'ReLU', 2)
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for key, module in args[0].items():
                self.register_module(key, module)
        else:
            for i, module in enumerate(args):
                self.register_module(str(i), module)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(len(self), idx)]

    def forward(self, input):
        """Run the modules in order, each on the previous one's output.

        >>> net = gg.nn.Sequential(gg.nn.Linear(2, 2), gg.nn.ReLU())
        >>> net(gg.ones(3, 2)).shape
        (3, 2)
        """
        for module in self._modules.values():
            input = module(input)
        return input


class ModuleList(_IndexedModules):
    """A list of modules whose parameters the parent registers.

    >>> import gpugrad as gg
    >>> layers = gg.nn.ModuleList([gg.nn.Linear(2, 2) for _ in range(3)])
    >>> len(list(layers.parameters()))
    6
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return list(self._modules.values())[_index(len(self), idx)]

    def __iadd__(self, modules):
        return self.extend(modules)

    def __repr__(self):
        """PyTorch's: runs of identical modules print once, as ``(0-2): 3 x Linear(...)``."""
        runs = []  # [first index, last index, repr]
        for i, module in enumerate(self):
            text = repr(module)
            if runs and runs[-1][2] == text:
                runs[-1][1] = i
            else:
                runs.append([i, i, text])
        lines = [f"({first}): {_indent(text)}" if first == last
                 else f"({first}-{last}): {last - first + 1} x {_indent(text)}"
                 for first, last, text in runs]
        return _block(type(self).__name__, lines)


class ModuleDict(Module):
    """A dict of modules whose parameters the parent registers; keeps insertion order.

    >>> import gpugrad as gg
    >>> heads = gg.nn.ModuleDict({"a": gg.nn.Linear(2, 1), "b": gg.nn.Identity()})
    >>> list(heads.keys())
    ['a', 'b']
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.register_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        """The keys, in insertion order.

        >>> d = gg.nn.ModuleDict({'enc': gg.nn.Linear(2, 2), 'dec': gg.nn.Linear(2, 1)})
        >>> list(d.keys())
        ['enc', 'dec']
        """
        return self._modules.keys()

    def items(self):
        """(key, module) pairs, in insertion order.

        >>> d = gg.nn.ModuleDict({'enc': gg.nn.Linear(2, 2), 'dec': gg.nn.Linear(2, 1)})
        >>> [(k, type(m).__name__) for k, m in d.items()]
        [('enc', 'Linear'), ('dec', 'Linear')]
        """
        return self._modules.items()

    def values(self):
        """The modules, in insertion order.

        >>> d = gg.nn.ModuleDict({'enc': gg.nn.Linear(2, 2), 'dec': gg.nn.Linear(2, 1)})
        >>> [m.out_features for m in d.values()]
        [2, 1]
        """
        return self._modules.values()

    def pop(self, key):
        """Remove the module under ``key`` and return it.

        >>> d = gg.nn.ModuleDict({'enc': gg.nn.Linear(2, 2), 'dec': gg.nn.Linear(2, 1)})
        >>> d.pop('dec').out_features, list(d)
        (1, ['enc'])
        """
        return self._modules.pop(key)

    def clear(self):
        """Remove every module.

        >>> d = gg.nn.ModuleDict({'enc': gg.nn.Linear(2, 2), 'dec': gg.nn.Linear(2, 1)})
        >>> d.clear()
        >>> len(d)
        0
        """
        self._modules.clear()

    def update(self, modules):
        """Add (key, module) pairs from a mapping or an iterable of pairs.

        >>> d = gg.nn.ModuleDict({'enc': gg.nn.Linear(2, 2), 'dec': gg.nn.Linear(2, 1)})
        >>> d.update({'head': gg.nn.Linear(1, 3)})
        >>> list(d)
        ['enc', 'dec', 'head']
        """
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            self[key] = module


def _as_parameter(value):
    # PyTorch wraps a plain Tensor given to a parameter container as a Parameter.
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _parameter_line(key, value):
    kind = "Parameter" if isinstance(value, Parameter) else type(value).__name__
    size = "x".join(str(s) for s in value.shape)
    return f"({key}): {kind} containing: [gpugrad.{value.dtype} of size {size}]"


class ParameterList(Module):
    """A list of parameters registered under "0", "1", ...; Tensors are wrapped as
    Parameters.

    >>> ps = gg.nn.ParameterList([gg.nn.Parameter(gg.ones(2)), gg.zeros(3)])
    >>> len(ps), [name for name, _ in ps.named_parameters()]
    (2, ['0', '1'])
    """

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __getitem__(self, idx):
        values = list(self._parameters.values())
        if isinstance(idx, slice):
            return type(self)(values[idx])
        return values[_index(len(self), idx)]

    def __setitem__(self, idx, value):
        setattr(self, str(_index(len(self), idx)), _as_parameter(value))

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value):
        """Add ``value`` at the end; returns the list.

        >>> gg.nn.ParameterList().append(gg.ones(1))[0].requires_grad
        True
        """
        setattr(self, str(len(self)), _as_parameter(value))
        return self

    def extend(self, values):
        """Append each of ``values``; returns the list.

        >>> len(gg.nn.ParameterList().extend([gg.ones(1), gg.ones(2)]))
        2
        """
        for value in values:
            self.append(value)
        return self

    def extra_repr(self):
        return "\n".join(_parameter_line(i, p) for i, p in enumerate(self))


class ParameterDict(Module):
    """A dict of parameters registered under their keys, in insertion order; Tensors are
    wrapped as Parameters.

    >>> pd = gg.nn.ParameterDict({"scale": gg.ones(2)})
    >>> pd["shift"] = gg.zeros(2)
    >>> list(pd), [name for name, _ in pd.named_parameters()]
    (['scale', 'shift'], ['scale', 'shift'])
    """

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return self._parameters[key]

    def __setitem__(self, key, value):
        setattr(self, key, _as_parameter(value))

    def __delitem__(self, key):
        del self._parameters[key]

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def keys(self):
        """The keys, in insertion order.

        >>> list(gg.nn.ParameterDict({"a": gg.ones(1), "b": gg.ones(1)}).keys())
        ['a', 'b']
        """
        return self._parameters.keys()

    def items(self):
        """(key, parameter) pairs, in insertion order.

        >>> [k for k, _ in gg.nn.ParameterDict({"a": gg.ones(1)}).items()]
        ['a']
        """
        return self._parameters.items()

    def values(self):
        """The parameters, in insertion order.

        >>> [p.shape for p in gg.nn.ParameterDict({"a": gg.ones(2)}).values()]
        [(2,)]
        """
        return self._parameters.values()

    def pop(self, key):
        """Remove the parameter under ``key`` and return it.

        >>> pd = gg.nn.ParameterDict({"a": gg.ones(2)})
        >>> pd.pop("a").shape, len(pd)
        ((2,), 0)
        """
        return self._parameters.pop(key)

    def update(self, parameters):
        """Add (key, parameter) pairs from a mapping or an iterable of pairs.

        >>> pd = gg.nn.ParameterDict()
        >>> pd.update({"a": gg.ones(1)})
        >>> list(pd)
        ['a']
        """
        pairs = parameters.items() if hasattr(parameters, "items") else parameters
        for key, value in pairs:
            self[key] = value

    def extra_repr(self):
        return "\n".join(_parameter_line(k, p) for k, p in self.items())
