"""Activation checkpointing (``torch.utils.checkpoint``): trade compute for memory.

``checkpoint(fn, *args)`` runs ``fn`` and keeps none of its intermediate activations: the
graph it builds is dropped as soon as the outputs are known, and one ``_Checkpoint`` node
stands in for it, holding only the inputs. When backward reaches that node it runs ``fn``
again with grad enabled (on the same random numbers) and backpropagates through the
recomputed graph. Peak memory is then one checkpointed segment's activations at a time.

The node's inputs are the tensor arguments that require grad plus every leaf tensor the
forward graph reached that requires grad (a module's parameters, say), so gradients reach
parameters even when no input requires grad, ``gg.grad`` works, and leaf hooks run once:
PyTorch's ``use_reentrant=False`` semantics. A tensor computed outside the function that
requires grad should come in as an argument: closed over, its graph is walked down to its
leaves, and if something else also uses it, the outer backward may free that graph before
the recomputation needs it (a RuntimeError that says so). ``use_reentrant=True`` is accepted and runs
the same way (PyTorch's reentrant variant exists for its engine's history, not for a
difference in results), but refuses keyword arguments and ``context_fn`` as PyTorch does.
"""
import contextlib
import warnings

from ..autograd.engine import run_backward
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, state
from ..backends.device import backend_for
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "noop_context_fn"]


class CheckpointError(RuntimeError):
    """The recomputation in backward did not reproduce the forward's outputs (their number,
    shapes or dtypes): ``fn`` is not deterministic in its structure.

    >>> issubclass(CheckpointError, RuntimeError)
    True
    """


def noop_context_fn():
    """The default ``context_fn``: no context around the forward nor the recomputation.

    >>> fwd, recompute = noop_context_fn()
    >>> with fwd, recompute:
    ...     pass
    """
    return contextlib.nullcontext(), contextlib.nullcontext()


