"""The entries of a ``gg.compile`` trace (see ``tracer``): what one eager call did, in order.
Each names slots (numbered arrays of the schedule) rather than arrays."""


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
