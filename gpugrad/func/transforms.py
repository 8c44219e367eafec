"""``vjp``, ``grad``, ``grad_and_value`` (reverse mode) and ``jvp`` (true forward mode),
with ``torch.func``'s names and semantics. They compose: ``jvp`` of ``grad`` is
forward-over-reverse, ``grad`` of ``grad`` builds the first gradient's graph.

A reverse transform differentiates with respect to a stand-in for each argument that keeps
the argument's tangents, so a forward level outside sees through it. It builds the graph
of its result only when an outer reverse transform (or ``.backward``) could use it: when the
function's graph reaches a tensor that requires grad other than those stand-ins.

Under ``vmap`` the transforms work on physical tensors (see ``batching.py``): each input is
lowered to a plain tensor batched (expanded, a view) at every active vmap level, so the
graph, the tangents and therefore the gradients are per example; results are wrapped back.
"""
import itertools
import warnings

from ..autograd.api import grad as _autograd_grad
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, state
from ..creation import ones_like, zeros_like
from ..tensor import Tensor
from . import batching, forward_ad


def vjp(f, *primals, has_aux=False):
    """``(f(*primals), vjp_fn)``: ``vjp_fn(v)`` returns ``v^T J``, one tensor per primal.
    ``vjp_fn`` may be called many times (the graph is kept).

    >>> import gpugrad as gg
    >>> out, vjp_fn = gg.func.vjp(lambda x: x * x, gg.tensor([1.0, 2.0]))
    >>> vjp_fn(gg.ones(2))[0].tolist()
    [2.0, 4.0]
    """
    levels = batching.active_levels()
    if levels:
        return _lowered_vjp(f, primals, has_aux, levels)
    return _vjp(f, primals, has_aux)


def _vjp(f, primals, has_aux):
    with enable_grad():
        tracked = [_track(p) for p in primals]
        out = f(*tracked)
    out, aux = _split_aux(out, has_aux, "vjp")
    outs = _flatten(out, "vjp")
    outer = _reaches_outside(outs, tracked)

    def vjp_fn(cotangents):
        cots = _flatten(cotangents, "vjp_fn")
        if len(cots) != len(outs):
            raise ValueError(f"vjp_fn: got {len(cots)} cotangents for {len(outs)} outputs")
        if any(isinstance(c, batching.BatchedTensor) for c in cots):
            return _per_example(vjp_fn, cotangents, ())
        used = [(o, c) for o, c in zip(outs, cots) if o.requires_grad]
        create = state.grad_enabled and (outer or any(c.requires_grad for c in cots))
        grads = [None] * len(tracked)
        if used:
            grads = _autograd_grad([o for o, _ in used], tracked, [c for _, c in used],
                                   retain_graph=True, create_graph=create, allow_unused=True)
        return tuple(_or_zeros(g, t) for g, t in zip(grads, tracked))

    result = _unflatten([o if outer else _drop_graph(o) for o in outs], out)
    return (result, vjp_fn, aux) if has_aux else (result, vjp_fn)


def _lowered_vjp(f, primals, has_aux, levels):
    """``vjp`` inside vmap: on physical tensors batched at every active level."""
    phys = [batching.to_physical(_tensor_arg(p, "vjp"), levels) for p in primals]

    def f_phys(*ps):
        out = f(*[batching.batched(p, levels) for p in ps])
        out, aux = _split_aux(out, has_aux, "vjp")
        outs = [batching.to_physical(o, levels) for o in _flatten(out, "vjp")]
        return _unflatten(outs, out), aux

    out, phys_fn, aux = _vjp(f_phys, phys, True)

    def vjp_fn(cotangents):
        cots = _flatten(cotangents, "vjp_fn")
        if any(lv not in levels for c in cots for lv in batching.unwrap(c)[1]):
            return _per_example(vjp_fn, cotangents, levels)
        grads = phys_fn(_unflatten([batching.to_physical(c, levels) for c in cots],
                                   cotangents))
        return tuple(batching.batched(g, levels) for g in grads)

    result = _unflatten([batching.batched(o, levels) for o in _flatten(out, "vjp")], out)
    return (result, vjp_fn, aux) if has_aux else (result, vjp_fn)