def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn,
               determinism_check="default", debug=False, preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)`` without keeping its intermediate activations: backward
    recomputes them (see the module docstring). Outputs may be a tensor or a tuple/list of
    tensors and other values; ``preserve_rng_state`` replays the random numbers (dropout
    masks) of the forward in the recomputation; ``context_fn`` returns two context managers,
    entered around the forward and around the recomputation; ``determinism_check='default'``
    raises ``CheckpointError`` when the recomputed outputs differ in shape or dtype
    (``'none'`` skips it); ``debug`` is accepted and ignored.

    >>> lin = gg.nn.Linear(3, 3)
    >>> x = gg.randn(2, 3)
    >>> y = checkpoint(lambda t: lin(t).relu(), x, use_reentrant=False)
    >>> y.sum().backward()
    >>> lin.weight.grad.shape
    (3, 3)
    """
    if use_reentrant is None:
        warnings.warn("gpugrad.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly; use_reentrant=False is recommended", stacklevel=2)
        use_reentrant = True
    if use_reentrant:
        if kwargs:
            raise ValueError(f"Unexpected keyword arguments: {','.join(kwargs)}")
        if context_fn is not noop_context_fn:
            raise ValueError("Passing `context_fn` is only supported when "
                             "use_reentrant=False.")
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check!r}")
    if not state.grad_enabled:
        return function(*args, **kwargs)  # nothing will be differentiated: keep nothing
    if state.forward_levels:
        # Forward-mode tangents are computed along with the values, so there is nothing to
        # recompute later: run the function as it is (its tangents flow as usual).
        return function(*args, **kwargs)
    forward_context, recompute_context = context_fn()
    rng = _RandomState(args, kwargs) if preserve_rng_state else None
    inner_args, inner_kwargs, copies = _detached(args, kwargs)
    with forward_context, _replaying(rng, replay_cpu=False):
        outputs = function(*inner_args, **inner_kwargs)
    parts = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
    positions = [i for i, p in enumerate(parts) if isinstance(p, Tensor) and p.requires_grad]
    if not positions:
        return outputs
    diff = [parts[i] for i in positions]
    originals = [original for original, _ in copies]
    node = object.__new__(_Checkpoint)
    node.function, node.args, node.kwargs = function, args, kwargs
    node.recompute_context, node.rng = recompute_context, rng
    node.check = determinism_check == "default"
    node.leaves = _reached_leaves(diff, {id(copy) for _, copy in copies})
    node.metas = [(t.shape, t.dtype) for t in diff]
    result = _packed(diff)
    inputs = originals + node.leaves
    node._record(inputs, [t._data for t in inputs], result)
    for i, out in zip(positions, _unpacked(result, node.metas)):
        parts[i] = out
    if isinstance(outputs, (tuple, list)):
        return type(outputs)(parts)
    return parts[0]


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a ``Sequential`` (or a list of modules/functions) in ``segments`` chunks, each but
    the last checkpointed: only the chunks' boundary activations are kept.

    >>> net = gg.nn.Sequential(gg.nn.Linear(4, 4), gg.nn.Tanh(), gg.nn.Linear(4, 1))
    >>> out = checkpoint_sequential(net, 2, gg.randn(3, 4), use_reentrant=False)
    >>> out.sum().backward()
    >>> net[0].weight.grad is not None
    True
    """
    if use_reentrant is None:
        warnings.warn("gpugrad.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly; use_reentrant=False is recommended", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError(f"Unexpected keyword arguments: {','.join(kwargs)}")
    functions = list(functions.children() if hasattr(functions, "children") else functions)
    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(_run_chunk(functions[start:end + 1]), input,
                           use_reentrant=use_reentrant, preserve_rng_state=preserve)
    return _run_chunk(functions[end + 1:])(input)


def _run_chunk(chunk):
    def run(input):
        for f in chunk:
            input = f(input)
        return input
    return run


class _Checkpoint(Function):
    """The node standing in for a checkpointed function's graph (built by ``checkpoint``,
    not ``apply``); its output is the differentiable outputs, flattened and concatenated."""

    @staticmethod
    def jvp(ctx, *tangents):
        # ``checkpoint`` runs the function itself while forward-mode levels are active, so
        # this node is only ever built without tangents.
        raise NotImplementedError("checkpoint: a checkpointed region built outside forward-mode "
                                  "AD has no tangents; call checkpoint inside the jvp instead")

    @staticmethod
    def backward(ctx, grad):
        with enable_grad(), ctx.recompute_context, _replaying(ctx.rng, replay_cpu=True):
            args, kwargs, copies = _detached(ctx.args, ctx.kwargs, alias=True)
            outputs = ctx.function(*args, **kwargs)
        parts = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
        diff = [p for p in parts if isinstance(p, Tensor) and p.requires_grad]
        if ctx.check and [(t.shape, t.dtype) for t in diff] != ctx.metas:
            raise CheckpointError(
                f"checkpoint: the recomputed outputs {[(t.shape, t.dtype) for t in diff]} "
                f"differ from the forward's {ctx.metas}; the checkpointed function must "
                "compute the same thing when run again (pass determinism_check='none' to "
                "skip this check)")
        targets = [copy for _, copy in copies] + ctx.leaves
        grads = _unpacked(grad, [(t.shape, t.dtype) for t in diff])
        # The leaves get their gradient from this node, through the outer backward: their
        # hooks must not also run in this inner one.
        hooks = [leaf._hooks for leaf in ctx.leaves]
        for leaf in ctx.leaves:
            leaf._hooks = None
        # The inputs' aliases end the inner backward (their edges are cut meanwhile), so it
        # does not walk on into the outer graph; a gradient built with create_graph still
        # leads through them to the inputs.
        edges = [copy.grad_fn.next for _, copy in copies]
        for _, copy in copies:
            copy.grad_fn.next = [None]
        try:
            # retain_graph: the recomputed graph may reach nodes of the outer graph (a
            # non-leaf tensor the function closes over), which the outer backward still needs.
            found = run_backward([t.grad_fn if t.grad_fn is not None else t for t in diff],
                                 grads, True, state.grad_enabled, inputs=targets)
        except RuntimeError as err:
            if "second time" not in str(err):
                raise
            raise RuntimeError(f"checkpoint: {err}. The checkpointed function uses a tensor "
                               "computed outside it that requires grad (a closure variable "
                               "that is not a leaf), whose graph the outer backward already "
                               "freed: pass that tensor as an argument instead") from None
        finally:
            for leaf, h in zip(ctx.leaves, hooks):
                leaf._hooks = h
            for (_, copy), edge in zip(copies, edges):
                copy.grad_fn.next = edge
        return tuple(found)


class _Alias(Function):
    """The identity, as a node: what the recomputation runs on instead of each input."""

    @staticmethod
    def forward(ctx, xp, x):
        return x

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def jvp(ctx, t):
        return t


def _detached(args, kwargs, alias=False):
    """``args`` and ``kwargs`` with each tensor that requires grad replaced by a detached
    leaf copy (so the function's graph stops there), or with ``alias`` by an ``_Alias`` of
    it, and the (original, copy) pairs."""
    copies = []

    def cut(value):
        if isinstance(value, Tensor) and value.requires_grad:
            copy = _Alias.apply(value) if alias else value.detach().requires_grad_(True)
            copies.append((value, copy))
            return copy
        return value
    args = [cut(a) for a in args]
    kwargs = {k: cut(v) for k, v in kwargs.items()}
    return args, kwargs, copies


def _reached_leaves(outputs, stops):
    """Leaf tensors requiring grad that the graph of ``outputs`` reaches (a module's
    parameters), in the order first met, except those whose id is in ``stops``."""
    leaves = {}
    seen = set()
    stack = []
    for t in outputs:
        if t.grad_fn is not None:
            stack.append(t.grad_fn)
        elif id(t) not in stops:
            leaves.setdefault(id(t), t)
    while stack:
        node = stack.pop()
        for nxt in node.next:
            if nxt is None:
                continue
            if isinstance(nxt, Function):
                if id(nxt) not in seen:
                    seen.add(id(nxt))
                    stack.append(nxt)
            elif id(nxt) not in stops:
                leaves.setdefault(id(nxt), nxt)
    return list(leaves.values())


def _packed(diff):
    """One tensor (no graph) holding the outputs: the output itself when there is one,
    else the outputs flattened and concatenated in their common dtype."""
    first = diff[0]
    if len(diff) == 1:
        data = first._data
    else:
        xp = first._backend.xp
        dtype = xp.result_type(*[t._data.dtype for t in diff])
        with first._backend.device_context(first._device):
            data = xp.concatenate([t._data.reshape(-1).astype(dtype, copy=False)
                                   for t in diff])
    return Tensor._wrap(data, first._backend, first._device)


def _unpacked(packed, metas):
    """The outputs (or their gradients) that ``packed`` holds, as differentiable views."""
    if len(metas) == 1:
        return [packed]
    parts = []
    offset = 0
    for shape, dtype in metas:
        size = 1
        for n in shape:
            size *= n
        part = packed[offset:offset + size].reshape(shape)
        parts.append(part if part.dtype == dtype else part.to(dtype=dtype))
        offset += size
    return parts


class _RandomState:
    """The random state a checkpointed forward starts from, to replay in the recomputation:
    the CPU generator's state (dropout draws its seeds there, on every device), and for the
    GPUs among the inputs' devices a seed: CuPy's generators cannot save their state, so the
    forward and the recomputation each run on a fresh generator seeded with it."""

    def __init__(self, args, kwargs):
        from ..backends import device as devices
        self.cpu = devices._NUMPY.generator().bit_generator.state
        self.gpus = {}
        for t in list(args) + list(kwargs.values()):
            if isinstance(t, Tensor) and t._device.type != "cpu" and t._device not in self.gpus:
                backend = backend_for(t._device)
                with backend.device_context(t._device):
                    draw = backend.generator(t._device).integers(0, 2**62)
                self.gpus[t._device] = int(draw)


@contextlib.contextmanager
def _replaying(rng, replay_cpu):
    """Within the block, the GPUs draw from generators seeded as ``rng`` (a
    ``_RandomState``) says, and with ``replay_cpu`` the CPU generator starts from its saved
    state and is put back afterwards (the recomputation draws nothing for good)."""
    if rng is None:
        yield
        return
    from ..backends import device as devices
    cpu = devices._NUMPY.generator().bit_generator
    before = cpu.state
    if replay_cpu:
        cpu.state = rng.cpu
    replaced = []
    try:
        for dev, seed in rng.gpus.items():
            backend = backend_for(dev)
            replaced.append((backend, dev, backend._generators.get(dev.index)))
            with backend.device_context(dev):
                backend._generators[dev.index] = backend.xp.random.default_rng(seed)
        yield
    finally:
        if replay_cpu:
            cpu.state = before
        for backend, dev, gen in replaced:
            if gen is None:
                backend._generators.pop(dev.index, None)
            else:
                backend._generators[dev.index] = gen

