"""einsum: sums of products of tensors named by subscripts, with PyTorch's equation rules.

The equation is first made fully explicit: the ellipsis becomes letters of its own, an
implicit output is spelled out, and operands whose size-1 dims broadcast against a larger
size are expanded (a differentiable view). ``Einsum`` then only sees consistent sizes. Its
gradient for operand k is one more einsum of the output gradient and the other operands
that produces k's subscripts: a letter k repeats (a diagonal) is spelled with a fresh
letter tied to the first by an identity matrix, and a letter summed only inside k comes
from a vector of ones. The forward uses the backend's einsum with contraction-order
optimisation, which routes pairs of operands to tensordot (BLAS) where that pays.
"""
import string

from ..autograd.function import Function
from ..tensor import Tensor
from ._util import add_tangents, bfloat16_in_float32, has_bfloat16
from .errors import DTypeError, ShapeError, not_a_tensor, public_op

_LETTERS = string.ascii_letters


class Einsum(Function):
    @staticmethod
    def forward(ctx, xp, *arrays, inputs, output):
        ctx.subs, ctx.out = inputs, output
        ctx.saves_inputs = tuple(range(len(arrays)))
        out = xp.einsum(",".join(inputs) + "->" + output, *arrays, optimize=len(arrays) > 1)
        # One operand may come back as a view of it ('ij->ji'); results never alias inputs.
        return out.copy() if len(arrays) == 1 else out

    @staticmethod
    def backward(ctx, g):
        operands = ctx.saved_tensors
        return tuple(_adjoint(k, g, operands, ctx.subs, ctx.out) if need else None
                     for k, need in enumerate(ctx.needs_input_grad))

    @staticmethod
    def jvp(ctx, *tangents):
        terms = []
        for k, t in enumerate(tangents):
            if t is not None:
                args = list(ctx.inputs)
                args[k] = t
                terms.append(Einsum.apply(*args, inputs=ctx.subs, output=ctx.out))
        return add_tangents(*terms)


def _adjoint(k, g, operands, subs, out):
    """The gradient of operand ``k``: an einsum of ``g`` and the other operands."""
    xp, dtype = g._backend.xp, g.dtype
    sizes = {c: n for s, t in zip(subs, operands) for c, n in zip(s, t.shape)}
    others = [(s, t) for j, (s, t) in enumerate(zip(subs, operands)) if j != k]
    present = set(out).union(*[s for s, _ in others])
    free = iter(c for c in _LETTERS if c not in sizes)
    target, extras = [], []
    for c in subs[k]:
        if c in target:
            fresh = next(free)  # a repeated letter: a diagonal, tied to c by eye(n)
            extras.append((c + fresh, g._like(xp.eye(sizes[c], dtype=dtype))))
            target.append(fresh)
            continue
        if c not in present:  # summed inside operand k only: the gradient is constant in c
            extras.append((c, g._like(xp.ones(sizes[c], dtype=dtype))))
            present.add(c)
        target.append(c)
    terms = [(out, g)] + others + extras
    return Einsum.apply(*[t for _, t in terms], inputs=tuple(s for s, _ in terms),
                        output="".join(target))


