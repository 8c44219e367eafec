"""Grad mode: whether ops record the graph. Thread-local, like PyTorch's, so one
data-parallel worker thread entering ``no_grad`` does not switch recording off for another.
"""
import functools
import threading


class _State(threading.local):
    grad_enabled = True
    anomaly = False
    # Forward-mode AD: ids of the active dual levels, outermost first (see gpugrad.func).
    # An empty tuple is falsy, so ``Function.apply`` tests it with one attribute read.
    forward_levels = ()


state = _State()


class _GradMode:
    """Base for context managers that set grad mode; also usable as decorators."""

    enabled = True

    def __enter__(self):
        self._prev = state.grad_enabled
        state.grad_enabled = self.enabled

    def __exit__(self, *exc):
        state.grad_enabled = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Disable graph recording.

    >>> import gpugrad as gg
    >>> x = gg.ones(2, requires_grad=True)
    >>> with gg.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    enabled = False


class enable_grad(_GradMode):
    """Enable graph recording (inside a ``no_grad`` block, say)."""

    enabled = True


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode`` for a block."""

    def __init__(self, mode):
        self.enabled = bool(mode)


def is_grad_enabled():
    """True when ops record the graph."""
    return state.grad_enabled
