"""Running a plan: the traced schedule on raw arrays, without Tensors or graph bookkeeping.

The trace becomes a flat list of instructions over numbered slots (one array each). A slot
is dropped right after its last reader, so a replay holds no more memory than the eager step
did. Each op keeps one context object across replays: its ``forward`` leaves there what
later instructions read (a dropout seed, a max-pool's indices), exactly as in eager mode.
"""
import contextlib

import numpy as np

from ..amp.autocast_mode import suspended as _autocast_suspended
from ..autograd.grad_mode import no_grad
from ..backends.device import backend_for
from ..tensor import Tensor
from ..autograd.trace_entries import Call, Ext, Host, Leaf, Node, Op, Seed, SetGrad, View
from . import buffers, graphs
from .codegen import generate
from .instructions import (ARG, CALL, HOST, LEAF, LOAD, NODE, OP, SEED, SETGRAD, VIEW,
                           GuardFailed, Holder, reads, template_slots, writes)
from .plan import CannotReplay


class Plan:
    """The replayable form of a trace: ``run(flat_args)`` returns the flat outputs."""

    def __init__(self, trace, externals, outputs, cuda_graphs=True):
        self.n_slots = len(trace.arrays)
        self.consts = [(s, b[1]) for s, b in externals.items() if b[0] == "const"]
        self.outputs = outputs  # [("slot", s, backend, device) | ("host", k) | ("value", v)]
        self.host_outputs = {k for kind, k, *_ in outputs if kind == "host"}
        self.first_effect = None  # index of the first instruction with side effects
        self.device = None
        self.code = []
        self._contexts = {}
        self._hosts = 0
        for entry in trace.entries:
            self.code.append(self._compile(entry, externals))
        self._free_after_last_use()
        self.buffers = {}  # instruction -> (writer, buffer): the static memory plan
        if self.device is not None and backend_for(self.device).array_type is np.ndarray:
            self.buffers = buffers.assign(self.code, trace.arrays, outputs)
        self.buffer_bytes = sum({id(b): b.nbytes for _, b in self.buffers.values()}.values())
        # A constant an op writes in place starts each replay as the trace saw it.
        written = {ins[6] for ins in self.code if ins[0] == OP and ins[2] is not None
                   and ins[6] in ins[3]}
        self.consts = [(s, a, s in written) for s, a in self.consts]
        # Values branched on are checked; when one changed, the caller restores the RNG.
        self.has_guards = any(ins[0] == HOST and ins[4] not in self.host_outputs
                              for ins in self.code)
        self.loads = [(ins[2], ins[3], ins[4]) for ins in self.code
                      if ins[0] == LOAD and ins[2] is not None]
        self.function, self.source = generate(self)
        self.graph = graphs.maybe(self, cuda_graphs)  # on CuPy: one launch per step

    # ---- building -------------------------------------------------------------------
    def _backend(self, device):
        """The backend of ``device``; a plan runs on one device (in its context)."""
        if self.device is None:
            self.device = device
        elif device is not self.device:
            raise CannotReplay(f"ops run on {self.device} and on {device}; a compiled step "
                               "runs on one device")
        return backend_for(device)

    def device_context(self):
        if self.device is None:
            return contextlib.nullcontext()
        return backend_for(self.device).device_context(self.device)

    def _context(self, entry):
        """The object an entry leaves its values on: an op's context, a seed's holder."""
        ctx = self._contexts.get(id(entry))
        if ctx is None:
            ctx = object.__new__(entry.cls) if isinstance(entry, Op) else Holder()
            self._contexts[id(entry)] = ctx
        return ctx

    def _effect(self):
        if self.first_effect is None:
            self.first_effect = len(self.code)

    def _compile(self, entry, externals):
        if isinstance(entry, Op):
            if entry.inplace:
                self._effect()
            bound = tuple((name, self._resolve(t)) for name, t in entry.bound.items())
            backend = self._backend(entry.device)
            return [OP, entry.cls.forward, self._context(entry), entry.ins,
                    dict(entry.params), bound, entry.out, tuple(entry.attrs.items()),
                    backend.xp, backend.array_type, entry.zero_d,
                    tuple(template_slots(t for _, t in bound)), ()]
        if isinstance(entry, Ext):
            kind, what = externals[entry.slot]
            if kind == "arg":
                return [ARG, entry.slot, what, ()]
            if kind == "live":
                return [LOAD, entry.slot, what, what._data.shape, what._data.dtype, ()]
            return [LOAD, entry.slot, None, None, None, ()]  # a constant, set up front
        if isinstance(entry, Node):
            node = entry.node
            edges = tuple(None if e is None else True for e in node.next)
            backend = self._backend(entry.op.device)
            return [NODE, entry.op.cls.backward, self._context(entry.op), entry.grad,
                    entry.outs, entry.saved, edges, node.input_shapes, backend,
                    entry.op.device, ()]
        if isinstance(entry, Leaf):
            self._effect()
            t = entry.tensor
            return [LEAF, t, entry.grad, entry.shared, entry.out, t._backend, t._device, ()]
        if isinstance(entry, Call):
            self._effect()
            return [CALL, entry.fn, entry.args, entry.kwargs, entry.out, ()]
        if isinstance(entry, Host):
            k = self._hosts
            self._hosts += 1
            return [HOST, entry.slot, entry.kind, entry.value, k, ()]
        if isinstance(entry, Seed):
            return [SEED, self._context(entry), entry.draw, ()]
        if isinstance(entry, View):
            return [VIEW, entry.src, entry.shape, entry.out, ()]
        if isinstance(entry, SetGrad):
            self._effect()
            t = entry.tensor
            return [SETGRAD, t, entry.grad, t._backend, t._device, ()]
        raise TypeError(f"unknown trace entry {entry!r}")

    def _resolve(self, template):
        """A parameter template with each entry replaced by the object it leaves its
        values on (see ``codegen``)."""
        if template[0] == "attr":
            return ("attr", self._context(template[1]), template[2])
        if template[0] == "seq":
            return ("seq", template[1], tuple(self._resolve(t) for t in template[2]))
        return template

    def _free_after_last_use(self):
        """Give each instruction the slots nobody uses after it (outputs and constants
        stay), and drop context attributes nobody reads."""
        read = set()
        for ins in self.code:
            read.update(reads(ins))
        for ins in self.code:
            if ins[0] == OP:
                ins[7] = tuple((a, s) for a, s in ins[7] if s in read)
        last = {}
        for i, ins in enumerate(self.code):
            for s in writes(ins) + tuple(reads(ins)):
                last[s] = i
        keep = {o[1] for o in self.outputs if o[0] == "slot"}
        keep.update(s for s, *_ in self.consts)
        frees = [[] for _ in self.code]
        for s, i in last.items():
            if s not in keep:
                frees[i].append(s)
        for ins, free in zip(self.code, frees):
            ins[-1] = tuple(free)

    # ---- running --------------------------------------------------------------------
    def run(self, args):
        """Replay on the arrays of ``args`` (the flat tensor arguments); the flat outputs."""
        for tensor, shape, dtype in self.loads:
            array = tensor._data
            if array.shape != shape or array.dtype != dtype:
                raise GuardFailed(-1, f"a tensor the step reads changed from {dtype}"
                                     f"{list(shape)} to {array.dtype}{list(array.shape)}")
        graph = self.graph
        with no_grad(), _autocast_suspended(), self.device_context():
            if graph is not None and graph.failed is None:
                arrays, hosts = graph.run(args)
            else:
                arrays, hosts = self.function(args)
        arrays = iter(arrays)
        return [Tensor._wrap(next(arrays), o[2], o[3]) if o[0] == "slot"
                else hosts[o[1]] if o[0] == "host" else o[1] for o in self.outputs]
