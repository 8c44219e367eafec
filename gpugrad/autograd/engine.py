"""The backward pass: an iterative walk of the graph in topological order.

No recursion, so a chain of 100 000 ops backs up fine; each node and edge is visited a
constant number of times, so backward costs the same big-O as forward. Gradients arriving
at a node (or leaf) from several consumers are summed before it runs.
"""
from collections import deque

from . import anomaly
from ..amp.autocast_mode import suspended as _autocast_suspended
from .function import Function, _graph_gc_end
from .grad_mode import set_grad_enabled, state
from .recording import opaque


def _dependencies(roots):
    """Count, for every node and leaf reachable from ``roots``, its consumers in the graph."""
    deps = {}
    get = deps.get  # bound once: this loop visits every edge of the graph
    stack = deque([r for r in dict.fromkeys(roots) if isinstance(r, Function)])  # see ready
    # A root that another root also reaches (h and c of one LSTM step) is expanded once:
    # counting its edges twice would leave its inputs waiting forever.
    roots = set(stack)
    push, pop = stack.append, stack.pop
    while stack:
        for nxt in pop().next:
            if nxt is None:
                continue
            count = get(nxt)
            if count is None:
                deps[nxt] = 1
                if isinstance(nxt, Function) and nxt not in roots:
                    push(nxt)
            else:
                deps[nxt] = count + 1
    return deps


def _add(grads, key, g):
    old = grads.get(key)
    grads[key] = g if old is None else old + g


def _run_hooks(hooks, grad):
    for hook in hooks:
        new = hook(grad)
        if new is not None:
            grad = new
    return grad


def _call_backward(node, grad, check):
    if node._hooks:
        grad = _run_hooks(node._hooks, grad)
    tracer = state.tracer
    if tracer is not None:
        tracer.begin_node(node, grad)
    backend = grad._backend  # the output's gradient lives where the op ran
    if check:
        state.anomaly = False  # checked below, so a NaN is blamed on this node's backward
    try:
        if backend.has_device_context:
            with backend.device_context(grad._device):
                grads = node.backward(node, grad)
        else:
            grads = node.backward(node, grad)
    finally:
        state.anomaly = check
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(node.next):
        raise RuntimeError(f"{type(node).__name__}.backward returned {len(grads)} gradients "
                           f"for {len(node.next)} inputs")
    if check:
        for g in grads:
            if g is not None:
                anomaly.check_finite(backend.xp, getattr(g, "_data", None), "backward", node)
    if tracer is not None:
        tracer.end_node(node, grads)
    return grads


def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None):
    """Propagate ``root_grads`` from ``roots`` (nodes or leaf tensors) back to the leaves.

    With ``inputs`` (a list of tensors) the gradients w.r.t. them are returned and no
    ``.grad`` is touched (``gg.grad``); otherwise leaf gradients accumulate into ``.grad``.
    """
    deps = _dependencies(roots)
    grads = {}  # partial sums for nodes still waiting on some of their consumers
    for root, g in zip(roots, root_grads):
        _add(grads, root, g)
    captured = None
    if inputs is not None:
        captured = {(t.grad_fn if t.grad_fn is not None else t): None for t in inputs}
    # A deque, not a list: a list that empties and refills at every node reallocates.
    ready = deque([(r, grads.pop(r)) for r in dict.fromkeys(roots) if deps.get(r, 0) == 0])
    # ids of gradient arrays already handed out, so no two .grad share one array
    given = {id(getattr(g, "_data", g)) for g in root_grads}
    check = state.anomaly
    plain = not state.extras  # no anomaly checks, no gg.compile trace
    if state.tracer is not None:
        _trace_limits(create_graph)
    # Backward ops run in the dtypes forward chose, also when called inside gg.autocast.
    with set_grad_enabled(create_graph), _autocast_suspended():
        while ready:
            node, grad = ready.pop()
            if not isinstance(node, Function):
                _finish_leaf(node, grad, captured, given)
                continue
            if captured is not None and node in captured:
                captured[node] = grad
            if grad is None:
                in_grads = (None,) * len(node.next)
            elif node._hooks is None and plain and not grad._backend.has_device_context:
                in_grads = node.backward(node, grad)  # the common case, without a call layer
                if in_grads.__class__ is not tuple:
                    in_grads = (in_grads,)
            else:
                in_grads = _call_backward(node, grad, check)
            if not retain_graph:
                node._saved = None  # free what forward saved as soon as it was used
            i = -1
            for nxt in node.next:  # indexing the others is cheaper than zipping three
                i += 1
                if nxt is None:
                    continue
                g = in_grads[i]
                if g is not None and g._data.shape != node.input_shapes[i]:
                    g = g.sum_to_size(node.input_shapes[i])  # the input was broadcast
                left = deps[nxt] - 1
                if left:
                    deps[nxt] = left
                    if g is not None:
                        _add(grads, nxt, g)
                    continue
                # The last consumer has reported: the gradient is complete.
                if nxt in grads:
                    old = grads.pop(nxt)
                    g = old if g is None else old + g
                ready.append((nxt, g))
    if not retain_graph:
        _graph_gc_end()  # the graph is freed: the GC's usual schedule again
    if captured is not None:
        return [captured[t.grad_fn if t.grad_fn is not None else t] for t in inputs]
    return None


def _finish_leaf(leaf, grad, captured, given):
    """A leaf's gradient is complete: run its hooks, then capture or accumulate it."""
    if grad is None:
        return
    if leaf._hooks:
        grad = _run_hooks(leaf._hooks, grad)
    if captured is not None:
        if leaf in captured:
            captured[leaf] = grad
        return
    key = id(getattr(grad, "_data", grad))
    tracer = state.tracer
    if tracer is None:
        leaf._accumulate_grad(grad, shared=key in given)
    else:  # gg.compile records the accumulation as one step
        tracer.leaf(leaf, grad, key in given)
        with opaque(tracer):
            leaf._accumulate_grad(grad, shared=key in given)
        tracer.leaf_done(leaf)
    given.add(key)


def _trace_limits(create_graph):
    """What a ``gg.compile`` trace cannot replay: a graph of the gradient, and hooks."""
    tracer = state.tracer
    tracer.backward_ran = True
    if create_graph:
        tracer.problem("backward(create_graph=True) inside the compiled call")
