"""Recording one eager call of a compiled function as an array-level schedule.

While a ``Tracer`` is installed (``state.tracer``), the autograd core reports to it:

* every ``Function.apply`` (forward ops, and the ops backward formulas and the engine's
  gradient sums issue) -> an ``Op`` entry: the op's class, its input slots, its parameters,
  its output slot;
* every backward node the engine runs: the ops its formula issued are kept inline when they
  read only arrays the schedule knows (slots); otherwise the node becomes one ``Node``
  entry, which replays the formula itself on the replayed forward's context;
* gradients reaching leaves -> ``Leaf`` entries (``.grad`` accumulation);
* optimizer ``step``/``zero_grad`` -> ``Call`` entries (run as they are on replay);
* host reads (``item``, ``tolist``, ``numpy``) -> ``Host`` entries: guards on replay.

A slot is one array of the schedule. Arrays are known by identity: an op's output, an
attribute its forward left on its context (``ctx.mask``), a leaf's ``.grad``. Any other
array an op reads is an ``Ext`` (external): a tensor from outside (parameter, buffer,
argument) or one made by code the trace cannot see (``gg.ones`` in the step). Which is which
is settled by comparing two traces (``plan.py``).
"""
import functools
from collections.abc import Iterator

import numpy as np

from .grad_mode import state

# Small ints, True/False/None and strings are shared objects in CPython: identity with a
# context attribute says nothing about where such a parameter came from.
_PLAIN = (bool, str, type(None), float)


class Op:
    """``out = cls.forward(ctx, xp, *ins, **params)``; ``bound`` params come from earlier
    contexts' attributes or are arrays of the schedule ({name: template}, see
    ``Tracer._template``); ``attrs`` ({(attr, index or None): slot}) are this context's
    arrays that later entries read."""

    __slots__ = ("cls", "ins", "params", "bound", "out", "attrs", "ctx", "device", "inplace",
                 "zero_d")

    def __init__(self, cls, ins, params, bound, out, ctx, device, inplace):
        self.cls, self.ins, self.params, self.bound = cls, ins, params, bound
        self.out, self.ctx, self.device, self.inplace = out, ctx, device, inplace
        self.attrs = {}
        self.zero_d = False  # a 0-d result, which NumPy may hand back as a scalar


class Node:
    """A backward formula replayed as a whole: ``in_grads = cls.backward(ctx_k, grad)``;
    ``saved`` are the slots of what the op saved, ``node`` the traced node (for its edges
    and input shapes)."""

    __slots__ = ("op", "grad", "outs", "saved", "node")

    def __init__(self, op, grad, outs, saved, node):
        self.op, self.grad, self.outs, self.saved, self.node = op, grad, outs, saved, node


class Leaf:
    """``tensor._accumulate_grad(grad)``; ``out`` is the slot of ``tensor.grad`` after it."""

    __slots__ = ("tensor", "grad", "shared", "out")

    def __init__(self, tensor, grad, shared, out):
        self.tensor, self.grad, self.shared, self.out = tensor, grad, shared, out


class Call:
    """An opaque call run as it is on replay (an optimizer's ``step``); ``out`` is the slot
    of the tensor it returned, if it returned one."""

    __slots__ = ("fn", "args", "kwargs", "name", "out")

    def __init__(self, fn, args, kwargs, name):
        self.fn, self.args, self.kwargs, self.name = fn, args, kwargs, name
        self.out = None


class SetGrad:
    """``tensor.grad = None`` or ``= slots[grad]``, done by Python code in the step."""

    __slots__ = ("tensor", "grad")

    def __init__(self, tensor, grad):
        self.tensor, self.grad = tensor, grad


class Host:
    """A host read of slot ``slot``: ``kind`` is item, tolist or numpy; ``value`` what the
    trace saw."""

    __slots__ = ("slot", "kind", "value")

    def __init__(self, slot, kind, value):
        self.slot, self.kind, self.value = slot, kind, value


class Seed:
    """A seed drawn with ``draw``; ops whose parameter is this seed take the replay's."""

    __slots__ = ("value", "draw")

    def __init__(self, value, draw):
        self.value, self.draw = value, draw


class View:
    """``out = slots[src].reshape(shape)``: library code reshaped a known array itself."""

    __slots__ = ("src", "shape", "out")

    def __init__(self, src, shape, out):
        self.src, self.shape, self.out = src, shape, out


