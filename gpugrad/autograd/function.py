"""``Function``: one differentiable op. Its instance is both the op's context and the
graph node that backward visits.

An op subclasses ``Function`` with two static methods:

* ``forward(ctx, xp, *arrays, **params)`` computes on raw arrays with the array module
  ``xp`` the dispatch layer picked (NumPy or CuPy) and returns one array;
* ``backward(ctx, grad)`` gets the output's gradient as a Tensor and returns one Tensor (or
  None) per input, written with Tensor ops, so the same formula also builds the graph of the
  gradient when ``create_graph=True``. The engine sums each gradient back to its input's
  shape, so ops that broadcast need not.
* ``jvp(ctx, *tangents)`` (forward mode, ``gg.func.jvp``) gets one tangent Tensor (or None
  for zero) per input and returns the output's tangent, written with Tensor ops; ``ctx``
  holds what forward set plus ``ctx.inputs`` and ``ctx.output``.

What backward needs is declared: ``saves_inputs = (0, 1)`` keeps those inputs,
``saves_output = True`` keeps the result; ``ctx.saved_tensors`` returns them in that order
after checking that none was modified in place since.
"""
from operator import attrgetter

from . import anomaly
from .grad_mode import state

_shape_of = attrgetter("shape")
_RETAIN_MSG = ("trying to backward through the graph a second time (or to read saved tensors "
               "after they were freed); pass retain_graph=True to the first backward call")


class Function:
    """Base class of every op; see the module docstring.

    >>> class Cube(gg.autograd.Function):
    ...     saves_inputs = (0,)
    ...     @staticmethod
    ...     def forward(ctx, xp, a):
    ...         return a ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (a,) = ctx.saved_tensors
    ...         return g * 3 * a * a
    >>> x = gg.tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).backward()
    >>> x.grad
    tensor([12.])
    >>> gg.gradcheck(Cube.apply, (gg.tensor([0.5, -1.5], requires_grad=True),))
    True
    """

    saves_inputs = ()
    saves_output = False
    _saved = ()
    _versions = ()
    _hooks = None

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors ``inputs``, recording it in the graph when needed."""
        record = False
        arrays = []
        try:  # free on Python >= 3.11 unless it raises
            first = inputs[0]
            backend = first._backend
            device = first._device
            for t in inputs:
                if t._device is not device:
                    raise RuntimeError(f"{cls.__name__.lower()}: expected all tensors on one "
                                       f"device, found {device} and {t._device}")
                if t.requires_grad:
                    record = True
                arrays.append(t._data)
        except AttributeError:
            raise _input_error(cls, inputs) from None
        ctx = object.__new__(cls)
        try:
            if backend.has_device_context:
                with backend.device_context(device):
                    out = cls.forward(ctx, backend.xp, *arrays, **params)
            elif params:
                out = cls.forward(ctx, backend.xp, *arrays, **params)
            else:
                out = cls.forward(ctx, backend.xp, *arrays)  # an empty ** still costs a dict
        except (ValueError, TypeError, IndexError) as err:
            raise _forward_error(cls, arrays, err) from None
        if out.__class__ is not backend.array_type:
            out = backend.xp.asarray(out)  # NumPy turns 0-d results into scalars
        result = object.__new__(Tensor)  # Tensor._wrap, inlined: this is the hot path
        result._data = out
        result._backend = backend
        result._device = device
        mode = state
        if record and mode.grad_enabled:
            ctx._record(inputs, arrays, result)
        if mode.extras:
            if mode.forward_levels:
                push_tangents(ctx, inputs, result)
            if mode.anomaly:
                ctx._creation_site = anomaly.creation_site()
                anomaly.check_finite(backend.xp, out, "forward", ctx)
        return result

    def _record(self, inputs, arrays, result):
        """Link this node into the graph: edges to the inputs' nodes, and saved state."""
        edges = []  # a plain loop: a list comprehension costs a frame on this hot path
        for t in inputs:
            edges.append(t.grad_fn or (t if t.requires_grad else None))
        self.next = edges
        # Tuples, not lists: a tuple of ints (or of such tuples) leaves the cyclic GC's
        # tracking once examined, so big graphs cost its full collections less.
        self.input_shapes = tuple(map(_shape_of, arrays))
        result.requires_grad = True
        result.grad_fn = self
        if self.saves_inputs or self.saves_output:
            saved = []
            versions = []
            for i in self.saves_inputs:
                t = inputs[i]
                if t._version is None:
                    t._version = [0]
                saved.append(t)
                versions.append(t._version[0])
            if self.saves_output:
                alias = object.__new__(Tensor)  # result._alias(), inlined
                alias._data = result._data
                alias._backend = result._backend
                alias._device = result._device
                alias._version = result._version = [0]
                saved.append(alias)
                versions.append(0)
            self._saved = saved
            self._versions = tuple(versions)

    @property
    def needs_input_grad(self):
        """One bool per input: does backward need to compute its gradient?"""
        return [e is not None for e in self.next]

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is None:
            raise RuntimeError(_RETAIN_MSG)
        versions = self._versions
        for i, t in enumerate(saved):
            if t._version[0] != versions[i]:
                self._raise_modified()
        if self.saves_output and state.grad_enabled:
            # The output is saved without its node (no cycle output -> node -> output);
            # a double backward re-links it here.
            out = saved[-1]
            linked = out._relinked(self)
            linked._tangent = out._tangent  # forward-over-reverse reads the output's tangent
            return saved[:-1] + [linked]
        return saved

    def _raise_modified(self):
        for t, version in zip(self._saved, self._versions):
            if t._version[0] != version:
                raise RuntimeError(
                    f"one of the tensors saved for {type(self).__name__} has been modified by "
                    f"an in-place operation (version {t._version[0]}, saved at {version})")

    @property
    def next_functions(self):
        return self.next

    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"

    @staticmethod
    def forward(ctx, xp, *arrays, **params):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @staticmethod
    def jvp(ctx, *tangents):
        raise NotImplementedError(f"{type(ctx).__name__} has no forward-mode derivative (jvp)")


