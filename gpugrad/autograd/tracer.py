"""Recording one eager call of a compiled function as an array-level schedule.

While a ``Tracer`` is installed (``state.tracer``), the autograd core reports to it:

* every ``Function.apply`` (forward ops, and the ops backward formulas and the engine's
  gradient sums issue) -> an ``Op`` entry: the op's class, its input slots, its parameters,
  its output slot;
* every backward node the engine runs: the ops its formula issued are kept inline when they
  read only arrays the schedule knows (slots); otherwise the node becomes one ``Node``
  entry, which replays the formula itself on the replayed forward's context;
* gradients reaching leaves -> ``Leaf`` entries (``.grad`` accumulation), ``.grad``
  assignments -> ``SetGrad``;
* optimizer ``step``/``zero_grad`` and the like -> ``Call`` entries (run as they are on
  replay), seed draws -> ``Seed``;
* host reads (``item``, ``tolist``, ``numpy``) -> ``Host`` entries: guards on replay.

Library code that computes outside ``Function`` reports through ``recording`` (``record``,
``write``, ``traced_call``). A slot is one array of the schedule. Arrays are known by
identity: an op's output, an attribute its forward left on its context (``ctx.mask``), a
leaf's ``.grad``. Any other array an op reads is an ``Ext`` (external): a tensor from outside
(parameter, buffer, argument) or one made by code the trace cannot see (``gg.ones`` in the
step). Which is which is settled by comparing two traces (``gpugrad/jit/plan.py``).
"""
import numpy as np

from .trace_entries import Call, Ext, Host, Leaf, Node, Op, Seed, SetGrad, View

# Small ints, True/False/None and strings are shared objects in CPython: identity with a
# context attribute says nothing about where such a parameter came from.
_PLAIN = (bool, str, type(None), float)


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