class Ext:
    """Slot ``slot`` holds ``tensor._data`` (``tensor`` may be None: a bare array);
    ``what`` says where it is read, for messages."""

    __slots__ = ("slot", "tensor", "array", "what")

    def __init__(self, slot, tensor, array, what):
        self.slot, self.tensor, self.array, self.what = slot, tensor, array, what


class Tracer:
    """Collects the entries of one call; see the module docstring."""

    def __init__(self):
        self.entries = []
        self.arrays = []  # slot -> array; holding them keeps their ids unique while tracing
        self.slot_of = {}  # id(array) -> slot
        self.by_memory = {}  # (address, bytes, dtype) of C-contiguous arrays -> slot
        self.ctx_op = {}  # id(ctx) -> its Op
        self.attr_of = {}  # id(value) -> (Op, attr) for values left on contexts
        self.keep = []  # values whose ids attr_of relies on
        self.modules = {}  # id -> module called during the trace
        self.problems = []  # why this call cannot be replayed, if it cannot
        self.opaque = 0  # > 0 inside a Call or Leaf: their inner ops are not recorded
        self.frames = []  # open backward nodes: [Op, first entry, grad slot, foreign, ...]
        self.covered = set()  # ids of arrays whose in-place write was just recorded
        self.backward_ran = False

    # ---- slots ----------------------------------------------------------------------
    def _new_slot(self, array):
        slot = len(self.arrays)
        self.arrays.append(array)
        self.slot_of[id(array)] = slot
        key = _memory(array)
        if key is not None:
            self.by_memory.setdefault(key, slot)
        return slot

    def slot(self, array, tensor=None, what="an input"):
        """The slot of ``array``; an ``Ext`` entry when the schedule has not seen it."""
        slot = self.slot_of.get(id(array))
        if slot is not None:
            return slot
        key = _memory(array)
        source = None if key is None else self.by_memory.get(key)
        if source is not None:  # the same memory as a known array: a reshape of it
            slot = self._new_slot(array)
            self.entries.append(View(source, array.shape, slot))
            return slot
        if self.frames:
            self.frames[-1][3] = True  # a backward formula read an array from nowhere
        slot = self._new_slot(array)
        # Its values now: an in-place write later in the step must not change the constant.
        self.entries.append(Ext(slot, tensor, _snapshot(array), what))
        return slot

    def _template(self, value, what):
        """How a parameter is made on replay: None (as it is), ("slot", s) for an array,
        ("attr", entry, name) for a value an earlier op or seed draw left, ("seq", type,
        items) for a tuple or list holding such (an index tuple)."""
        if _is_array(value):
            return ("slot", self.slot(value, None, what))
        if type(value) in (tuple, list):
            items = tuple(self._template(v, what) or ("const", v) for v in value)
            if all(item[0] == "const" for item in items):
                return None
            return ("seq", type(value), items)
        if not _is_plain(value):
            source = self.attr_of.get(id(value))
            if source is not None:
                return ("attr",) + source
        return None

    # ---- reports from the core ---------------------------------------------------------
    def op(self, cls, ctx, inputs, arrays, params, result):
        if self.opaque:
            return
        ins = tuple(self.slot(a, t) for a, t in zip(arrays, inputs))
        out_array = result._data
        inplace = any(out_array is a for a in arrays)
        static, bound = {}, {}
        for name, value in params.items():
            template = self._template(value, f"parameter {name!r} of {cls.__name__.lower()}")
            if template is None:
                static[name] = value
            else:
                bound[name] = template
        out = self.slot_of.get(id(out_array)) if inplace else None
        if out is None:
            out = self._new_slot(out_array)
        entry = Op(cls, ins, static, bound, out, ctx, result._device, inplace)
        entry.zero_d = out_array.ndim == 0
        self.entries.append(entry)
        self.ctx_op[id(ctx)] = entry
        self._note_attrs(entry, ctx)

    def _note_attrs(self, entry, ctx):
        """Remember the arrays and values ``forward`` left on ``ctx`` (masks, seeds,
        indices): a later op reading one reads it from the replayed context."""
        for name, value in vars(ctx).items():
            if name in ("next", "input_shapes", "_saved", "_versions"):
                continue
            array = getattr(value, "_data", value)
            if _is_array(array):
                if id(array) not in self.slot_of:
                    entry.attrs[(name, None)] = self._new_slot(array)
                continue
            if type(value) is tuple:  # index tuples
                for k, item in enumerate(value):
                    if _is_array(item) and id(item) not in self.slot_of:
                        entry.attrs[(name, k)] = self._new_slot(item)
            if not _is_plain(value) and id(value) not in self.attr_of:
                self.attr_of[id(value)] = (entry, name)
                self.keep.append(value)

    def begin_node(self, node, grad):
        """The engine is about to run ``node``'s backward formula on ``grad``."""
        if self.opaque:
            return
        if node._hooks:
            self.problem(f"a hook on the gradient of {type(node).__name__.lower()} "
                         "(register_hook, retain_grad)")
        op = self.ctx_op.get(id(node))
        if op is None:
            self.problems.append(f"{type(node).__name__}: a backward through a graph made "
                                 "before the compiled call")
            return
        grad_slot = self.slot(grad._data, grad)
        saved = node._saved or ()
        saved = tuple(self.slot_of.get(id(t._data)) for t in saved)
        self.frames.append([op, len(self.entries), grad_slot, False, len(self.arrays), saved])

    def end_node(self, node, in_grads):
        """The formula returned ``in_grads``: keep its ops inline, or fold it into a Node."""
        if self.opaque or not self.frames:
            return
        op, start, grad_slot, foreign, first_slot, saved = self.frames.pop()
        outs = []
        for g in in_grads:
            array = getattr(g, "_data", None)
            slot = None if array is None else self.slot_of.get(id(array))
            if array is not None and slot is None:
                foreign = True
            outs.append(slot)
        if not foreign:
            return
        # The formula computed on arrays the schedule cannot name: replay it whole.
        self._forget(start, first_slot)
        outs = tuple(None if g is None else self._new_slot(g._data) for g in in_grads)
        self.entries.append(Node(op, grad_slot, outs, saved, node))

    def _forget(self, start, first_slot):
        """Drop the entries from ``start`` on and the slots they made."""
        dropped = {id(e) for e in self.entries[start:]}
        del self.entries[start:]
        self.slot_of = {k: s for k, s in self.slot_of.items() if s < first_slot}
        self.attr_of = {k: v for k, v in self.attr_of.items() if id(v[0]) not in dropped}

    def leaf(self, tensor, grad, shared):
        if self.opaque:
            return
        if tensor._hooks:
            self.problem("a hook on a leaf's gradient (register_hook)")
        if not hasattr(grad, "_backend"):  # a RowSparseGrad
            self.problem("a row-sparse gradient (sparse=True embeddings)")
            return
        slot = self.slot(grad._data, grad)
        self.entries.append(Leaf(tensor, slot, shared, None))

    def leaf_done(self, tensor):
        """After the accumulation: ``tensor.grad`` is a known array from now on."""
        if self.opaque or not hasattr(tensor.grad, "_backend"):
            return
        entry = self.entries[-1]
        entry.out = self._new_slot(tensor.grad._data)

    def set_grad(self, tensor, value):
        if self.opaque:
            return
        if value is not None and not hasattr(value, "_backend"):
            self.problem("a row-sparse gradient assigned to .grad")
            return
        slot = None if value is None else self.slot(value._data, value, "an assigned .grad")
        self.entries.append(SetGrad(tensor, slot))

    def accumulated(self, tensor, grad):
        """A gradient was added into ``tensor.grad``; outside a recorded ``Leaf`` (a sparse
        embedding's backward does it itself) the replay would miss it."""
        if not self.opaque:
            self.problem(f"a gradient ({type(grad).__name__}) accumulated outside the "
                         "autograd engine")

    def call(self, fn, args, kwargs, name):
        entry = Call(fn, args, kwargs, name)
        self.entries.append(entry)
        return entry

    def call_done(self, entry, result):
        if hasattr(result, "_data") and _is_array(result._data):
            entry.out = self._new_slot(result._data)

    def seed(self, value, draw):
        if self.opaque:
            return
        entry = Seed(value, draw)
        self.entries.append(entry)
        self.attr_of[id(value)] = (entry, "value")
        self.keep.append(value)

    def host(self, tensor, kind, value):
        if self.opaque:
            return
        slot = self.slot(tensor._data, tensor)
        self.entries.append(Host(slot, kind, value))

    def wrote(self, tensor):
        """``tensor`` was changed in place (its version went up): fine if the write was
        recorded, else the replay would miss it."""
        if self.opaque:
            return
        key = id(tensor._data)
        if key in self.covered:
            self.covered.discard(key)
        else:
            self.problem(f"an in-place write into a tensor of shape {tuple(tensor.shape)} "
                         "that the trace cannot see")

    def module(self, module):
        self.modules[id(module)] = module

    def problem(self, reason):
        self.problems.append(reason)


