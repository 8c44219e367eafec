"""Jacobians and Hessians: ``jacrev`` (one backward pass per output element), ``jacfwd``
(one forward pass per input element), ``jacobian`` (picks the cheaper) and ``hessian``
(forward-over-reverse).

Reverse mode suits many inputs and few outputs, forward mode the opposite: for
f: R -> R^1000, ``jacfwd`` makes one pass where ``jacrev`` makes a thousand.
The Jacobian of an output of shape ``S`` with respect to an input of shape ``T`` has shape
``S + T``.
"""
from ..creation import zeros
from ..ops.join import stack
from ..tensor import Tensor
from .transforms import _split_aux, argnums_tuple, jvp, vjp


def jacrev(f, argnums=0, has_aux=False):
    """The function computing ``f``'s Jacobian by reverse mode (a tuple for tuple argnums);
    with ``has_aux``, ``f`` returns ``(output, aux)`` and so does the new function.

    >>> import gpugrad as gg
    >>> gg.func.jacrev(lambda x: x * x)(gg.tensor([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    def jac_f(*args):
        nums = argnums_tuple(argnums, len(args))
        found = vjp(_partial(f, args, nums), *[args[i] for i in nums], has_aux=has_aux)
        out, vjp_fn = found[0], found[1]
        jacs = _rows(out, vjp_fn, [args[i] for i in nums])
        jacs = jacs[0] if isinstance(argnums, int) else jacs
        return (jacs, found[2]) if has_aux else jacs
    return jac_f


def jacfwd(f, argnums=0, has_aux=False):
    """The function computing ``f``'s Jacobian by forward mode: one ``jvp`` per input element,
    along each basis direction (a tuple for tuple argnums); with ``has_aux``, ``f`` returns
    ``(output, aux)`` and so does the new function.

    >>> import gpugrad as gg
    >>> gg.func.jacfwd(lambda x: x * x)(gg.tensor([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    def jac_f(*args):
        nums = argnums_tuple(argnums, len(args))
        g = (lambda *a: _split_aux(f(*a), True, "jacfwd")[0]) if has_aux else f
        jacs = tuple(_columns(_partial(g, args, (i,)), args[i]) for i in nums)
        jacs = jacs[0] if isinstance(argnums, int) else jacs
        if has_aux:
            return jacs, _split_aux(f(*args), True, "jacfwd")[1]
        return jacs
    return jac_f


def jacobian(f, x):
    """``f``'s Jacobian at ``x`` (a tensor, or a tuple of tensors for a tuple of Jacobians):
    forward mode when ``f`` has more output than input elements, reverse mode otherwise.

    >>> import gpugrad as gg
    >>> gg.func.jacobian(lambda x: x.sum(), gg.tensor([1.0, 2.0])).tolist()
    [1.0, 1.0]
    """
    xs = (x,) if isinstance(x, Tensor) else tuple(x)
    out, vjp_fn = vjp(f, *xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"jacobian: f must return a Tensor, got {type(out).__name__}")
    if out.numel() > sum(t.numel() for t in xs):
        jacs = jacfwd(f, argnums=tuple(range(len(xs))))(*xs)
    else:
        jacs = _rows(out, vjp_fn, xs)  # reuses the forward pass vjp just made
    return jacs[0] if isinstance(x, Tensor) else jacs


def hessian(f, argnums=0):
    """The function computing the Hessian of ``f`` (a one-element output), as in
    ``torch.func``: forward mode over the reverse-mode gradient, of shape ``x.shape * 2``
    (nested tuples for tuple argnums). ``hessian(f, x)``, with a tensor or a tuple of
    tensors in place of ``argnums``, is the Hessian at ``x`` at once.

    >>> import gpugrad as gg
    >>> gg.func.hessian(lambda x: (x ** 3).sum())(gg.tensor([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    >>> gg.func.hessian(lambda x: (x ** 3).sum(), gg.tensor([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    if isinstance(argnums, Tensor):
        return jacfwd(jacrev(f))(argnums)
    if isinstance(argnums, (tuple, list)) and argnums and isinstance(argnums[0], Tensor):
        nums = tuple(range(len(argnums)))
        return hessian(f, nums)(*argnums)
    if isinstance(argnums, int):
        return jacfwd(jacrev(f, argnums), argnums)

    def hess_f(*args):
        nums = argnums_tuple(argnums, len(args))
        return tuple(tuple(jacfwd(jacrev(f, i), j)(*args) for j in nums) for i in nums)
    return hess_f


def _partial(f, args, nums):
    """``f`` as a function of the arguments at positions ``nums``, the others held fixed."""
    def g(*chosen):
        full = list(args)
        for i, value in zip(nums, chosen):
            full[i] = value
        return f(*full)
    return g


def _basis(like, k):
    """The ``k``-th standard basis tensor of ``like``'s shape, dtype and device."""
    e = zeros(like.numel(), dtype=like.dtype, device=like.device)
    e[k] = 1
    return e.reshape(like.shape)


def _rows(out, vjp_fn, xs):
    """The Jacobians w.r.t. ``xs``, one ``vjp`` (backward pass) per output element."""
    if not isinstance(out, Tensor):
        raise TypeError(f"jacrev: f must return a Tensor, got {type(out).__name__}")
    rows = [vjp_fn(_basis(out, k)) for k in range(out.numel())]
    return tuple(_assemble([r[i] for r in rows], out.shape, x, dim=0) for i, x in enumerate(xs))


def _columns(g, x):
    """The Jacobian of ``g`` at ``x``, one ``jvp`` (forward pass) per element of ``x``."""
    if x.numel() == 0:
        return _assemble([], _as_out(g(x)).shape, x, dim=1)
    columns = [_as_out(jvp(g, (x,), (_basis(x, j),))[1]) for j in range(x.numel())]
    return _assemble(columns, columns[0].shape, x, dim=1)


def _as_out(t):
    if not isinstance(t, Tensor):
        raise TypeError(f"jacfwd: f must return a Tensor, got {type(t).__name__}")
    return t


def _assemble(pieces, out_shape, x, dim):
    """Stack flattened rows (dim 0) or columns (dim 1) into a Jacobian of shape
    ``out_shape + x.shape``; stacking is differentiable, so Jacobians nest."""
    if not pieces:
        return zeros(tuple(out_shape) + x.shape, dtype=x.dtype, device=x.device)
    flat = stack([p.reshape(-1) for p in pieces], dim)
    return flat.reshape(tuple(out_shape) + x.shape)
