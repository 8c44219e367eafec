"""The optimizer base class: parameter groups, per-parameter state and state dicts.

Each optimizer family lives in its own file as a pure update function over lists of raw
arrays (so a fused GPU kernel can replace it) plus a class that holds the hyperparameters and
the state and calls that function. State is keyed by parameter *position* (counted across
groups in order), never by ``id()``, so it can be saved and loaded into a fresh process.
"""
import numpy as np

import gpugrad as gg
from .. import cuda
from ..autograd.grad_mode import enable_grad, no_grad
from ..backends import get_array_module
from ..sparse import RowSparseGrad
from ..autograd.recording import traced_call


class Optimizer:
    """Base class: holds ``param_groups`` (a list of dicts) and ``state`` (position -> dict).

    Subclasses pass their hyperparameter defaults and implement ``_init_state(group, param)``
    and ``_update(group, entries)``, where ``entries`` is a list of ``(position, param)``
    pairs whose gradients are set, all on one device.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.tensor([1.0, 2.0]))
    >>> opt = gg.optim.SGD([{"params": [w], "lr": 0.5}], lr=0.1)
    >>> opt.param_groups[0]["lr"], opt.defaults["lr"]
    (0.5, 0.1)
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}
        if isinstance(params, gg.Tensor):
            raise TypeError("params must be an iterable of Tensors or of dicts, not a Tensor")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self):
        # PyTorch's layout, a blank line between groups included.
        text = f"{type(self).__name__} ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(k for k in group if k != "params"):
                text += f"    {key}: {group[key]}\n"
        return text + ")"

    def add_param_group(self, param_group):
        """Append a group; hyperparameters it leaves out take the optimizer's defaults.

        >>> import gpugrad as gg
        >>> a, b = gg.nn.Parameter(gg.zeros(2)), gg.nn.Parameter(gg.zeros(3))
        >>> opt = gg.optim.SGD([a], lr=0.1)
        >>> opt.add_param_group({"params": [b], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"a param group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, gg.Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            # A set's order differs between processes, and positions key the state.
            raise TypeError("params must be an ordered sequence of Tensors, not a set")
        params = list(params or [])
        for p in params:
            if not isinstance(p, gg.Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if p.grad_fn is not None:
                # A computed tensor never receives .grad, so training would silently stall.
                raise ValueError("can't optimize a non-leaf Tensor (pass the leaf parameters, "
                                 "or .detach().requires_grad_() a copy)")
        _check_no_duplicates(self.param_groups, params)
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        group["params"] = params
        self.param_groups.append(group)

    @traced_call("zero_grad")
    def zero_grad(self, set_to_none=True):
        """Clear the gradients: set them to None (default) or fill them with zeros in place.

        >>> import gpugrad as gg
        >>> w = gg.nn.Parameter(gg.ones(2))
        >>> w.grad = gg.ones(2)
        >>> gg.optim.SGD([w]).zero_grad()
        >>> w.grad is None
        True
        """
        for p in self._params():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            elif isinstance(p.grad, RowSparseGrad):
                p.grad = _empty_like_sparse(p.grad)
            else:
                _zero_dense_grad(p)

    @traced_call("step")
    def step(self, closure=None):
        """Update every parameter whose ``.grad`` is set; return ``closure()`` if given.

        >>> import gpugrad as gg
        >>> w = gg.nn.Parameter(gg.tensor([1.0]))
        >>> w.grad = gg.tensor([2.0])
        >>> gg.optim.SGD([w], lr=0.25).step()
        >>> w.item()
        0.5
        """
        loss = None
        if closure is not None:
            # The closure recomputes the loss and its gradients, so it needs the graph.
            with enable_grad():
                loss = closure()
        with no_grad():
            for group, entries in self._grouped_positions():
                live = [(pos, p) for pos, p in entries if p.grad is not None]
                _check_grad_shapes(live)
                for device, on_device in _split_by_device(live):
                    with device.backend.device_context(device):
                        self._update(group, on_device)
                for _, p in live:
                    # The update wrote p._data in place: graphs that saved p must notice.
                    p._bump_version()
        return loss

    def state_dict(self):
        """``{"state": {position: {...}}, "param_groups": [{..., "params": [positions]}]}``.

        Like PyTorch's: the state tensors are the optimizer's own (not copies), so save or
        copy them before the next ``step``.

        >>> import gpugrad as gg
        >>> w = gg.nn.Parameter(gg.ones(2))
        >>> gg.optim.Adam([w]).state_dict()["param_groups"][0]["params"]
        [0]
        """
        groups = []
        for group, entries in self._grouped_positions():
            saved = {key: value for key, value in group.items() if key != "params"}
            saved["params"] = [pos for pos, _ in entries]
            groups.append(saved)
        state = {pos: dict(entry) for pos, entry in sorted(self.state.items())}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a ``state_dict()``: hyperparameters per group and per-parameter state.

        Everything is checked (group count and sizes, state positions, array shapes) before
        anything is assigned, so a mismatch raises ``ValueError`` and leaves the optimizer as
        it was. State arrays are copied onto each parameter's device; floating state takes
        the parameter's dtype.

        >>> import gpugrad as gg
        >>> w = gg.nn.Parameter(gg.ones(2))
        >>> opt = gg.optim.SGD([w], lr=0.1)
        >>> opt.load_state_dict({"state": {}, "param_groups": [dict(opt.param_groups[0],
        ...                      lr=0.5, params=[0])]})
        >>> opt.param_groups[0]["lr"]
        0.5
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError("optimizer state dict must be a dict with 'state' and "
                             "'param_groups' keys")
        saved_groups = list(state_dict["param_groups"])
        self._check_group_sizes(saved_groups)
        # Saved groups list positions; map them, in order, onto this optimizer's positions.
        saved_positions = [_as_position(pos) for group in saved_groups for pos in group["params"]]
        position_of = dict(zip(saved_positions, range(len(saved_positions))))
        params = self._params()
        checked = {}
        for key, entry in state_dict["state"].items():
            pos = position_of.get(_as_position(key))
            if pos is None:
                raise ValueError(f"state entry {key!r} names no parameter of param_groups")
            _check_state_entry(key, entry, params[pos], pos)
            checked[pos] = entry
        new_state = {pos: {name: _load_value(value, params[pos]) for name, value in entry.items()}
                     for pos, entry in checked.items()}
        for group, saved in zip(self.param_groups, saved_groups):
            group.update({key: value for key, value in saved.items() if key != "params"})
        self.state = new_state

    # -- helpers for subclasses --------------------------------------------------------------

    def _state(self, pos, group, param):
        """The state dict of the parameter at ``pos``, created on its first step."""
        entry = self.state.get(pos)
        if entry is None:
            entry = self.state[pos] = self._init_state(group, param)
        return entry

    def _dense_grad(self, param):
        """``param.grad._data``, refusing row-sparse gradients this optimizer cannot use."""
        if isinstance(param.grad, RowSparseGrad):
            raise RuntimeError(f"{type(self).__name__} does not support sparse gradients; "
                               "use SGD, Adagrad or SparseAdam")
        return param.grad._data

    def _grouped_positions(self):
        """``(group, [(position, param), ...])`` per group; positions count across groups."""
        start = 0
        for group in self.param_groups:
            params = group["params"]
            yield group, list(zip(range(start, start + len(params)), params))
            start += len(params)

    def _params(self):
        """Every parameter, in position order."""
        return [p for group in self.param_groups for p in group["params"]]

    def _check_group_sizes(self, saved_groups):
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, "
                             f"the optimizer has {len(self.param_groups)}")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if not isinstance(saved, dict) or not isinstance(saved.get("params"), (list, tuple)):
                raise ValueError(f"parameter group {i} of the loaded state dict is not a dict "
                                 "with a 'params' list")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"parameter group {i} of the loaded state dict has "
                                 f"{len(saved['params'])} parameters, the optimizer's has "
                                 f"{len(group['params'])}")

    def _init_state(self, group, param):
        raise NotImplementedError

    def _update(self, group, entries):
        raise NotImplementedError


def weight_decayed_grad(param, grad, weight_decay, maximize):
    """The gradient an update rule sees: negated for ``maximize``, plus the L2 term.

    Returns a new array when it changes anything, so the caller's ``.grad`` stays as it was
    (PyTorch's ``grad.add(param, alpha=weight_decay)``).

    >>> import numpy as np
    >>> weight_decayed_grad(np.array([2.0]), np.array([1.0]), 0.5, maximize=True)
    array([0.])
    """
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    return grad


def decayed_grad(param, grad, lr, weight_decay, decoupled, maximize):
    """``weight_decayed_grad`` for the Adam family: with ``decoupled`` (AdamW's rule) the
    decay shrinks ``param`` in place by ``lr * weight_decay`` instead of entering the
    gradient.

    >>> import numpy as np
    >>> p = np.array([2.0])
    >>> decayed_grad(p, np.array([1.0]), 0.1, 0.5, decoupled=True, maximize=False), p
    (array([1.]), array([1.9]))
    """
    if not decoupled:
        return weight_decayed_grad(param, grad, weight_decay, maximize)
    if weight_decay != 0:
        param *= 1 - lr * weight_decay
    return weight_decayed_grad(param, grad, 0.0, maximize)


def check_hyperparameter(name, value, low=0.0, high=None, *, open_low=False):
    """Raise ValueError unless ``low <= value`` (``<`` if open_low) and ``value < high``.

    >>> check_hyperparameter("lr", -1.0)
    Traceback (most recent call last):
    ...
    ValueError: invalid lr: -1.0
    """
    too_low = value <= low if open_low else value < low
    if too_low or (high is not None and value >= high):
        raise ValueError(f"invalid {name}: {value}")


def check_betas(betas):
    """Both Adam-style betas must lie in [0, 1)."""
    for i, beta in enumerate(betas):
        check_hyperparameter(f"beta parameter at index {i}", beta, 0.0, 1.0)


def state_tensor(array):
    """A Tensor (no graph) wrapping a raw array an update rule created, for optimizer state."""
    return gg.Tensor(array)


def _check_no_duplicates(groups, params):
    # Identity, not equality: Tensor == is elementwise. The ids live only for this check.
    seen = {id(p) for group in groups for p in group["params"]}
    for p in params:
        if id(p) in seen:
            raise ValueError("some parameters appear in more than one parameter group "
                             "(or twice in one)")
        seen.add(id(p))


def _split_by_device(entries):
    """``[(device, entries on it), ...]`` in first-seen order; the update runs per device."""
    by_device = {}
    for pos, p in entries:
        by_device.setdefault(p.device, []).append((pos, p))
    return list(by_device.items())


def _as_position(key):
    """A saved position as an int (int-like strings accepted, e.g. from a JSON round trip)."""
    try:
        return int(key)
    except (TypeError, ValueError):
        raise ValueError(f"parameter positions must be integers, got {key!r}") from None


def _check_state_entry(key, entry, param, pos):
    if not isinstance(entry, dict):
        raise ValueError(f"state entry {key!r} must be a dict, got {type(entry).__name__}")
    for name, value in entry.items():
        shape = tuple(getattr(value, "shape", ()))
        if shape != () and shape != tuple(param.shape):
            raise ValueError(f"state[{key!r}][{name!r}] has shape {shape}, but parameter "
                             f"{pos} has shape {tuple(param.shape)}")


def _load_value(value, param):
    """Copy one saved state value for ``param``: arrays become Tensors on its device."""
    if isinstance(value, gg.Tensor):
        value = value.cpu().numpy()
    if not isinstance(value, (np.ndarray, np.generic)):
        return value
    if value.ndim == 0:
        # Steps and running products are Python scalars in live state.
        return value.item()
    dtype = param.dtype if value.dtype.kind == "f" else value.dtype
    # astype copies, so the loaded optimizer never shares buffers with the state dict.
    return gg.tensor(value.astype(dtype), device=param.device)


def _zero_dense_grad(param):
    """Zero ``param.grad`` in place, like ``Module.zero_grad(set_to_none=False)``. A gradient
    that carries a graph (``backward(create_graph=True)``) or is a read-only broadcast view
    first gets its own detached array: PyTorch detaches it, and a view cannot be written."""
    grad = param.grad
    if grad.grad_fn is not None or not getattr(grad._data.flags, "writeable", True):
        param.grad = grad = grad.detach().clone()
    with no_grad():
        grad.zero_()


def _empty_like_sparse(grad):
    """A row-sparse gradient with no rows (PyTorch's ``zero_()`` on a sparse grad)."""
    return RowSparseGrad(grad.indices[:0], grad.values[:0], grad.shape)


def fusable(param, *state):
    """Can a fused kernel update ``param`` and its ``state`` arrays (None: not made yet) in
    place? CuPy arrays the kernels take, C-contiguous, as the kernels index them flat.

    >>> import numpy as np
    >>> fusable(np.zeros(3), None)  # NumPy arrays take the array code
    False
    """
    arrays = [param] + [a for a in state if a is not None]
    return (cuda.use_kernels(get_array_module(param), *arrays)
            and all(a.flags.c_contiguous for a in arrays))


def _check_grad_shapes(live):
    """A ``.grad`` of another shape would be broadcast into the update, not rejected."""
    for pos, p in live:
        if p.grad.shape != p.shape:
            raise RuntimeError(f"optimizer step: parameter {pos} has shape {p.shape} but its "
                               f".grad has shape {p.grad.shape}")
