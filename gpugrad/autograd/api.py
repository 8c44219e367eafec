"""``Tensor.backward`` and ``gg.grad``: argument checking around the engine."""
from ..tensor import Tensor
from .engine import run_backward


def _root(t):
    return t.grad_fn if t.grad_fn is not None else t


def _seed_grads(outputs, grad_outputs):
    grads = []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError("element of the outputs does not require grad and has no "
                               "grad_fn: nothing to differentiate")
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs "
                                   f"(got shape {out.shape}); pass gradient=")
            # On the output's device: CuPy allocates on the current one, which may differ.
            with out._backend.device_context(out._device):
                g = out._like(out._backend.xp.ones(out.shape, dtype=out.dtype))
        elif not isinstance(g, Tensor):
            with out._backend.device_context(out._device):
                g = out._like(out._backend.xp.asarray(g, dtype=out.dtype))
        if g.shape != out.shape:
            raise ValueError(f"backward: gradient of shape {g.shape} for an output of shape "
                             f"{out.shape}")
        grads.append(g)
    return grads


def backward(tensor, gradient=None, retain_graph=False, create_graph=False, inputs=None):
    """Accumulate the gradient of ``tensor`` into the leaves' ``.grad`` (what ``tensor.backward()``
    calls); ``gradient`` is d(loss)/d(tensor), needed unless ``tensor`` has one element.
    With ``inputs`` (a tensor or a sequence of them), only their ``.grad`` is accumulated.

    >>> x = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> gg.autograd.backward((x * x).sum())
    >>> x.grad
    tensor([2., 4.])
    >>> w = gg.tensor(3.0, requires_grad=True)
    >>> gg.autograd.backward((x * w).sum(), inputs=[w])
    >>> w.grad, x.grad
    (tensor(3.), tensor([2., 4.]))
    """
    grads = _seed_grads([tensor], [gradient])
    retain = retain_graph or create_graph
    if inputs is None:
        run_backward([_root(tensor)], grads, retain, create_graph)
        return
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError("backward: inputs argument was passed as an empty list")
    for t in inputs:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("backward: one of the inputs does not require grad")
    found = run_backward([_root(tensor)], grads, retain, create_graph, inputs=inputs)
    for t, g in zip(inputs, found):
        if g is not None:
            t._accumulate_grad(g, shared=True)  # the array may also flow on to other inputs


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` w.r.t. ``inputs``, returned (not accumulated in ``.grad``).

    >>> import gpugrad as gg
    >>> x = gg.tensor(3.0, requires_grad=True)
    >>> (dx,) = gg.grad(x * x, [x])
    >>> dx.item()
    6.0
    """
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    single_in = isinstance(inputs, Tensor)
    inputs = [inputs] if single_in else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad: one of the inputs does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    grads = _seed_grads(outputs, grad_outputs)
    result = run_backward([_root(o) for o in outputs], grads, retain_graph, create_graph,
                          inputs=inputs)
    for i, g in enumerate(result):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} was not used in computing the outputs; "
                               "pass allow_unused=True to get None for it")
    return tuple(result)
