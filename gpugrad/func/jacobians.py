"""Jacobians and Hessians: ``jacrev`` (reverse mode), ``jacfwd`` (forward mode), ``jacobian``
(picks the cheaper) and ``hessian`` (forward-over-reverse), all built on ``vmap``.

``jacrev`` maps a ``vjp`` over the standard basis of the output, ``jacfwd`` a ``jvp`` over
the standard basis of the input: each is one batched pass, not one pass per basis vector.
Reverse mode suits many inputs and few outputs, forward mode the opposite: for
f: R -> R^1000, ``jacfwd`` batches one basis vector where ``jacrev`` batches a thousand.
The Jacobian of an output of shape ``S`` with respect to an input of shape ``T`` has shape
``S + T``.
"""
from ..autograd.grad_mode import no_grad
from ..creation import eye, zeros
from ..ops.join import stack
from ..tensor import Tensor
from .transforms import _split_aux, argnums_tuple, jvp, vjp
from .batching_rules import RandomnessError
from .vmap import vmap


def jacrev(f, argnums=0, has_aux=False, *, chunk_size=None):
    """The function computing ``f``'s Jacobian by reverse mode (a tuple for tuple argnums):
    ``vmap`` of ``vjp`` over the rows of the identity, ``chunk_size`` rows at a time if
    given. With ``has_aux``, ``f`` returns ``(output, aux)`` and so does the new function.

    >>> import gpugrad as gg
    >>> gg.func.jacrev(lambda x: x * x)(gg.tensor([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    def jac_f(*args):
        nums = argnums_tuple(argnums, len(args))
        chosen = [args[i] for i in nums]
        g = _partial(f, args, nums)
        if has_aux:  # the aux of one (differentiable) forward pass, as torch.func gives
            out, _, aux = vjp(g, *chosen, has_aux=True)
            g = _without_aux(g)
        else:
            with no_grad():  # only the output's shape is needed from this pass
                out = g(*chosen)
        out = _as_out(out, "jacrev")

        jacs = _rows(g, chosen, out, chunk_size)
        jacs = jacs[0] if isinstance(argnums, int) else jacs
        return (jacs, aux) if has_aux else jacs
    return jac_f


def jacfwd(f, argnums=0, has_aux=False, *, randomness="error"):
    """The function computing ``f``'s Jacobian by forward mode: ``vmap`` of ``jvp`` over
    the input's standard basis (a tuple for tuple argnums); with ``has_aux``, ``f`` returns
    ``(output, aux)`` and so does the new function. ``randomness`` is ``vmap``'s.

    >>> import gpugrad as gg
    >>> gg.func.jacfwd(lambda x: x * x)(gg.tensor([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    def jac_f(*args):
        nums = argnums_tuple(argnums, len(args))
        g = _without_aux(f) if has_aux else f
        jacs = tuple(_columns(_partial(g, args, (i,)), args[i], randomness) for i in nums)
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
    with no_grad():
        out = f(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"jacobian: f must return a Tensor, got {type(out).__name__}")
    if out.numel() > sum(t.numel() for t in xs):
        jacs = jacfwd(f, argnums=tuple(range(len(xs))))(*xs)
    else:
        jacs = _rows(f, xs, out, None)
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


def _rows(g, xs, out, chunk_size):
    """The Jacobians of ``g`` (whose output at ``xs`` looks like ``out``) w.r.t. ``xs``:
    ``vmap`` of ``vjp`` over the rows of the identity, ``chunk_size`` rows at a time."""
    if out.numel() == 0 or any(x.numel() == 0 for x in xs):
        return tuple(_zeros(out.shape, x) for x in xs)

    def row(basis_vector):
        return vjp(g, *xs)[1](basis_vector)
    basis = eye(out.numel(), dtype=out.dtype, device=out.device).reshape((-1,) + out.shape)
    try:
        found = vmap(row, chunk_size=chunk_size)(basis)
    except RandomnessError:
        found = _rows_by_backward(g, xs, basis)
    return tuple(j.reshape(out.shape + x.shape) for j, x in zip(found, xs))


def _rows_by_backward(g, xs, basis):
    """torch.func's jacrev order where the forward cannot run batched (it draws random
    numbers, as dropout does): one forward pass, then one backward pass per row."""
    pullback = vjp(g, *xs)[1]
    rows = [pullback(b) for b in basis]
    return tuple(stack([r[k] for r in rows]) for k in range(len(xs)))


def _without_aux(f):
    return lambda *a: _split_aux(f(*a), True, "jacobian")[0]


def _columns(g, x, randomness):
    """The Jacobian of ``g`` at ``x``: ``vmap`` of ``jvp`` over ``x``'s standard basis."""
    if x.numel() == 0:
        return _zeros(_as_out(g(x), "jacfwd").shape, x)

    def column(tangent):
        return _as_out(jvp(g, (x,), (tangent,))[1], "jacfwd")
    basis = eye(x.numel(), dtype=x.dtype, device=x.device).reshape((-1,) + x.shape)
    jac = vmap(column, out_dims=-1, randomness=randomness)(basis)
    return jac.reshape(jac.shape[:-1] + x.shape)


def _as_out(t, name):
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: f must return a Tensor, got {type(t).__name__}")
    return t


def _zeros(out_shape, x):
    return zeros(tuple(out_shape) + x.shape, dtype=x.dtype, device=x.device)
