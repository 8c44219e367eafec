"""Shape ops: reshape/view, permute/transpose, expand, squeeze/unsqueeze, casts, copies.

Ops marked ``is_view`` return arrays that share memory with their input, so the output
shares the input's version counter: an in-place change through either is seen by both.
"""
from ..autograd.function import Function, push_tangents
from ..autograd.grad_mode import state
from ..backends.device import CPU, backend_for
from ..tensor import Tensor
from ._util import norm_dim
from .errors import ShapeError, public_op


class Reshape(Function):
    @staticmethod
    def forward(ctx, xp, a, shape):
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.input_shapes[0])

    @staticmethod
    def jvp(ctx, t):
        return t.reshape(ctx.output.shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, xp, a, dims):
        ctx.dims = dims
        return xp.transpose(a, dims)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return g.permute(tuple(inverse))

    @staticmethod
    def jvp(ctx, t):
        return t.permute(ctx.dims)


class Expand(Function):
    @staticmethod
    def forward(ctx, xp, a, shape):
        return xp.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return g  # the engine sums it back to the input's shape

    @staticmethod
    def jvp(ctx, t):
        return t.expand(ctx.output.shape)


class Cast(Function):
    @staticmethod
    def forward(ctx, xp, a, dtype):
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.to(dtype=ctx.in_dtype)

    @staticmethod
    def jvp(ctx, t):
        dtype = ctx.output.dtype
        return t.to(dtype=dtype) if dtype.kind == "f" else None  # integers have no tangent


