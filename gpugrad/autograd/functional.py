"""``torch.autograd.functional``'s call forms: ``jacobian``, ``hessian``, ``vjp``, ``jvp``,
``vhp`` and ``hvp`` of a function of a tensor (or a tuple of tensors), computed with the
transforms of ``gpugrad.func``. Results carry no graph unless ``create_graph=True``.

>>> import gpugrad as gg
>>> gg.autograd.functional.jacobian(lambda x: x ** 2, gg.tensor([1.0, 2.0])).tolist()
[[2.0, 0.0], [0.0, 4.0]]
"""


def _as_tuple(x):
    return (tuple(x), True) if isinstance(x, (tuple, list)) else ((x,), False)


def _prepare(inputs, create_graph):
    """Inputs to differentiate: detached leaves, or (create_graph) aliases of those that
    require grad, so the results' graph reaches them."""
    from ..tensor import Tensor
    out = []
    for x in inputs:
        if not isinstance(x, Tensor):
            raise TypeError(f"expected Tensor inputs, got {type(x).__name__}")
        out.append(x.view_as(x) if create_graph and x.requires_grad
                   else x.detach().requires_grad_(True))
    return tuple(out)


def _finish(items, create_graph, like):
    """Detach (unless create_graph) and zero-fill None gradients."""
    from ..creation import zeros_like
    out = []
    for g, x in zip(items, like):
        g = zeros_like(x) if g is None else g
        out.append(g if create_graph else g.detach())
    return tuple(out)


def _out(items, is_tuple):
    return tuple(items) if is_tuple else items[0]


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product (``v`` may be left out for a
    one-element output).

    >>> import gpugrad as gg
    >>> out, g = gg.autograd.functional.vjp(lambda x: (x ** 2).sum(), gg.tensor([1.0, 3.0]))
    >>> out.item(), g.tolist()
    (10.0, [2.0, 6.0])
    """
    from ..creation import ones_like
    from .api import grad
    from .grad_mode import enable_grad
    xs, is_tuple = _as_tuple(inputs)
    xs = _prepare(xs, create_graph)
    with enable_grad():
        outs, out_tuple = _as_tuple(func(*xs))
    if v is None:
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError("vjp: v can be left out only when func returns a single "
                               "one-element tensor")
        vs = (ones_like(outs[0]),)
    else:
        vs, _ = _as_tuple(v)
    used = [(o, w) for o, w in zip(outs, vs) if o.requires_grad]
    grads = [None] * len(xs)
    if used:
        grads = grad([o for o, _ in used], list(xs), [w for _, w in used],
                     create_graph=create_graph, allow_unused=True)
    outs = tuple(o if create_graph else o.detach() for o in outs)
    return _out(outs, out_tuple), _out(_finish(grads, create_graph, xs), is_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product, in one forward-mode pass
    (``v`` may be left out for a one-element input).

    >>> import gpugrad as gg
    >>> out, t = gg.autograd.functional.jvp(lambda x: 3 * x, gg.tensor([1.0]), gg.tensor([2.0]))
    >>> out.tolist(), t.tolist()
    ([3.0], [6.0])
    """
    from ..creation import ones_like
    from ..func import jvp as _jvp
    xs, is_tuple = _as_tuple(inputs)
    if v is None:
        if len(xs) != 1 or xs[0].numel() != 1:
            raise RuntimeError("jvp: v can be left out only for a single one-element input")
        vs = (ones_like(xs[0]),)
    else:
        vs, _ = _as_tuple(v)
    xs = xs if create_graph else tuple(x.detach() for x in xs)
    out, tangent = _jvp(func, xs, vs)
    outs, out_tuple = _as_tuple(out)
    tangents, _ = _as_tuple(tangent)
    return (_out(_finish(outs, create_graph, outs), out_tuple),
            _out(_finish(tangents, create_graph, outs), out_tuple))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: a tensor of shape ``out.shape + in.shape``,
    a tuple over the inputs (tuple inputs), over the outputs (tuple output), or tuples of
    tuples (both). ``strategy`` is ``"reverse-mode"`` or ``"forward-mode"``.

    >>> import gpugrad as gg
    >>> pair = (gg.tensor([2.0]), gg.tensor([3.0]))
    >>> [t.tolist() for t in gg.autograd.functional.jacobian(lambda a, b: a * b, pair)]
    [[[3.0]], [[2.0]]]
    """
    from ..func import jacfwd, jacrev
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got "
                         f"{strategy!r}")
    transform = jacrev if strategy == "reverse-mode" else jacfwd
    xs, is_tuple = _as_tuple(inputs)
    xs = _prepare(xs, create_graph)
    nums = tuple(range(len(xs)))
    outs, out_tuple = _as_tuple(func(*xs))
    rows = []
    for k in range(len(outs)):
        def pick(*args, k=k):
            return _as_tuple(func(*args))[0][k]
        jacs = transform(pick, argnums=nums)(*xs)
        rows.append(_out(_finish(jacs, create_graph, [None] * len(jacs)), is_tuple))
    return _out(rows, out_tuple)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of ``func`` (one-element output) at ``inputs``: shape ``x.shape * 2``, or
    a tuple of tuples ``H[i][j]`` for tuple inputs.

    >>> import gpugrad as gg
    >>> gg.autograd.functional.hessian(lambda x: (x ** 3).sum(), gg.tensor([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    from ..func import hessian as _hessian
    xs, is_tuple = _as_tuple(inputs)
    xs = _prepare(xs, create_graph)
    out = func(*xs)
    if out.numel() != 1:
        raise RuntimeError("hessian: func must return a single one-element tensor")
    hess = _hessian(lambda *a: func(*a).reshape(()), tuple(range(len(xs))))(*xs)
    rows = [_finish(row, create_graph, [None] * len(row)) for row in hess]
    return tuple(rows) if is_tuple else rows[0][0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)``: a vector-Hessian product by two reverse passes.

    >>> import gpugrad as gg
    >>> out, h = gg.autograd.functional.vhp(lambda x: (x ** 3).sum(), gg.tensor([1.0, 2.0]),
    ...                                     gg.tensor([1.0, 1.0]))
    >>> out.item(), h.tolist()
    (9.0, [6.0, 12.0])
    """
    from ..creation import ones_like
    from .api import grad
    from .grad_mode import enable_grad
    xs, is_tuple = _as_tuple(inputs)
    xs = _prepare(xs, create_graph)
    vs = (ones_like(xs[0]),) if v is None else _as_tuple(v)[0]
    with enable_grad():
        out = func(*xs)
        if out.numel() != 1:
            raise RuntimeError("vhp: func must return a single one-element tensor")
        grads = grad(out, list(xs), create_graph=True, allow_unused=True)
        dot = sum((g * w).sum() for g, w in zip(grads, vs) if g is not None)
    hv = [None] * len(xs)
    if getattr(dot, "requires_grad", False):
        hv = grad(dot, list(xs), create_graph=create_graph, allow_unused=True)
    out = out if create_graph else out.detach()
    return out, _out(_finish(hv, create_graph, xs), is_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)``: a Hessian-vector product (the same as ``vhp``, the Hessian of
    a twice-differentiable function being symmetric).

    >>> import gpugrad as gg
    >>> out, h = gg.autograd.functional.hvp(lambda x: (x ** 3).sum(), gg.tensor([1.0, 2.0]),
    ...                                     gg.tensor([1.0, 0.0]))
    >>> h.tolist()
    [6.0, 0.0]
    """
    return vhp(func, inputs, v, create_graph, strict)
