"""``CompiledFunction`` (``gg.compile``): trace a call twice, then replay it; guards choose the plan."""
import warnings

from ..amp import autocast_mode
from ..autograd.grad_mode import state
from ..autograd.trace_entries import Host
from ..autograd.tracer import Tracer
from ..random import get_rng_state, set_rng_state
from ..tensor import Tensor
from .plan import CannotReplay, compare
from .replay import GuardFailed, Plan

_MISSES = 3  # guard misses (a value branched on changed) before a variant stays eager


class _Variant:
    """What one guard key has: its traces so far, then a plan, or why it runs eagerly."""

    def __init__(self):
        self.traces = []
        self.plan = None
        self.out_def = None
        self.eager = None  # the reason, once it is known it cannot be replayed
        self.misses = 0


class CompiledFunction:
    """``fn`` compiled by ``gg.compile``; call it as ``fn``. See ``gpugrad.compile``."""

    def __init__(self, fn, fullgraph=False, retrace=True, cuda_graphs=True):
        self.fn = fn
        self.fullgraph = fullgraph
        self.retrace = retrace
        self.cuda_graphs = cuda_graphs
        self._variants = {}
        self._modules = {}  # every module a trace saw called: their flags are guarded
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)

    def __getattr__(self, name):  # a compiled module still has its parameters, ...
        if name == "fn":
            raise AttributeError(name)
        return getattr(self.fn, name)

    def __repr__(self):
        return f"CompiledFunction({self.fn!r})"

    @property
    def stats(self):
        """How each variant runs: {"replay": n, "tracing": n, "eager": [reasons],
        "buffers": bytes the plans keep for their outputs (the static memory plan)}, plus
        "cuda_graphs": n replayed as CUDA graphs when there are such."""
        out = {"replay": 0, "tracing": 0, "eager": [], "buffers": 0}
        for v in self._variants.values():
            if v.plan is not None:
                out["replay"] += 1
                out["buffers"] += v.plan.buffer_bytes
                graph = v.plan.graph
                if graph is not None and graph.failed is None and graph.graph is not None:
                    out["cuda_graphs"] = out.get("cuda_graphs", 0) + 1
            elif v.eager is not None:
                out["eager"].append(v.eager)
            else:
                out["tracing"] += 1
        return out

    def __call__(self, *args, **kwargs):
        if state.tracer is not None:  # inside another compiled call: its trace sees all
            return self.fn(*args, **kwargs)
        leaves, structure = [], []
        _flatten((args, kwargs), leaves, structure)
        tensors = [leaf for leaf in leaves if isinstance(leaf, Tensor)]
        signature = tuple(structure) + tuple(map(_spec, leaves))
        base = (signature, state.grad_enabled, _autocast_key())
        key = base + (self._module_key(),)
        variant = self._variants.get(key)
        if variant is None:
            if self._variants and not self.retrace:
                raise RuntimeError(f"gg.compile: {_name(self.fn)} was called with other "
                                   "input shapes, dtypes, devices or module modes than when "
                                   "it was traced, and retrace=False")
            variant = self._variants[key] = _Variant()
        if variant.plan is not None:
            return self._replay(variant, tensors, args, kwargs)
        if variant.eager is not None:
            return self.fn(*args, **kwargs)
        known = len(self._modules)
        result = self._trace(variant, args, kwargs, tensors)
        if len(self._modules) != known and self._variants.get(key) is variant:
            # The trace met modules whose flags the key did not hold yet: re-key.
            del self._variants[key]
            self._variants[base + (self._module_key(),)] = variant
        return result

    # ---- tracing --------------------------------------------------------------------
    def _trace(self, variant, args, kwargs, tensors):
        tracer = Tracer()
        for i, t in enumerate(tensors):  # known up front: library code may reshape them
            tracer.slot(t._data, t, f"argument tensor {i}")
        state.tracer = tracer
        try:
            result = self.fn(*args, **kwargs)
        finally:
            state.tracer = None
        self._modules.update(tracer.modules)
        for module in tracer.modules.values():
            if _has_hooks(module):
                tracer.problem(f"{type(module).__name__} has forward or backward hooks")
        leaves, out_def = [], []
        _flatten(result, leaves, out_def)
        variant.traces.append((tracer, tensors, leaves, tuple(out_def)))
        if len(variant.traces) == 2:
            self._build(variant)
        return result

    def _build(self, variant):
        (t1, args1, out1, def1), (t2, args2, out2, def2) = variant.traces
        variant.traces = []  # the traced arrays go as soon as the plan is made
        try:
            if def1 != def2:
                raise CannotReplay("the two traced calls returned different structures")
            externals = compare(t1, t2, args1, args2)
            outputs = _output_specs(t1, out1, t2, out2)
            variant.plan = Plan(t2, externals, outputs, self.cuda_graphs)
            variant.out_def = def2
        except CannotReplay as err:
            self._give_up(variant, str(err))

    def _give_up(self, variant, reason):
        variant.plan = None
        variant.eager = reason
        message = f"gg.compile: {_name(self.fn)} runs eagerly: {reason}"
        if self.fullgraph:
            raise RuntimeError(message + " (fullgraph=True)")
        warnings.warn(message, RuntimeWarning, stacklevel=4)

    # ---- replaying ------------------------------------------------------------------
    def _replay(self, variant, tensors, args, kwargs):
        plan = variant.plan
        rng = get_rng_state() if plan.has_guards else None
        try:
            leaves = plan.run(tensors)
        except GuardFailed as miss:
            if miss.index < 0:  # a parameter changed shape or dtype: trace it anew
                variant.plan = None
                return self._trace(variant, args, kwargs, tensors)
            if plan.first_effect is not None and miss.index > plan.first_effect:
                raise RuntimeError(
                    f"gg.compile: {_name(self.fn)}: {miss}, after the step had already "
                    "changed state (gradients, an optimizer step), so it cannot fall back to "
                    "eager mode; read such values before backward or outside the compiled "
                    "function") from None
            if rng is not None:
                set_rng_state(rng)  # the partial replay drew dropout seeds
            variant.misses += 1
            if variant.misses >= _MISSES or self.fullgraph:
                self._give_up(variant, str(miss))
            return self.fn(*args, **kwargs)
        return _unflatten(variant.out_def, iter(leaves))

    def _module_key(self):
        """Each traced module's mode, hooks and parameter and buffer objects (a replaced
        parameter is another tensor: the plan would read the old one)."""
        return tuple((m.training, _has_hooks(m), tuple(map(id, m._parameters.values())),
                      tuple(map(id, m._buffers.values()))) for m in self._modules.values())