class Clone(Function):
    @staticmethod
    def forward(ctx, xp, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def jvp(ctx, t):
        return t.clone()


class ToDevice(Function):
    """A copy to another device; its gradient is copied back."""

    @staticmethod
    def backward(ctx, g):
        return g.to(ctx.source)

    @staticmethod
    def jvp(ctx, t):
        return t.to(ctx.output.device)


def _share_version(out, a):
    out._version = a._version_counter()
    if out._tangent is not None:
        mark_shared_tangents(out, a)
    return out


def mark_shared_tangents(view, base):
    """Forward mode: an in-place op on either of a view and its base would leave the other's
    tangent stale, so in-place ops refuse tensors marked here (see ops/inplace.py)."""
    view._shares_memory = base._shares_memory = True


@public_op
def reshape(a, shape):
    """Same data, new ``shape`` (one entry may be -1).

    >>> import gpugrad as gg
    >>> gg.arange(6).reshape(2, 3).shape
    (2, 3)
    """
    shape = tuple(shape)
    if a.shape == shape:
        return a
    if any(n < -1 for n in shape) or shape.count(-1) > 1:
        raise ShapeError(f"reshape: invalid shape {list(shape)} (sizes are >= 0, and at most "
                         f"one is -1)")
    return _share_version(Reshape.apply(a, shape=shape), a)


@public_op
def view(a, shape):
    """``reshape`` that never copies: the result shares ``a``'s memory, so in-place writes
    through either reach both. Where ``a``'s strides do not allow the new shape (a
    transposed tensor flattened, say) it raises as PyTorch does; use ``reshape`` there.

    >>> x = gg.arange(6).reshape(2, 3)
    >>> x.view(3, 2).shape
    (3, 2)
    >>> x.transpose(0, 1).view(6)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gpugrad.ops.errors.ShapeError: view: the size and strides of the input ... instead
    """
    shape = tuple(shape)
    if a.shape == shape:
        return a
    out = reshape(a, shape)
    itemsize = a._data.itemsize
    strides = tuple(st // itemsize for st in a._data.strides)
    if not _viewable(a.shape, strides, out.shape):
        raise ShapeError(f"view: the size and strides of the input (shape {a.shape}) are not "
                         f"compatible with shape {out.shape}: at least one dimension spans two "
                         f"memory chunks; use .reshape(...) instead")
    return out


def _viewable(shape, strides, new_shape):
    """Can ``new_shape`` index the memory of an array of ``shape`` and ``strides`` (in
    elements) without a copy? Size-1 dims do not matter; the rest split into the shortest
    runs of old and new dims with equal products, and each run of old dims must be one
    contiguous chunk (every dim's stride the next one's stride times its size)."""
    if 0 in shape:
        return True
    old = [(n, st) for n, st in zip(shape, strides) if n != 1]
    new = [n for n in new_shape if n != 1]
    i = k = 0
    while i < len(old):
        start = i
        have, want = old[i][0], new[k]
        i, k = i + 1, k + 1
        while have != want:
            if have < want:
                have, i = have * old[i][0], i + 1
            else:
                want, k = want * new[k], k + 1
        for m in range(start, i - 1):
            if old[m][1] != old[m + 1][1] * old[m + 1][0]:
                return False
    return True


@public_op
def flatten(a, start_dim=0, end_dim=-1):
    """Merge dimensions ``start_dim`` .. ``end_dim`` into one (a 0-d tensor gives shape (1,)).

    >>> gg.flatten(gg.zeros(2, 3, 4), 1).shape
    (2, 12)
    >>> gg.flatten(gg.tensor(5.0)).shape
    (1,)
    """
    if a.ndim == 0:
        return reshape(a, (1,))
    start, end = norm_dim(start_dim, a.ndim), norm_dim(end_dim, a.ndim)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = a.shape[:start] + (-1,) + a.shape[end + 1:]
    return reshape(a, shape)


@public_op
def permute(a, dims):
    """Reorder the dimensions by ``dims``, a permutation of ``range(a.ndim)``.

    >>> gg.permute(gg.zeros(2, 3, 4), (2, 0, 1)).shape
    (4, 2, 3)
    """
    dims = tuple(d % a.ndim for d in dims) if a.ndim else ()
    if sorted(dims) != list(range(a.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of a {a.ndim}-d shape")
    return _share_version(Permute.apply(a, dims=dims), a)


@public_op
def transpose(a, dim0, dim1):
    """Swap dimensions ``dim0`` and ``dim1``.

    >>> gg.transpose(gg.tensor([[1, 2, 3]]), 0, 1)
    tensor([[1],
            [2],
            [3]])
    """
    dims = list(range(a.ndim))
    d0, d1 = norm_dim(dim0, a.ndim), norm_dim(dim1, a.ndim)
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return permute(a, tuple(dims))


@public_op
def unsqueeze(a, dim):
    """Insert a dimension of size 1 at ``dim`` (negative counts from the end of the result).

    >>> gg.unsqueeze(gg.zeros(2, 3), 1).shape
    (2, 1, 3)
    >>> gg.unsqueeze(gg.zeros(2, 3), -1).shape
    (2, 3, 1)
    """
    dim = norm_dim(dim, a.ndim + 1)
    return reshape(a, a.shape[:dim] + (1,) + a.shape[dim:])


@public_op
def squeeze(a, dim=None):
    """Remove the dimensions of size 1: all, or those of ``dim`` (an int or a tuple).

    >>> gg.squeeze(gg.zeros(1, 2, 1)).shape
    (2,)
    >>> gg.squeeze(gg.zeros(1, 2, 1), dim=2).shape
    (1, 2)
    """
    if dim is None:
        shape = tuple(s for s in a.shape if s != 1)
    else:
        dims = {norm_dim(d, a.ndim) for d in (dim if isinstance(dim, tuple) else (dim,))}
        shape = tuple(s for i, s in enumerate(a.shape) if not (i in dims and s == 1))
    return reshape(a, shape)


@public_op
def expand(a, shape):
    """Broadcast to ``shape`` without copying; -1 keeps a dimension's size.

    >>> gg.expand(gg.tensor([1, 2]), (3, 2))
    tensor([[1, 2],
            [1, 2],
            [1, 2]])
    >>> gg.expand(gg.zeros(3, 1), (-1, 4)).shape
    (3, 4)
    """
    lead = len(shape) - a.ndim
    if lead < 0 or -1 in shape[:lead]:
        raise ValueError(f"expand: cannot expand shape {a.shape} to {tuple(shape)} "
                         "(-1 is allowed only for existing dimensions)")
    shape = tuple(a.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    if shape == a.shape:
        return a
    return _share_version(Expand.apply(a, shape=shape), a)


def cast(a, dtype):
    if dtype.kind != "f":
        # An integer or bool result has no gradient: PyTorch's x.long() does not require it.
        return Cast.apply(a.detach(), dtype=dtype)
    out = Cast.apply(a, dtype=dtype)
    if out.grad_fn is not None:
        out.grad_fn.in_dtype = a.dtype
    return out


@public_op
def clone(a):
    """A copy of ``a`` that stays in the graph: the gradient flows back to ``a``.

    >>> a = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> b = gg.clone(a)
    >>> (b * 3).sum().backward()
    >>> a.grad
    tensor([3., 3.])
    """
    return Clone.apply(a)


def to_device(a, device):
    """Copy ``a`` to ``device``; explicit, as the only way tensors change device."""
    if a._device is CPU:
        data = backend_for(device).from_host(a._data, device)
    elif device is CPU:
        data = a._backend.to_host(a._data)
    else:
        data = a._backend.to_device(a._data, device)
    out = Tensor._wrap(data, backend_for(device), device)
    record = state.grad_enabled and a.requires_grad
    forward = state.forward_levels and a._tangent is not None
    if record or forward:
        node = ToDevice.__new__(ToDevice)
        node.source = a._device
        if record:
            node._record((a,), (a._data,), out)
        if forward:
            push_tangents(node, (a,), out)
    return out
