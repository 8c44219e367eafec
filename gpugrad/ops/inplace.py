"""In-place ops. Each bumps the tensor's version counter, which is how backward notices a
saved tensor that was changed after it was saved."""
from ..autograd.function import has_tangent
from ..autograd.grad_mode import state
from ..autograd.recording import write
from ..tensor import Tensor
from .errors import public_op


def _check(t, name):
    if state.grad_enabled and t.requires_grad and t.grad_fn is None:
        raise RuntimeError(f"{name}: a leaf tensor that requires grad is being used in an "
                           "in-place operation; wrap the update in gg.no_grad()")


def _write(t, out, name):
    if out.shape != t.shape:
        raise ValueError(f"{name}: result of shape {out.shape} does not fit in-place into "
                         f"a tensor of shape {t.shape}")
    forward = state.forward_levels and (has_tangent(t) or has_tangent(out))
    if forward:
        _check_forward(t, name)
    try:
        write(_copy_into, t, out, casting="same_kind")
    except TypeError:
        raise TypeError(f"{name}: result type {out.dtype} can't be cast to the in-place "
                        f"tensor's type {t.dtype}") from None
    t._bump_version()
    if out.grad_fn is not None:
        # The tensor now holds the result: it takes over the result's history.
        t.grad_fn = out.grad_fn
        t.requires_grad = True
    if forward:
        # The tensor now holds the result, so it takes the result's tangents too; a copy of
        # the dict, as ``out`` may be ``src`` of copy_, which keeps its own.
        t._tangent = dict(out._tangent) if out._tangent else None


def _check_forward(t, name):
    if getattr(t, "_shares_memory", False):
        raise RuntimeError(f"{name}: in-place update of a view (or of a tensor with views) "
                           "under forward-mode AD would leave the other's tangent stale; use "
                           "the out-of-place op")


def apply_(t, fn, *args, **kwargs):
    """Compute ``fn(t, *args, **kwargs)`` and store the result in ``t``."""
    name = fn.__name__ + "_"
    _check(t, name)
    src = t
    if state.grad_enabled and (t.requires_grad or any(
            isinstance(a, Tensor) and a.requires_grad for a in args + tuple(kwargs.values()))):
        # The op may save its input for backward, and t is about to be overwritten:
        # it computes from a snapshot holding t's current values and history.
        with t._backend.device_context(t._device):
            src = t._like(t._data.copy())
        src.grad_fn, src.requires_grad = t.grad_fn, t.requires_grad
        src._tangent = t._tangent
    _write(t, fn(src, *args, **kwargs), name)
    return t


@public_op
def fill_(t, value):
    _check(t, "fill_")
    if t.requires_grad and state.grad_enabled:
        return apply_(t, lambda x, v: x * 0 + v, value)
    if state.forward_levels and has_tangent(t):
        _check_forward(t, "fill_")
        t._tangent = None  # a constant now
    write(_fill, t, value=value)
    t._bump_version()
    return t


@public_op
def copy_(t, src):
    """Copy ``src``'s values (any device or dtype, broadcastable) into ``t``."""
    _check(t, "copy_")
    if not isinstance(src, Tensor):
        with t._backend.device_context(t._device):
            src = t._like(t._backend.xp.asarray(src))
    src = src.to(t._device)
    tangents = state.forward_levels and (has_tangent(t) or has_tangent(src))
    if tangents or (src.requires_grad and state.grad_enabled):
        _write(t, src.expand(t.shape).to(dtype=t.dtype), "copy_")
        return t
    try:
        write(_copy_into, t, src, casting="unsafe")
    except ValueError as err:
        raise ValueError(f"copy_: {err} (shapes {src.shape} into {t.shape})") from None
    t._bump_version()
    return t


# The writes on raw arrays, shared by eager mode and gg.compile's replay (``write``).
def _copy_into(xp, dst, src, *, casting):
    xp.copyto(dst, src, casting=casting)
    return dst


def _fill(xp, dst, *, value):
    dst.fill(value)
    return dst