def _per_example(vjp_fn, cotangents, levels):
    """``vjp_fn`` of cotangents batched at vmap levels its graph was not built at (a
    ``vjp_fn`` made outside ``vmap``): one backward pass per example of those levels."""
    cots = _flatten(cotangents, "vjp_fn")
    extra = sorted({lv for c in cots for lv in batching.unwrap(c)[1] if lv not in levels})
    warnings.warn("vmap of a vjp_fn made outside vmap runs one backward pass per example; "
                  "call vjp inside the vmapped function to batch it",
                  batching.VmapFallbackWarning, stacklevel=3)
    sizes = batching.batch_sizes(extra)
    results = []
    for idx in itertools.product(*map(range, sizes)):
        pick = dict(zip(extra, idx))
        results.append(vjp_fn(_unflatten([batching.select(c, pick) for c in cots],
                                         cotangents)))
    return tuple(batching.join(list(group), extra, sizes) for group in zip(*results))


def _tensor_arg(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected Tensor arguments to differentiate, got "
                        f"{type(x).__name__}")
    return x


def grad(f, argnums=0, has_aux=False):
    """The function computing the gradient of ``f`` (which returns a one-element tensor)
    with respect to the arguments ``argnums`` (an int, or a tuple for a tuple of gradients).

    >>> import gpugrad as gg
    >>> df = gg.func.grad(lambda x: (x ** 3).sum())
    >>> df(gg.tensor([1.0, 2.0])).tolist()
    [3.0, 12.0]
    >>> gg.func.grad(gg.func.grad(lambda x: x ** 3))(gg.tensor(2.0)).item()
    12.0
    """
    def grad_f(*args):
        grads, value = _grad_and_value(f, argnums, has_aux, args)
        return (grads, value[1]) if has_aux else grads
    return grad_f


def grad_and_value(f, argnums=0, has_aux=False):
    """Like ``grad``, but the function returns ``(gradient, f(*args))``.

    >>> import gpugrad as gg
    >>> g, v = gg.func.grad_and_value(lambda x: x * x)(gg.tensor(3.0))
    >>> g.item(), v.item()
    (6.0, 9.0)
    """
    def grad_and_value_f(*args):
        return _grad_and_value(f, argnums, has_aux, args)
    return grad_and_value_f


def _grad_and_value(f, argnums, has_aux, args):
    nums = argnums_tuple(argnums, len(args))
    if batching.active_levels():
        return _lowered_grad_and_value(f, argnums, nums, has_aux, args)
    args = list(args)
    with enable_grad():
        tracked = [_track(args[i]) for i in nums]
        for i, t in zip(nums, tracked):
            args[i] = t
        out = f(*args)
    value, aux = _split_aux(out, has_aux, "grad")
    if not isinstance(value, Tensor) or value.numel() != 1:
        raise ValueError("grad: f must return a tensor with one element (use vjp or jacrev "
                         "for other outputs)")
    outer = _reaches_outside([value], tracked)
    grads = [None] * len(tracked)
    if value.requires_grad:
        grads = _autograd_grad(value, tracked, retain_graph=outer, create_graph=outer,
                               allow_unused=True)
    grads = tuple(_or_zeros(g, t) for g, t in zip(grads, tracked))
    grads = grads[0] if isinstance(argnums, int) else grads
    value = value if outer else _drop_graph(value)
    return grads, ((value, aux) if has_aux else value)


def _lowered_grad_and_value(f, argnums, nums, has_aux, args):
    """``grad_and_value`` inside vmap, as a ``vjp`` (which lowers to physical tensors)."""
    def chosen_f(*chosen):
        full = list(args)
        for i, value in zip(nums, chosen):
            full[i] = value
        return f(*full)
    found = vjp(chosen_f, *[args[i] for i in nums], has_aux=has_aux)
    value = found[0]
    if not isinstance(value, Tensor) or value.numel() != 1:
        raise ValueError("grad: f must return a tensor with one element (use vjp or jacrev "
                         "for other outputs)")
    grads = found[1](ones_like(value))
    grads = grads[0] if isinstance(argnums, int) else grads
    return grads, ((value, found[2]) if has_aux else value)


def jvp(f, primals, tangents, has_aux=False):
    """``(f(*primals), J tangents)`` in one forward pass that carries the tangents along.

    ``primals`` and ``tangents`` are tuples of tensors (a single tensor is taken as a
    1-tuple); each tangent has its primal's shape and dtype.

    >>> import gpugrad as gg
    >>> out, t = gg.func.jvp(lambda x: x.sin(), (gg.tensor(0.0),), (gg.tensor(2.0),))
    >>> out.item(), t.item()
    (0.0, 2.0)
    """
    primals, tangents = _as_tuple(primals), _as_tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    levels = batching.active_levels()
    if levels:
        return _lowered_jvp(f, primals, tangents, has_aux, levels)
    return _jvp(f, primals, tangents, has_aux)


