"""How code that works on raw arrays reports to a ``gg.compile`` trace (see ``tracer``):
``record`` for ops that skip ``Function`` (comparisons, ``argmax``), ``write`` for in-place
writes, ``traced_call`` for calls replayed whole (an optimizer's ``step``), ``opaque`` for
work whose inner ops an enclosing entry replays. Outside a trace each costs one check."""
import functools
from collections.abc import Iterator

from .grad_mode import state


class _Scratch:
    """The context of an op computed on raw arrays (it keeps nothing)."""


_ARRAY_OPS = {}


def _array_op(fn):
    """A Function-like class whose ``forward`` is ``fn(xp, *arrays, **params)``: one per
    ``fn``, so two traces compare equal."""
    cls = _ARRAY_OPS.get(fn)
    if cls is None:
        def forward(ctx, xp, *arrays, **params):
            return fn(xp, *arrays, **params)
        cls = type(fn.__name__.strip("_").capitalize(), (_Scratch,),
                   {"forward": staticmethod(forward)})
        _ARRAY_OPS[fn] = cls
    return cls


def record(fn, inputs, result, **params):
    """Report an op that skips ``Function`` (no gradient: comparisons, argmax) to a
    ``gg.compile`` trace: ``result._data == fn(xp, *[t._data for t in inputs], **params)``.

    >>> import numpy as np
    >>> def twice(xp, a):
    ...     return a * 2
    >>> x = gg.tensor([1.0])
    >>> record(twice, (x,), x._like(twice(np, x._data)))  # outside a trace: nothing
    """
    tracer = state.tracer
    if tracer is not None and not tracer.opaque:
        tracer.op(_array_op(fn), _Scratch(), inputs, [t._data for t in inputs], params,
                  result)


def write(fn, target, *inputs, **params):
    """The in-place write ``fn(xp, target._data, *arrays of inputs, **params)`` (which
    returns the target array), run on the target's device and reported to a
    ``gg.compile`` trace; the caller then bumps ``target``'s version.

    >>> def fill(xp, dst, *, value):
    ...     dst.fill(value)
    ...     return dst
    >>> x = gg.zeros(2)
    >>> write(fill, x, value=1.0)
    >>> x.tolist()
    [1.0, 1.0]
    """
    tracer = state.tracer
    if tracer is not None and not tracer.opaque:
        tracer.slot(target._data, target, "the target of an in-place write")  # as it was
    with target._backend.device_context(target._device):  # CuPy writes on the current one
        fn(target._backend.xp, target._data, *[t._data for t in inputs], **params)
    if tracer is not None and not tracer.opaque:
        record(fn, (target,) + inputs, target, **params)
        tracer.covered.add(id(target._data))


class opaque:
    """Inside: ops are not recorded (the enclosing entry replays them)."""

    def __init__(self, tracer):
        self.tracer = tracer

    def __enter__(self):
        self.tracer.opaque += 1

    def __exit__(self, *exc):
        self.tracer.opaque -= 1


def traced_call(name):
    """Decorator for functions and methods with effects the trace cannot see (an
    optimizer's update on raw arrays, gradient clipping's host-side norm): while tracing,
    the call is one ``Call`` entry and its inner ops are not recorded; on replay it runs
    again as it is, and a tensor it returns is the replay's.

    >>> @traced_call("double")
    ... def double(x):
    ...     return x * 2
    >>> double(gg.ones(1)).item()
    2.0
    """
    def wrap(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            tracer = state.tracer
            if tracer is None or tracer.opaque:
                return fn(*args, **kwargs)
            # A generator (model.parameters()) would be empty on replay: keep its items.
            args = tuple(list(a) if isinstance(a, Iterator) else a for a in args)
            method = args and fn.__qualname__ != fn.__name__
            label = f"{type(args[0]).__name__}.{name}" if method else name
            entry = tracer.call(fn, args, kwargs, label)
            with opaque(tracer):
                result = fn(*args, **kwargs)
            tracer.call_done(entry, result)
            return result
        return wrapper
    return wrap