def push_tangents(ctx, inputs, result):
    """Forward mode: give ``result`` a tangent at every active level where an input has one.

    A tensor's ``_tangent`` is None or a dict {level: tangent}. Levels are done outermost
    first, each with only the levels outside it active, so the Tensor ops of the op's ``jvp``
    carry those outer tangents along: tangents of tangents, which is what nesting needs.
    """
    for t in inputs:
        if t._tangent is not None:
            break
    else:
        return
    levels = state.forward_levels
    ctx.inputs, ctx.output = inputs, result
    # The jvp rules make arrays of their own (zeros, quotients): on the result's device.
    with result._backend.device_context(result._device):
        _push_levels(ctx, inputs, result, levels)


def _push_levels(ctx, inputs, result, levels):
    try:
        for i, level in enumerate(levels):
            tangents = [_tangent_at(t, level) for t in inputs]
            if all(t is None for t in tangents):
                continue
            state.forward_levels = levels[:i]
            try:
                tangent = type(ctx).jvp(ctx, *tangents)
            finally:
                state.forward_levels = levels
            if tangent is not None:
                _set_tangent(ctx, result, level, tangent)
    finally:
        del ctx.inputs, ctx.output  # a recorded node must not keep every input alive


def _tangent_at(t, level):
    tangents = t._tangent
    return None if tangents is None else tangents.get(level)


def has_tangent(t):
    """Does ``t`` carry a tangent at an active forward-mode level?"""
    tangents = t._tangent
    return tangents is not None and any(level in tangents for level in state.forward_levels)


def _set_tangent(ctx, result, level, tangent):
    # A rule may return a tangent that still needs broadcasting (``a + b`` with only ``b``
    # dual) or has another float type; a tangent always matches its primal.
    if tangent.shape != result.shape:
        tangent = tangent.expand(result.shape)
    if tangent.dtype != result.dtype:
        tangent = tangent.to(dtype=result.dtype)
    tangents = result._tangent
    if tangents is None:
        tangents = result._tangent = {}
        saved = getattr(ctx, "_saved", None)
        if ctx.saves_output and saved:
            saved[-1]._tangent = tangents  # the saved output is an alias: same tangents
    tangents[level] = tangent


def _input_error(cls, inputs):
    """The error for an op given something that is not a Tensor (a NumPy array, a list)."""
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            return not_a_tensor(cls.__name__.lower(), t, "input" if i == 0 else f"input {i}")
    return TypeError(f"{cls.__name__.lower()}: inputs that are not Tensors")


def _forward_error(cls, arrays, err):
    """An error raised by an op's forward, as gpugrad's error of PyTorch's kind that names
    the op and its inputs: NumPy's own (a broadcasting ValueError, a ``UFuncTypeError``, an
    ``AxisError``) must not escape without saying where it came from."""
    if isinstance(err, _OURS):
        return err
    name = cls.__name__.lower()
    text = str(err)
    if not text.startswith(name + ":"):
        text = f"{name}: {text}"
    if isinstance(err, IndexError):  # NumPy's AxisError is an IndexError and a ValueError
        return IndexRangeError(f"{text} (input shapes {_shapes(arrays)})")
    if isinstance(err, TypeError):
        dtypes = ", ".join(str(a.dtype) for a in arrays)
        return DTypeError(f"{text} (input dtypes {dtypes})")
    return ShapeError(f"{text} (input shapes {_shapes(arrays)})")


def _shapes(arrays):
    return ", ".join(str(tuple(a.shape)) for a in arrays)


from ..ops.errors import (DTypeError, IndexRangeError, IntegerDivisionByZero,  # noqa: E402
                          ShapeError, not_a_tensor)
from ..tensor import Tensor  # noqa: E402  (tensor.py imports the ops, which import this)

_OURS = (ShapeError, DTypeError, IndexRangeError, IntegerDivisionByZero)