def _parse(equation, operands):
    """(subscripts per operand, output subscripts, size of each letter), all explicit."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        few = "fewer" if len(operands) < len(terms) else "more"
        raise ShapeError(f"einsum(): {few} operands were provided than specified in the "
                         f"equation")
    for i, c in enumerate(eq):
        if c not in _LETTERS and c not in ".,->":
            raise ShapeError(f"einsum(): invalid subscript given at index {i} in the equation "
                             f"string, subscripts must be in [a-zA-Z]")
    for part in terms + ([out] if arrow else []):
        if part.replace("...", "").count(".") or part.count("...") > 1:
            raise ShapeError(f"einsum(): found a '.' that is not part of one ellipsis in "
                             f"'{part}'")
    widths = []
    for term, t in zip(terms, operands):
        named = len(term.replace("...", ""))
        width = t.ndim - named
        if "..." not in term and width != 0 or width < 0:
            raise ShapeError(f"einsum(): the number of subscripts in the equation ({named}) "
                             f"does not match the number of dimensions ({t.ndim}) of operand "
                             f"{len(widths)}")
        widths.append(width)
    used = set(eq)
    ellipsis = [c for c in _LETTERS if c not in used][:max(widths, default=0)]
    if len(ellipsis) < max(widths, default=0):
        raise ShapeError("einsum(): too many dimensions for the 52 subscript letters")
    subs = [term.replace("...", "".join(ellipsis[len(ellipsis) - w:]))
            for term, w in zip(terms, widths)]
    if arrow:
        out = out.replace("...", "".join(ellipsis))
    else:
        once = sorted(c for c in set(lhs) if c in _LETTERS and lhs.count(c) == 1)
        out = "".join(ellipsis) + "".join(once)
    sizes = _sizes(subs, operands)
    for c in out:
        if c not in sizes:
            raise ShapeError(f"einsum(): output subscript {c} does not appear in the equation "
                             f"for any input operand")
        if out.count(c) > 1:
            raise ShapeError(f"einsum(): output subscript {c} appears more than once in the "
                             f"output")
    return subs, out, sizes


def _sizes(subs, operands):
    """Each letter's size; size-1 dims broadcast, any other mismatch is an error."""
    sizes = {}
    for i, (s, t) in enumerate(zip(subs, operands)):
        own = {}
        for c, n in zip(s, t.shape):
            if own.setdefault(c, n) != n:
                raise ShapeError(f"einsum(): subscript {c} is repeated for operand {i} but the "
                                 f"sizes don't match, {n} != {own[c]}")
            known = sizes.get(c, 1)
            if n != 1 and known != 1 and n != known:
                raise ShapeError(f"einsum(): operands do not broadcast with remapped shapes: "
                                 f"subscript {c} has size {n} for operand {i} but {known} "
                                 f"before")
            sizes[c] = n if n != 1 else known
    return sizes


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _from_sublists(args):
    """PyTorch's sublist format, ``einsum(op1, [0, 1], op2, [1, 2], [0, 2])`` (ints below 52
    name dims, ``...`` is Ellipsis; a final list without operand is the output), as
    ``(equation, operands)``."""
    operands, subs = list(args[0::2]), list(args[1::2])
    output = None
    if len(operands) == len(subs) + 1 and not isinstance(operands[-1], Tensor):
        output = operands.pop()
    if len(subs) != len(operands):
        raise ValueError("einsum(): the sublist format takes pairs of an operand and its "
                         "sublist, and an optional output sublist")

    def word(sublist):
        try:
            return "".join("..." if d is Ellipsis else _LETTERS[d] for d in sublist)
        except (TypeError, IndexError):
            raise ValueError(f"einsum(): sublist entries must be ints in [0, 52) or Ellipsis, "
                             f"got {sublist!r}") from None
    equation = ",".join(word(s) for s in subs)
    if output is not None:
        equation += "->" + word(output)
    return equation, tuple(operands)


@public_op
def einsum(equation, *operands):
    """Sum of products of ``operands`` as named by ``equation`` (NumPy's and PyTorch's
    notation): ``'ij,jk->ik'`` is a matrix product, ``'ii->i'`` a diagonal, ``'...ij->...ji'``
    a batched transpose; without ``->`` the output is the letters used once, sorted.
    Operands may also come as one list. Differentiable in every operand.

    >>> a, b = gg.tensor([[1.0, 2.0], [3.0, 4.0]]), gg.tensor([1.0, 10.0])
    >>> gg.einsum("ij,j->i", a, b)
    tensor([21., 43.])
    >>> gg.einsum("ii", a)
    tensor(5.)
    >>> gg.einsum("...j,j", [a, b])
    tensor([21., 43.])
    >>> gg.einsum(a, [0, 1], b, [1], [0])  # the sublist format: ints name the dims
    tensor([21., 43.])
    """
    if isinstance(equation, Tensor):
        equation, operands = _from_sublists((equation,) + operands)
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' must be a string, not "
                        f"{type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise not_a_tensor("einsum", t, f"operands[{i}]")
    if not operands:
        raise ShapeError("einsum(): must provide at least one operand")
    if has_bfloat16(*operands):
        return bfloat16_in_float32(einsum, equation, *operands)
    if len({t.dtype for t in operands}) > 1 or operands[0].dtype.kind == "b":
        raise DTypeError(f"einsum(): expected operands of one numeric dtype, got "
                         f"{[str(t.dtype) for t in operands]}")
    subs, out, sizes = _parse(equation, operands)
    operands = [t.expand(tuple(sizes[c] for c in s)) if t.ndim else t
                for s, t in zip(subs, operands)]
    return Einsum.apply(*operands, inputs=tuple(subs), output=out)