def _jvp(f, primals, tangents, has_aux):
    with forward_ad.dual_level() as level:
        duals = [forward_ad.make_dual(p, t, level) for p, t in zip(primals, tangents)]
        out = f(*duals)
    out, aux = _split_aux(out, has_aux, "jvp")
    outs = _flatten(out, "jvp")
    tangent_outs = [_or_zeros(forward_ad.tangent_at(o, level), o) for o in outs]
    # The level is over: an alias made now keeps the outer levels' tangents only.
    primal_outs = [forward_ad.strip_level(o, level) for o in outs]
    result = (_unflatten(primal_outs, out), _unflatten(tangent_outs, out))
    return result + (aux,) if has_aux else result


def _lowered_jvp(f, primals, tangents, has_aux, levels):
    """``jvp`` inside vmap: on physical tensors batched at every active level."""
    ps = [batching.to_physical(_tensor_arg(p, "jvp"), levels) for p in primals]
    ts = [batching.to_physical(_tensor_arg(t, "jvp"), levels) for t in tangents]
    for p, t, lp, lt in zip(ps, ts, primals, tangents):
        if lp.shape != lt.shape:
            raise ValueError(f"forward AD: tangent of shape {lt.shape} for a primal of shape "
                             f"{lp.shape}")

    def f_phys(*duals):
        out = f(*[batching.batched(d, levels) for d in duals])
        out, aux = _split_aux(out, has_aux, "jvp")
        outs = [batching.to_physical(o, levels) for o in _flatten(out, "jvp")]
        return _unflatten(outs, out), aux

    out, tangent_out, aux = _jvp(f_phys, ps, ts, True)
    wrap = lambda t: _unflatten(  # noqa: E731
        [batching.batched(o, levels) for o in _flatten(t, "jvp")], t)
    result = (wrap(out), wrap(tangent_out))
    return result + (aux,) if has_aux else result


def _track(x):
    """A stand-in for ``x`` to differentiate with respect to. It keeps ``x``'s tangents, and
    ``x``'s graph when ``x`` requires grad, so outer transforms see through it."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected Tensor arguments to differentiate, got {type(x).__name__}")
    if x.requires_grad:
        return forward_ad.strip_level(x, float("inf"))  # an alias, with all tangents
    leaf = x.detach()
    leaf._tangent = dict(x._tangent) if x._tangent else None
    return leaf.requires_grad_(True)


def _reaches_outside(outputs, tracked):
    """Does the graph of ``outputs`` reach a tensor requiring grad other than the ``tracked``
    leaves? Then an outer reverse pass may differentiate our results: they need a graph."""
    if not state.grad_enabled:
        return False
    private = {id(t) for t in tracked if t.grad_fn is None}
    stack = [o.grad_fn for o in outputs if o.grad_fn is not None]
    seen = set(stack)
    while stack:
        for nxt in stack.pop().next:
            if isinstance(nxt, Function):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
            elif nxt is not None and id(nxt) not in private:
                return True
    return any(o.grad_fn is None and o.requires_grad and id(o) not in private
               for o in outputs)


def _drop_graph(t):
    """``t`` without its (private) graph but with its tangents."""
    out = t.detach()
    out._tangent = t._tangent
    return out


def _or_zeros(g, like):
    if g is not None:
        return g
    return zeros_like(like)


def argnums_tuple(argnums, nargs):
    """``argnums`` (int or tuple of ints, negative allowed) as a tuple of positions."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise ValueError("argnums: expected at least one argument position")
    for n in nums:
        if not isinstance(n, int) or not -nargs <= n < nargs:
            raise ValueError(f"argnums: {n} is not a position among {nargs} arguments")
    return tuple(n % nargs for n in nums)


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _split_aux(out, has_aux, name):
    if not has_aux:
        return out, None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ValueError(f"{name}: with has_aux=True, f must return a pair (output, aux)")
    return out[0], out[1]


def _flatten(out, name):
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"{name}: expected a Tensor or a tuple of Tensors, got "
                            f"{type(o).__name__}")
    return outs


def _unflatten(items, like):
    return tuple(items) if isinstance(like, (tuple, list)) else items[0]
