"""Grad mode: whether ops record the graph. Thread-local, like PyTorch's, so one
data-parallel worker thread entering ``no_grad`` does not switch recording off for another.
"""
import functools
import threading


class _Flags:
    """The two switches every op reads, in a plain object: reading an attribute of a
    ``threading.local`` costs several times more, so ``Function.apply`` reads ``state.flags``
    once and then these."""

    def __init__(self):
        self.grad_enabled = True
        self.extras = False


class _State(threading.local):
    """Per-thread autograd switches. ``extras`` is True while anomaly mode, forward-mode
    AD or a ``gg.compile`` trace is on, so ``Function.apply`` pays one attribute read for
    all of them when none is."""

    _anomaly = False
    _forward_levels = ()
    _tracer = None

    def __init__(self):  # run once in every thread that uses ``state``
        self.flags = _Flags()

    @property
    def grad_enabled(self):
        return self.flags.grad_enabled

    @grad_enabled.setter
    def grad_enabled(self, value):
        self.flags.grad_enabled = value

    @property
    def extras(self):
        return self.flags.extras

    @extras.setter
    def extras(self, value):
        self.flags.extras = value

    def _update_extras(self):
        self.extras = bool(self._anomaly or self._forward_levels or self._tracer is not None)

    @property
    def anomaly(self):
        return self._anomaly

    @anomaly.setter
    def anomaly(self, value):
        self._anomaly = value
        self._update_extras()

    @property
    def forward_levels(self):
        """Forward-mode AD: ids of the active dual levels, outermost first (gpugrad.func)."""
        return self._forward_levels

    @forward_levels.setter
    def forward_levels(self, levels):
        self._forward_levels = levels
        self._update_extras()

    @property
    def tracer(self):
        """The ``gg.compile`` tracer recording this thread's ops, or None."""
        return self._tracer

    @tracer.setter
    def tracer(self, tracer):
        self._tracer = tracer
        self._update_extras()


state = _State()


class _GradMode:
    """Base for context managers that set grad mode; also usable as decorators."""

    enabled = True

    def __enter__(self):
        flags = state.flags
        self._prev = flags.grad_enabled
        flags.grad_enabled = self.enabled

    def __exit__(self, *exc):
        state.flags.grad_enabled = self._prev

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
    """Enable graph recording (inside a ``no_grad`` block, say).

    >>> x = gg.ones(2, requires_grad=True)
    >>> with gg.no_grad():
    ...     with gg.enable_grad():
    ...         y = x * 2
    >>> y.requires_grad
    True
    """

    enabled = True


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode`` for a block.

    >>> x = gg.ones(2, requires_grad=True)
    >>> with gg.set_grad_enabled(False):
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __init__(self, mode):
        self.enabled = bool(mode)


class inference_mode(_GradMode):
    """Disable graph recording for a block or a function, as ``no_grad`` does (PyTorch's
    faster variant; gpugrad has no separate inference tensors). ``inference_mode(False)``
    turns recording on. Works as ``with gg.inference_mode():``, ``@gg.inference_mode()`` and
    ``@gg.inference_mode``.

    >>> x = gg.ones(2, requires_grad=True)
    >>> with gg.inference_mode():
    ...     y = x * 2
    >>> y.requires_grad
    False
    >>> @gg.inference_mode
    ... def double(t):
    ...     return t * 2
    >>> double(x).requires_grad
    False
    """

    def __new__(cls, mode=True):
        if callable(mode):  # used as a bare decorator: inference_mode is given the function
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self.enabled = not mode

    def __call__(self, fn):
        mode = not self.enabled

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)
        return wrapper


def is_grad_enabled():
    """True when ops record the graph.

    >>> gg.is_grad_enabled()
    True
    >>> with gg.no_grad():
    ...     print(gg.is_grad_enabled())
    False
    """
    return state.grad_enabled