def _snapshot(array):
    if not _is_array(array):
        return array
    from ..backends.device import backend_of_array
    backend, device = backend_of_array(array)
    with backend.device_context(device):
        return array.copy()


def _memory(array):
    """(address, bytes, dtype) of a C-contiguous array, None for any other."""
    if not _is_array(array) or not array.flags.c_contiguous or array.size == 0:
        return None
    if isinstance(array, np.ndarray):
        address = array.__array_interface__["data"][0]
    else:
        address = array.data.ptr
    return address, array.nbytes, array.dtype


def _is_array(value):
    """A NumPy or CuPy array (a NumPy scalar is a parameter as it is)."""
    return isinstance(value, np.ndarray) or (type(value).__module__.startswith("cupy")
                                             and hasattr(value, "shape"))


def _is_plain(value):
    if isinstance(value, _PLAIN):
        return True
    return isinstance(value, int) and -5 <= value <= 256


class _Scratch:
    """The context of an op computed on raw arrays (it keeps nothing)."""


_ARRAY_OPS = {}


def _array_op(fn):
    """A Function-like class whose ``forward`` is ``fn(xp, *arrays, **params)``: one per
    ``fn``, so two traces compare equal."""
    cls = _ARRAY_OPS.get(fn)
    if cls is None:
        def forward(ctx, xp, *arrays, **params):
            return fn(xp, *arrays, **params)
        cls = type(fn.__name__.strip("_").capitalize(), (_Scratch,),
                   {"forward": staticmethod(forward)})
        _ARRAY_OPS[fn] = cls
    return cls


