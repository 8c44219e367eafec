"""From two traces of the same call to one replay plan.

Two traces, not one: an external array that is the same tensor object both times is live
state (a parameter, a buffer) and is read from that tensor on every replay; one that is a new
object with the same values both times is a constant the step makes (a mask, the seed of
backward) and is kept; a new object with other values (data read from the host by code the
trace cannot see) makes the call impossible to replay, and it runs eagerly. Any other
difference between the traces (another op, another parameter) means the same.
"""
import numpy as np

from ..backends.device import backend_of_array
from ..autograd.trace_entries import Call, Ext, Host, Leaf, Node, Op, Seed, SetGrad, View
from ..autograd.tracer import _is_array
from ..tensor import Tensor


class CannotReplay(Exception):
    """The call cannot be replayed (the message says why); it runs eagerly."""


def compare(first, second, args1, args2):
    """Check ``second`` replays what ``first`` did; return how each ``Ext`` of ``second``
    is bound: {slot: ("arg", i) | ("live", tensor) | ("const", array)}."""
    if first.problems or second.problems:
        raise CannotReplay((first.problems or second.problems)[0])
    if len(first.entries) != len(second.entries):
        raise CannotReplay(f"the two traced calls ran {len(first.entries)} and "
                           f"{len(second.entries)} steps (Python control flow changed)")
    index1 = {id(e): i for i, e in enumerate(first.entries)}
    index2 = {id(e): i for i, e in enumerate(second.entries)}
    externals = {}
    for i, (a, b) in enumerate(zip(first.entries, second.entries)):
        if type(a) is not type(b):
            raise CannotReplay(f"step {i}: {_describe(a)} then {_describe(b)}")
        if isinstance(b, Ext):
            externals[b.slot] = _bind_external(i, a, b, args1, args2)
        elif not _same(a, b, index1, index2):
            raise CannotReplay(f"step {i} ({_describe(b)}) differs between the two traced "
                               "calls")
    return externals


def _bind_external(i, a, b, args1, args2):
    if a.slot != b.slot:
        raise CannotReplay(f"step {i}: external inputs differ")
    for j, (t1, t2) in enumerate(zip(args1, args2)):
        if b.tensor is not None and b.tensor is t2:
            if a.tensor is not t1:
                raise CannotReplay(f"step {i}: argument {j} is read in one call only")
            return ("arg", j)
    if b.tensor is not None and a.tensor is b.tensor:
        return ("live", b.tensor)
    if _equal_arrays(a.array, b.array):
        return ("const", b.array)
    raise CannotReplay(f"step {i}: {b.what} is an array made outside gpugrad's ops (of shape "
                       f"{tuple(b.array.shape)}) with other values in each call; "
                       "make it with gpugrad ops or pass it as an argument")


def _same(a, b, index1, index2):
    if isinstance(a, Op):
        return (a.cls is b.cls and a.ins == b.ins and a.out == b.out
                and a.inplace == b.inplace and a.attrs == b.attrs
                and _equal_params(a.params, b.params)
                and {k: _normal(t, index1) for k, t in a.bound.items()}
                == {k: _normal(t, index2) for k, t in b.bound.items()})
    if isinstance(a, Node):
        return (index1[id(a.op)] == index2[id(b.op)] and a.grad == b.grad
                and a.outs == b.outs and a.saved == b.saved)
    if isinstance(a, Leaf):
        return a.tensor is b.tensor and (a.grad, a.shared, a.out) == (b.grad, b.shared, b.out)
    if isinstance(a, Call):
        return (a.fn is b.fn and a.out == b.out and _equal_value(a.args, b.args)
                and _equal_value(a.kwargs, b.kwargs))
    if isinstance(a, Host):
        return (a.slot, a.kind) == (b.slot, b.kind)
    if isinstance(a, Seed):
        return a.draw is b.draw
    if isinstance(a, View):
        return (a.src, a.shape, a.out) == (b.src, b.shape, b.out)
    if isinstance(a, SetGrad):
        return a.tensor is b.tensor and a.grad == b.grad
    raise TypeError(f"unknown trace entry {a!r}")


def _normal(template, index):
    """A parameter template with entries replaced by their positions (comparable)."""
    kind = template[0]
    if kind == "attr":
        return ("attr", index[id(template[1])], template[2])
    if kind == "seq":
        return ("seq", template[1], tuple(_normal(t, index) for t in template[2]))
    if kind == "const":
        return ("const", _Plain(template[1]))
    return template


class _Plain:
    """A constant inside a parameter template, compared as parameters are."""

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return _equal_params({0: self.value}, {0: other.value})

    __hash__ = None


def _equal_params(p, q):
    if p.keys() != q.keys():
        return False
    return all(_equal_value(v, q[k]) for k, v in p.items())


def _equal_value(v, w):
    """Parameters and call arguments: arrays by value, tensors and objects by identity,
    the rest by ``==`` (containers item by item)."""
    if type(v) is not type(w):
        return False
    if _is_array(v):
        return _equal_arrays(v, w)
    if isinstance(v, Tensor):
        return v is w
    if type(v) in (tuple, list):
        return len(v) == len(w) and all(_equal_value(a, b) for a, b in zip(v, w))
    if type(v) is dict:
        return v.keys() == w.keys() and all(_equal_value(a, w[k]) for k, a in v.items())
    try:
        return bool(v == w)
    except (TypeError, ValueError):
        return v is w


def _equal_arrays(a, b):
    if not (_is_array(b) or isinstance(b, np.generic)):  # a tensor may hold a NumPy scalar
        return False
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    backend, device = backend_of_array(a)
    if backend is not backend_of_array(b)[0]:
        return False
    with backend.device_context(device):  # CuPy compares on the arrays' device
        if a.dtype.kind in "fc":
            return bool(backend.xp.array_equal(a, b, equal_nan=True))
        return bool(backend.xp.array_equal(a, b))


def _describe(entry):
    if isinstance(entry, Op):
        return f"op {entry.cls.__name__.lower()}"
    if isinstance(entry, Node):
        return f"the backward of {entry.op.cls.__name__.lower()}"
    if isinstance(entry, Leaf):
        return "a leaf's .grad"
    if isinstance(entry, Call):
        return entry.name
    if isinstance(entry, Host):
        return f"a host read ({entry.kind})"
    if isinstance(entry, Seed):
        return "a seed drawn"
    if isinstance(entry, View):
        return "a reshape"
    if isinstance(entry, SetGrad):
        return "a .grad assignment"
    return "an external input"
