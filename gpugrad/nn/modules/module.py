"""``Module``: the base class of layers and models, with PyTorch's API.

Parameters, buffers and submodules live in insertion-ordered dicts, filled by
``__setattr__``, so every process walks them in the same order (what data-parallel
training and checkpoints rely on).
"""
import copy
import itertools
from collections import OrderedDict, namedtuple

import numpy as np

from ...autograd.grad_mode import no_grad, state
from ...backends.device import device as as_device
from ...dtypes import as_dtype
from ...sparse import RowSparseGrad
from ...tensor import Tensor
from ..parameter import Parameter
from ._backward_hooks import call_with_backward_hooks


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns; prints like PyTorch's when everything matched."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class Module:
    """Base class for layers: subclasses set parameters and submodules as attributes in
    ``__init__`` and define ``forward``; calling the module runs ``forward``.

    >>> import gpugrad as gg
    >>> class Affine(gg.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = gg.nn.Parameter(gg.ones(2))
    ...     def forward(self, x):
    ...         return x * self.scale
    >>> [name for name, _ in Affine().named_parameters()]
    ['scale']
    """

    def __init__(self):
        # object.__setattr__: our __setattr__ needs these dicts to exist already.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", {})
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_pre_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        """The computation; subclasses define it and call the module (``m(x)``) to run it with its
        hooks.

        >>> class Double(gg.nn.Module):
        ...     def forward(self, x):
        ...         return 2 * x
        >>> Double()(gg.tensor([1.0, 2.0]))
        tensor([2., 4.])
        """
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args, **kwargs):
        if state.tracer is not None:  # gg.compile guards on its training flag and hooks
            state.tracer.module(self)
        pre_hooks = self.__dict__.get("_forward_pre_hooks")
        hooks = self.__dict__.get("_forward_hooks")
        forward = self.forward
        if self.__dict__.get("_backward_hooks") or self.__dict__.get("_backward_pre_hooks"):
            def forward(*a, **k):
                return call_with_backward_hooks(self, self.forward, a, k)
        if not pre_hooks and not hooks:
            return forward(*args, **kwargs)
        for hook, with_kwargs in list(pre_hooks.values()):
            if with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result}.")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        output = forward(*args, **kwargs)
        for hook, with_kwargs in list(hooks.values()):
            result = hook(self, args, kwargs, output) if with_kwargs else hook(self, args, output)
            if result is not None:
                output = result
        return output

    # ---- hooks ----------------------------------------------------------------------
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before each ``forward``; a returned value (a tuple,
        or one value to wrap in one) replaces the positional arguments. With ``with_kwargs``
        it is ``hook(module, args, kwargs)`` and returns ``None`` or ``(args, kwargs)``.
        Returns a handle whose ``remove()`` unregisters the hook.

        >>> import gpugrad as gg
        >>> layer = gg.nn.Identity()
        >>> handle = layer.register_forward_pre_hook(lambda m, args: args[0] * 2)
        >>> layer(gg.ones(1)).tolist()
        [2.0]
        >>> handle.remove(); layer(gg.ones(1)).tolist()
        [1.0]
        """
        return _add_hook(self._forward_pre_hooks, hook, with_kwargs, prepend)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args, output)`` after each ``forward`` (or
        ``hook(module, args, kwargs, output)`` with ``with_kwargs``); a returned value
        replaces the output. Returns a handle whose ``remove()`` unregisters the hook.

        >>> import gpugrad as gg
        >>> seen = []
        >>> layer = gg.nn.Linear(2, 3)
        >>> handle = layer.register_forward_hook(lambda m, args, out: seen.append(out.shape))
        >>> _ = layer(gg.ones(4, 2)); seen
        [(4, 3)]
        """
        return _add_hook(self._forward_hooks, hook, with_kwargs, prepend)

    def register_full_backward_hook(self, hook, *, prepend=False):
        """Call ``hook(module, grad_input, grad_output)`` when the gradients with respect to
        the module's tensor inputs are computed (``None`` for inputs that need none); a
        returned tuple replaces ``grad_input``. For modules whose forward takes and returns
        tensors. Returns a handle whose ``remove()`` unregisters the hook.

        >>> fc = gg.nn.Linear(2, 1)
        >>> seen = []
        >>> h = fc.register_full_backward_hook(lambda m, gi, go: seen.append(go[0].shape))
        >>> fc(gg.ones(3, 2, requires_grad=True)).sum().backward()
        >>> seen
        [(3, 1)]
        """
        return _add_hook(self.__dict__.setdefault("_backward_hooks", OrderedDict()), hook,
                         False, prepend)

    def register_full_backward_pre_hook(self, hook, *, prepend=False):
        """Call ``hook(module, grad_output)`` when the gradients with respect to the module's
        outputs are computed, before the module's own backward; a returned tuple replaces
        ``grad_output``. Returns a handle whose ``remove()`` unregisters the hook.

        >>> fc = gg.nn.Linear(2, 1)
        >>> h = fc.register_full_backward_pre_hook(lambda m, go: (go[0] * 0,))
        >>> fc(gg.ones(3, 2)).sum().backward()
        >>> fc.weight.grad.tolist()
        [[0.0, 0.0]]
        """
        return _add_hook(self.__dict__.setdefault("_backward_pre_hooks", OrderedDict()), hook,
                         False, prepend)

    # ---- registration ---------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign attributes before Module.__init__() is called; "
                                 "call super().__init__() first")
        if isinstance(value, Parameter):
            self._remove_from(name, self.__dict__, self._buffers, self._modules)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._remove_from(name, self.__dict__, self._parameters, self._buffers)
            self._modules[name] = value
        elif name in self._parameters or name in self._modules:
            if value is not None:
                kind = "parameter" if name in self._parameters else "submodule"
                raise TypeError(f"cannot assign a {type(value).__name__} to {kind} '{name}' "
                                "(use del first, or assign None)")
            registry = self._parameters if name in self._parameters else self._modules
            registry[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer '{name}' "
                                "(a Tensor or None is required)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _remove_from(self, name, *registries):
        for registry in registries:
            registry.pop(name, None)
        self._non_persistent.pop(name, None)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the registries.
        for registry in ("_parameters", "_buffers", "_modules"):
            found = self.__dict__.get(registry)
            if found is not None and name in found:
                return found[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent.pop(name, None)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter or None) under ``name``.

        >>> m = gg.nn.Module()
        >>> m.register_parameter('scale', gg.nn.Parameter(gg.ones(1)))
        >>> [name for name, _ in m.named_parameters()]
        ['scale']
        """
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, "
                            f"got {type(param).__name__}")
        self._check_new_name(name, self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add state that is not trained (running statistics, say). Persistent buffers are
        part of ``state_dict``; all buffers move with ``to()``.

        >>> import gpugrad as gg
        >>> m = gg.nn.Module()
        >>> m.register_buffer("count", gg.zeros(1))
        >>> list(m.state_dict())
        ['count']
        """
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, "
                            f"got {type(tensor).__name__}")
        self._check_new_name(name, self._buffers)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.pop(name, None)
        else:
            self._non_persistent[name] = True

    def register_module(self, name, module):
        """Add a submodule (None allowed) under ``name``.

        >>> m = gg.nn.Module()
        >>> m.register_module('fc', gg.nn.Linear(2, 2))
        >>> list(m.state_dict())
        ['fc.weight', 'fc.bias']
        """
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"register_module: '{name}' must be a Module or None, "
                            f"got {type(module).__name__}")
        self._check_new_name(name, self._modules)
        self._modules[name] = module

    add_module = register_module

    def _check_new_name(self, name, registry):
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"invalid name {name!r}: a non-empty string without '.' is needed")
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def _all_registered(self):
        return {**self._parameters, **self._buffers, **self._modules}

    # ---- traversal ------------------------------------------------------------------
    def named_modules(self, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and every descendant, in pre-order.

        >>> net = gg.nn.Sequential(gg.nn.Linear(2, 3), gg.nn.ReLU(), gg.nn.Linear(3, 1))
        >>> [name for name, _ in net.named_modules()]
        ['', '0', '1', '2']
        """
        seen = set()  # membership only; the order comes from the traversal
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in seen:
                    continue
                seen.add(id(module))
            yield name, module
            children = [(f"{name}.{key}" if name else key, child)
                        for key, child in module._modules.items() if child is not None]
            stack.extend(reversed(children))

    def modules(self):
        """This module and every descendant, in pre-order (each once).

        >>> net = gg.nn.Sequential(gg.nn.Linear(2, 3), gg.nn.ReLU(), gg.nn.Linear(3, 1))
        >>> [type(m).__name__ for m in net.modules()]
        ['Sequential', 'Linear', 'ReLU', 'Linear']
        """
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """(name, module) of the direct submodules (each once).

        >>> net = gg.nn.Sequential(gg.nn.Linear(2, 3), gg.nn.ReLU(), gg.nn.Linear(3, 1))
        >>> [name for name, _ in net.named_children()]
        ['0', '1', '2']
        """
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        """The direct submodules (each once).

        >>> net = gg.nn.Sequential(gg.nn.Linear(2, 3), gg.nn.ReLU(), gg.nn.Linear(3, 1))
        >>> len(list(net.children()))
        3
        """
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        seen = set()
        modules = (self.named_modules(prefix, remove_duplicate=remove_duplicate) if recurse
                   else [(prefix, self)])
        for module_name, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield (f"{module_name}.{name}" if module_name else name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, parameter) pairs; a parameter shared by two layers appears once
        (under each of its names with ``remove_duplicate=False``).

        >>> import gpugrad as gg
        >>> [n for n, _ in gg.nn.Linear(2, 3).named_parameters()]
        ['weight', 'bias']
        """
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """The parameters of this module and its descendants (``recurse=False``: its own only), each
        once; what an optimizer takes.

        >>> net = gg.nn.Sequential(gg.nn.Linear(2, 3), gg.nn.ReLU(), gg.nn.Linear(3, 1))
        >>> sum(p.numel() for p in net.parameters())
        13
        """
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, buffer) pairs, like ``named_parameters``.

        >>> [n for n, _ in gg.nn.BatchNorm1d(2).named_buffers()]
        ['running_mean', 'running_var', 'num_batches_tracked']
        """
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        """The buffers (state that is not trained: running statistics) of this module and its
        descendants.

        >>> [b.shape for b in gg.nn.BatchNorm1d(2).buffers()]
        [(2,), (2,), ()]
        """
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def apply(self, fn):
        """Call ``fn`` on every submodule (children first) and then on this module.

        >>> net = gg.nn.Sequential(gg.nn.Linear(2, 3), gg.nn.ReLU(), gg.nn.Linear(3, 1))
        >>> def zero_bias(m):
        ...     if isinstance(m, gg.nn.Linear):
        ...         gg.nn.init.zeros_(m.bias)
        >>> _ = net.apply(zero_bias)
        >>> net[2].bias.tolist()
        [0.0]
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients --------------------------------------------------------
    def train(self, mode=True):
        """Set training mode on this module and every descendant (dropout, batch norm).

        >>> import gpugrad as gg
        >>> net = gg.nn.Sequential(gg.nn.Sequential(gg.nn.Dropout()))
        >>> net.eval()[0][0].training
        False
        """
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be a bool, got {mode!r}")
        object.__setattr__(self, "training", mode)
        # Through each child's own train(), as PyTorch does: a submodule that overrides
        # it (to keep a frozen batch norm in eval mode, say) must see the call.
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation mode, ``train(False)``: dropout off, batch norm uses its running statistics;
        returns self.

        >>> net = gg.nn.Sequential(gg.nn.Dropout(0.5))
        >>> net.eval().training, net[0].training
        (False, False)
        """
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` of every parameter (to freeze or unfreeze a part); returns self.

        >>> net = gg.nn.Sequential(gg.nn.Linear(2, 3), gg.nn.ReLU(), gg.nn.Linear(3, 1))
        >>> _ = net[0].requires_grad_(False)
        >>> [p.requires_grad for p in net.parameters()]
        [False, False, True, True]
        """
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Clear the gradients of every parameter (to None by default, as in PyTorch).

        >>> fc = gg.nn.Linear(2, 1)
        >>> fc(gg.ones(1, 2)).sum().backward()
        >>> fc.zero_grad()
        >>> fc.weight.grad is None
        True
        """
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none or isinstance(param.grad, RowSparseGrad):
                param.grad = None
                continue
            grad = param.grad
            if grad.grad_fn is not None or not getattr(grad._data.flags, "writeable", True):
                # A graph-carrying or read-only (broadcast) gradient gets its own array.
                param.grad = grad = grad.detach().clone()
            with no_grad():
                grad.zero_()

    # ---- device and dtype -----------------------------------------------------------
    def to(self, device=None, dtype=None):
        """Move (and/or cast floating point) parameters and buffers in place; returns self.

        Parameters keep their identity (an optimizer holding them stays valid); their
        ``.grad`` moves with them. ``m.to("cuda")``, ``m.to(gg.float64)`` both work.

        >>> fc = gg.nn.Linear(2, 1)
        >>> w = fc.weight
        >>> fc.to(gg.float64).weight.dtype, fc.weight is w
        (gpugrad.float64, True)
        """
        if device is not None and dtype is None and not _is_device(device):
            device, dtype = None, device
        device = None if device is None else as_device(device)
        dtype = as_dtype(dtype)
        for module in self.modules():
            for param in module._parameters.values():
                if param is not None:
                    _move_in_place(param, device, dtype)
                    if isinstance(param.grad, Tensor):
                        _move_in_place(param.grad, device, dtype)
            for name, buf in module._buffers.items():
                if buf is not None:
                    module._buffers[name] = _moved(buf, device, dtype)
        return self

    def cpu(self):
        """Move every parameter and buffer to the CPU; returns self.

        >>> gg.nn.Linear(2, 1).cpu().weight.device
        device('cpu')
        """
        return self.to("cpu")

    def cuda(self, device=None):
        """Move every parameter and buffer to GPU ``device`` (default: the current one); returns
        self.

        >>> fc = gg.nn.Linear(2, 1)
        >>> fc = fc.cuda() if gg.cuda.is_available() else fc
        >>> fc.weight.shape
        (1, 2)
        """
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def double(self):
        """Cast floating-point parameters and buffers to float64; returns self.

        >>> gg.nn.Linear(2, 1).double().weight.dtype
        gpugrad.float64
        """
        return self.to(dtype=np.float64)

    def float(self):
        """Cast floating-point parameters and buffers to float32; returns self.

        >>> gg.nn.Linear(2, 1).double().float().weight.dtype
        gpugrad.float32
        """
        return self.to(dtype=np.float32)

    def half(self):
        """Cast floating-point parameters and buffers to float16; returns self.

        >>> gg.nn.Linear(2, 1).half().bias.dtype
        gpugrad.float16
        """
        return self.to(dtype=np.float16)

    # ---- state dict -----------------------------------------------------------------
    def state_dict(self, prefix="", keep_vars=False):
        """Parameters then persistent buffers of each module, pre-order, dotted names.

        >>> import gpugrad as gg
        >>> list(gg.nn.Sequential(gg.nn.Linear(1, 1)).state_dict())
        ['0.weight', '0.bias']
        """
        out = OrderedDict()
        for module_name, module in self.named_modules(prefix, remove_duplicate=False):
            for name, value in module._state_items():
                if value is not None:
                    key = f"{module_name}.{name}" if module_name else name
                    out[key] = value if keep_vars else value.detach()
        return out

    def _optional_state_keys(self):
        """Names of this module's own state that a checkpoint may lack: loading keeps their
        current values and does not report them missing (BatchNorm's step counter, which
        PyTorch fills in the same way for checkpoints that predate it)."""
        return ()

    def _state_items(self):
        yield from self._parameters.items()
        for name, buf in self._buffers.items():
            if name not in self._non_persistent:
                yield name, buf

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from ``state_dict`` into the parameters and buffers, in place.

        With ``assign=True`` the module takes the given tensors instead (PyTorch's rule):
        each parameter becomes a new ``Parameter`` of the given values (keeping its
        ``requires_grad``) and each buffer the given tensor, so an optimizer built before
        holds the old parameters.

        Every key and shape is checked before anything is written, so a failed load leaves
        the module untouched. Missing or unexpected keys raise (with ``strict``); shape
        mismatches always do. Returns ``(missing_keys, unexpected_keys)``. As in PyTorch, a
        checkpoint may leave out BatchNorm's ``num_batches_tracked`` (it keeps its value).

        >>> a, b = gg.nn.Linear(2, 1), gg.nn.Linear(2, 1)
        >>> b.load_state_dict(a.state_dict())
        <All keys matched successfully>
        >>> b.weight.tolist() == a.weight.tolist()
        True
        >>> _ = b.load_state_dict({'weight': gg.zeros(1, 2), 'bias': gg.ones(1)}, assign=True)
        >>> b.bias.tolist(), b.bias.requires_grad
        ([1.0], True)
        >>> try:
        ...     b.load_state_dict({'weight': gg.zeros(1, 2)})
        ... except RuntimeError as err:
        ...     print(str(err).splitlines()[0])
        Error(s) in loading state_dict for Linear:
        """
        own = self.state_dict(keep_vars=True)
        optional = {f"{name}.{key}" if name else key
                    for name, module in self.named_modules(remove_duplicate=False)
                    for key in module._optional_state_keys()}
        missing = [k for k in own if k not in state_dict and k not in optional]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and missing:
            errors.append(f"Missing key(s) in state_dict: {_quoted(missing)}. ")
        if strict and unexpected:
            errors.append(f"Unexpected key(s) in state_dict: {_quoted(unexpected)}. ")
        for key, target in own.items():
            if key in state_dict:
                shape = tuple(np.shape(state_dict[key]))
                if shape != target.shape:
                    errors.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{shape} from checkpoint, the shape in current model is "
                                  f"{target.shape}.")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        if assign:
            self._assign_state(state_dict)
            return IncompatibleKeys(missing, unexpected)
        with no_grad():
            for key, target in own.items():
                if key in state_dict:
                    target.copy_(state_dict[key])
        return IncompatibleKeys(missing, unexpected)

    def _assign_state(self, state_dict):
        """``load_state_dict(assign=True)``'s writes, the keys already checked."""
        from ...creation import as_tensor as _as_tensor
        for module_name, module in self.named_modules(remove_duplicate=False):
            for name, value in list(module._state_items()):
                key = f"{module_name}.{name}" if module_name else name
                if value is None or key not in state_dict:
                    continue
                new = state_dict[key]
                new = new.detach() if isinstance(new, Tensor) else _as_tensor(new)
                if name in module._parameters:
                    module._parameters[name] = Parameter(new, requires_grad=value.requires_grad)
                else:
                    module._buffers[name] = new

    # ---- printing -------------------------------------------------------------------
    def extra_repr(self):
        """What goes between the parentheses of this module's line in ``repr``.

        >>> class Scale(gg.nn.Module):
        ...     def __init__(self, s):
        ...         super().__init__()
        ...         self.s = s
        ...     def extra_repr(self):
        ...         return f's={self.s}'
        >>> gg.nn.Sequential(Scale(3))
        Sequential(
          (0): Scale(s=3)
        )
        """
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_indent(repr(child))}"
                       for name, child in self._modules.items()]
        if len(extra_lines) == 1 and not child_lines:
            return f"{type(self).__name__}({extra})"
        return _block(type(self).__name__, extra_lines + child_lines)

    def __dir__(self):
        return list(super().__dir__()) + list(self._all_registered())

    def __deepcopy__(self, memo):
        """A deep copy (replicas for data parallelism, say) whose tensors share the
        originals' Device and backend objects: those are singletons that ops compare by
        identity, which a plain deep copy would duplicate."""
        for t in list(self.parameters()) + list(self.buffers()):
            for shared in (t._device, t._backend):
                memo.setdefault(id(shared), shared)
        new = object.__new__(type(self))
        memo[id(self)] = new
        for name, value in self.__dict__.items():
            object.__setattr__(new, name, copy.deepcopy(value, memo))
        return new