def _output_specs(t1, out1, t2, out2):
    """How the replay makes each returned leaf (see ``Plan``)."""
    hosts1 = [e for e in t1.entries if isinstance(e, Host)]
    hosts2 = [e for e in t2.entries if isinstance(e, Host)]
    backward_ran = t2.backward_ran
    specs = []
    for a, b in zip(out1, out2):
        if isinstance(b, Tensor):
            specs.append(_tensor_output(t1, a, t2, b, backward_ran))
            continue
        k = _index_of(b, hosts2)
        if k is not None and k == _index_of(a, hosts1):
            specs.append(("host", k))
        elif type(a) is type(b) and _plain_equal(a, b):
            specs.append(("value", b))
        else:
            raise CannotReplay(f"it returns a Python value ({b!r}) computed outside "
                               "gpugrad's ops")
    return specs


def _tensor_output(t1, a, t2, b, backward_ran):
    if b.requires_grad and not backward_ran:
        raise CannotReplay("it returns a tensor that requires grad and runs no backward: "
                           "compile the whole training step (forward, backward, optimizer)")
    slot = t2.slot_of.get(id(b._data))
    if slot is None or not isinstance(a, Tensor) or t1.slot_of.get(id(a._data)) != slot:
        if a is b:
            return ("value", b)  # a tensor from outside, returned as it is
        raise CannotReplay("it returns a tensor made outside gpugrad's ops")
    return ("slot", slot, b._backend, b._device)


def _index_of(value, hosts):
    for k, entry in enumerate(hosts):
        if entry.value is value:
            return k
    return None


def _plain_equal(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


def _flatten(obj, leaves, structure):
    """The leaves of nested tuples/lists/dicts in order, and their structure: (type, size or
    keys) for each container, None for each leaf."""
    kind = type(obj)
    if kind in (tuple, list):
        structure.append((kind, len(obj)))
        for item in obj:
            _flatten(item, leaves, structure)
    elif kind is dict:
        structure.append((dict, tuple(obj)))
        for item in obj.values():
            _flatten(item, leaves, structure)
    else:
        structure.append(None)
        leaves.append(obj)


def _spec(leaf):
    """What the guard key holds of an argument: a tensor's shape, dtype, device and
    ``requires_grad``; another value itself (or its identity, if unhashable)."""
    if isinstance(leaf, Tensor):
        return (leaf._data.shape, leaf._data.dtype, leaf._device, leaf.requires_grad)
    try:
        hash(leaf)
        return (type(leaf), leaf)
    except TypeError:
        return (type(leaf), id(leaf))


def _unflatten(out_def, leaves, pos=None):
    pos = pos if pos is not None else [0]
    node = out_def[pos[0]]
    pos[0] += 1
    if node is None:
        return next(leaves)
    kind, size = node
    if kind is dict:
        return {k: _unflatten(out_def, leaves, pos) for k in size}
    items = [_unflatten(out_def, leaves, pos) for _ in range(size)]
    return items if kind is list else tuple(items)


def _autocast_key():
    if not autocast_mode.ACTIVE[0]:
        return None
    enabled, dtypes, cache = autocast_mode.snapshot()
    return tuple(sorted(enabled.items())), tuple(sorted((k, str(v)) for k, v in
                                                        dtypes.items())), cache


def _has_hooks(module):
    d = module.__dict__
    return any(d.get(name) for name in ("_forward_pre_hooks", "_forward_hooks",
                                        "_backward_hooks", "_backward_pre_hooks"))


def _name(fn):
    return getattr(fn, "__qualname__", None) or type(fn).__name__