def record(fn, inputs, result, **params):
    """Report an op that skips ``Function`` (no gradient: comparisons, argmax) to a
    ``gg.compile`` trace: ``result._data == fn(xp, *[t._data for t in inputs], **params)``.

    >>> import numpy as np
    >>> def twice(xp, a):
    ...     return a * 2
    >>> x = gg.tensor([1.0])
    >>> record(twice, (x,), x._like(twice(np, x._data)))  # outside a trace: nothing
    """
    tracer = state.tracer
    if tracer is not None and not tracer.opaque:
        tracer.op(_array_op(fn), _Scratch(), inputs, [t._data for t in inputs], params,
                  result)


def write(fn, target, *inputs, **params):
    """The in-place write ``fn(xp, target._data, *arrays of inputs, **params)`` (which
    returns the target array), run on the target's device and reported to a
    ``gg.compile`` trace; the caller then bumps ``target``'s version.

    >>> def fill(xp, dst, *, value):
    ...     dst.fill(value)
    ...     return dst
    >>> x = gg.zeros(2)
    >>> write(fill, x, value=1.0)
    >>> x.tolist()
    [1.0, 1.0]
    """
    tracer = state.tracer
    if tracer is not None and not tracer.opaque:
        tracer.slot(target._data, target, "the target of an in-place write")  # as it was
    with target._backend.device_context(target._device):  # CuPy writes on the current one
        fn(target._backend.xp, target._data, *[t._data for t in inputs], **params)
    if tracer is not None and not tracer.opaque:
        record(fn, (target,) + inputs, target, **params)
        tracer.covered.add(id(target._data))


class opaque:
    """Inside: ops are not recorded (the enclosing entry replays them)."""

    def __init__(self, tracer):
        self.tracer = tracer

    def __enter__(self):
        self.tracer.opaque += 1

    def __exit__(self, *exc):
        self.tracer.opaque -= 1


def traced_call(name):
    """Decorator for functions and methods with effects the trace cannot see (an
    optimizer's update on raw arrays, gradient clipping's host-side norm): while tracing,
    the call is one ``Call`` entry and its inner ops are not recorded; on replay it runs
    again as it is, and a tensor it returns is the replay's.

    >>> @traced_call("double")
    ... def double(x):
    ...     return x * 2
    >>> double(gg.ones(1)).item()
    2.0
    """
    def wrap(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            tracer = state.tracer
            if tracer is None or tracer.opaque:
                return fn(*args, **kwargs)
            # A generator (model.parameters()) would be empty on replay: keep its items.
            args = tuple(list(a) if isinstance(a, Iterator) else a for a in args)
            method = args and fn.__qualname__ != fn.__name__
            label = f"{type(args[0]).__name__}.{name}" if method else name
            entry = tracer.call(fn, args, kwargs, label)
            with opaque(tracer):
                result = fn(*args, **kwargs)
            tracer.call_done(entry, result)
            return result
        return wrapper
    return wrap
