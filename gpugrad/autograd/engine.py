"""The backward pass: an iterative walk of the graph in topological order.

No recursion, so a chain of 100 000 ops backs up fine; each node and edge is visited a
constant number of times, so backward costs the same big-O as forward. Gradients arriving
at a node (or leaf) from several consumers are summed before it runs.

When no graph of the gradient is built (``create_graph=False``) and nothing watches the
walk (no hooks on the node, no anomaly mode, no ``gg.compile`` trace), an op with a
``backward_arrays`` formula runs it on the raw NumPy arrays, and the gradients stay bare
arrays until a Tensor is needed (a leaf, a hook, an op without that formula): the same
NumPy calls as the Tensor formulas make, so the same bits, without a Tensor and an op call
per gradient. ``ARRAYS = False`` switches this off (the tests compare both ways).
"""
from collections import deque

import numpy as np
from numpy import asarray, ndarray

from . import anomaly
from ..amp.autocast_mode import suspended as _autocast_suspended
from ..backends.device import CPU, _NUMPY
from .function import Function, _graph_gc_end
from .grad_mode import set_grad_enabled, state
from .recording import opaque

ARRAYS = True  # run the ``backward_arrays`` formulas where they apply (tests switch it off)
_new = object.__new__


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


def _tensor(g):
    """A gradient as a Tensor: bare arrays of the fast path are NumPy arrays (CPU)."""
    if g.__class__ is not ndarray:
        return g  # a Tensor already, None, or a RowSparseGrad
    t = _new(Tensor)  # Tensor._wrap, inlined
    t._data = g
    t._backend = _NUMPY
    t._device = CPU
    t.requires_grad, t.grad_fn, t._version = False, None, None
    return t


def _sum(old, g):
    """Two partial gradients of one node, summed as ``Tensor.__add__`` would."""
    if old.__class__ is ndarray and g.__class__ is ndarray and old.dtype is g.dtype:
        out = old + g
        return out if out.__class__ is ndarray else asarray(out)  # 0-d: a NumPy scalar
    return _tensor(old) + _tensor(g)


def _add(grads, key, g):
    old = grads.get(key)
    grads[key] = g if old is None else _sum(old, g)


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
            data = getattr(g, "_data", None)  # None, or a RowSparseGrad: nothing to check
            if data is not None:  # on the gradient's device: an op may move data (``to``)
                with g._backend.device_context(g._device):
                    anomaly.check_finite(g._backend.xp, data, "backward", node)
    if tracer is not None:
        tracer.end_node(node, grads)
    return grads


def _bare(grad):
    """The NumPy array of a gradient the fast path can take, else None."""
    if grad.__class__ is ndarray:
        return grad
    data = getattr(grad, "_data", None)  # a RowSparseGrad has none
    return data if data.__class__ is ndarray else None


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
    arrays = plain and not create_graph and ARRAYS
    if state.tracer is not None:
        _trace_limits(create_graph)
    pop, push = ready.pop, ready.append
    # The last node made ready waits in ``node``, not on the stack: it runs next anyway (a
    # stack), and in a chain every node is the only one made ready by its consumer.
    node = None
    # Backward ops run in the dtypes forward chose, also when called inside gg.autocast.
    with set_grad_enabled(create_graph), _autocast_suspended():
        while True:
            if node is None:
                if not ready:
                    break
                node, grad = pop()
            if not isinstance(node, Function):
                _finish_leaf(node, _tensor(grad), captured, given)
                node = None
                continue
            if captured is not None and node in captured:
                captured[node] = grad = _tensor(grad)
            bare = False
            if grad is None:
                in_grads = (None,) * len(node.next)
            elif node._hooks is not None or not plain:
                in_grads = _call_backward(node, _tensor(grad), check)
            else:
                if arrays and node.backward_arrays is not None:
                    data = grad if grad.__class__ is ndarray else _bare(grad)
                    if data is not None:
                        in_grads = node.backward_arrays(node, np, data)
                        bare = in_grads is not NotImplemented
                if not bare:
                    grad = _tensor(grad)
                    if grad._backend.has_device_context:
                        in_grads = _call_backward(node, grad, check)
                    else:
                        in_grads = node.backward(node, grad)  # without a call layer
                if in_grads.__class__ is not tuple:
                    in_grads = (in_grads,)
            if not retain_graph:
                node._saved = None  # free what forward saved as soon as it was used
            shapes = node.input_shapes
            i = -1
            edges = node.next
            node = None
            for nxt in edges:  # indexing the others is cheaper than zipping three
                i += 1
                if nxt is None:
                    continue
                g = in_grads[i]
                if g is not None:
                    if bare:
                        if g.__class__ is not ndarray:
                            g = asarray(g)  # NumPy gives 0-d results as scalars
                        if g.shape != shapes[i]:
                            g = _tensor(g).sum_to_size(shapes[i])  # the input was broadcast
                    elif g._data.shape != shapes[i]:
                        g = g.sum_to_size(shapes[i])
                left = deps[nxt] - 1
                if left:
                    deps[nxt] = left
                    if g is not None:
                        _add(grads, nxt, g)
                    continue
                # The last consumer has reported: the gradient is complete.
                if grads and nxt in grads:
                    old = grads.pop(nxt)
                    g = old if g is None else _sum(old, g)
                if node is not None:
                    push((node, grad))
                node, grad = nxt, g
    if not retain_graph:
        _graph_gc_end()  # the graph is freed: the GC's usual schedule again
    if captured is not None:
        return [_tensor(captured[t.grad_fn if t.grad_fn is not None else t]) for t in inputs]
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


from ..tensor import Tensor  # noqa: E402