class RemovableHandle:
    """What ``register_*_hook`` returns: ``remove()`` unregisters the hook (a second call
    does nothing); usable as a context manager that removes the hook on exit."""

    _ids = itertools.count()

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _add_hook(hooks, hook, with_kwargs, prepend):
    handle = RemovableHandle(hooks)
    hooks[handle.id] = (hook, with_kwargs)
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def _quoted(keys):
    return ", ".join(f'"{key}"' for key in keys)


def _indent(text):
    """Indent every line but the first by two spaces; blank lines stay empty (PyTorch's)."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [f"  {line}" if line.strip() else "" for line in rest])


def _block(name, lines):
    """``name(...)`` with ``lines`` one per line inside, as PyTorch prints a module tree."""
    if not lines:
        return f"{name}()"
    return name + "(\n  " + "\n  ".join(lines) + "\n)"


def _is_device(spec):
    from ...backends.device import Device
    if isinstance(spec, Device):
        return True
    return isinstance(spec, str) and (spec == "cpu" or spec.startswith("cuda"))


def _moved(t, device, dtype):
    """``t`` on ``device``; floating point tensors also cast to ``dtype``."""
    with no_grad():
        out = t.detach()
        if dtype is not None and t.dtype.kind == "f":
            out = out.to(dtype=dtype)
        if device is not None:
            out = out.to(device)
    if out is not t and t.requires_grad:
        out.requires_grad_(True)
    return out


def _move_in_place(t, device, dtype):
    """Give ``t`` itself the moved data (and the backend that owns it)."""
    new = _moved(t, device, dtype)
    if new._data is not t._data:
        t._data, t._backend, t._device = new._data, new._backend, new._device
        t._version = None  # a new array: nothing saved refers to it yet
