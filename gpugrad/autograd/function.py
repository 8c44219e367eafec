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

An op may add ``backward_arrays(ctx, xp, grad)``: the same formula on raw arrays (the
saved ones from ``ctx.saved_arrays()``), returning one array (or None) per input, or
NotImplemented to leave the case to ``backward``. The engine uses it when no graph of the
gradient is built and nothing watches the backward pass (see engine.py); it must make the
very NumPy calls ``backward``'s Tensor ops make, so both give the same bits.
"""
import gc
import threading
import weakref
from operator import attrgetter

from . import anomaly
from .grad_mode import state

_new = object.__new__  # bound once: looking ``object.__new__`` up costs as much as the call
_shape_of = attrgetter("shape")
_PREFIX = tuple(tuple(range(n)) for n in range(9))  # saves_inputs that keep the first n
_ZEROS = tuple((0,) * n for n in range(9))  # the versions of tensors never changed in place
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
    backward_arrays = None  # optional, see the module docstring
    _saved = ()
    _versions = ()
    _hooks = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # What ``apply`` saves inline, decided once per class: both of two inputs, the one
        # input, or only the output (of one input). Anything else (or an op that sets
        # ``saves_inputs`` on its ctx in forward) goes through ``_save``.
        cls._saves_pair = cls.saves_inputs == (0, 1) and not cls.saves_output
        cls._saves_first = cls.saves_inputs == (0,) and not cls.saves_output
        cls._saves_out = bool(cls.saves_output) and not cls.saves_inputs

    _saves_pair = _saves_first = _saves_out = False

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors ``inputs``, recording it in the graph when needed."""
        try:  # free on Python >= 3.11 unless it raises
            first = inputs[0]
            backend = first._backend
            device = first._device
            record = first.requires_grad
            n = len(inputs)
            if n == 2:  # unrolled for the usual arities: no loop, no list
                second = inputs[1]
                if second._device is not device:
                    raise _device_error(cls, device, second._device)
                if second.requires_grad:
                    record = True
                arrays = (first._data, second._data)
            elif n == 1:
                arrays = (first._data,)
            else:
                arrays = []
                for t in inputs:
                    if t._device is not device:
                        raise _device_error(cls, device, t._device)
                    if t.requires_grad:
                        record = True
                    arrays.append(t._data)
        except AttributeError:
            raise _input_error(cls, inputs) from None
        ctx = _new(cls)
        try:
            if backend.has_device_context:
                with backend.device_context(device):
                    out = cls.forward(ctx, backend.xp, *arrays, **params)
            elif params:
                out = cls.forward(ctx, backend.xp, *arrays, **params)
            elif n == 2:  # a plain call runs in this frame's loop: no *args tuple
                out = cls.forward(ctx, backend.xp, arrays[0], arrays[1])
            elif n == 1:
                out = cls.forward(ctx, backend.xp, arrays[0])
            else:
                out = cls.forward(ctx, backend.xp, *arrays)  # an empty ** still costs a dict
        except (ValueError, TypeError, IndexError) as err:
            raise _forward_error(cls, arrays, err) from None
        if out.__class__ is not backend.array_type:
            out = backend.xp.asarray(out)  # NumPy turns 0-d results into scalars
        result = _new(Tensor)  # Tensor._wrap, inlined: this is the hot path
        result._data = out
        result._backend = backend
        result._device = device
        mode = state.flags
        if record and mode.grad_enabled:
            # _record, inlined for the usual arities and saves
            result.requires_grad = True
            result.grad_fn = ctx
            ctx._hooks = None  # the engine reads it for every node: faster from the instance
            if n == 2:
                ctx.next = (first.grad_fn or (first if first.requires_grad else None),
                            second.grad_fn or (second if second.requires_grad else None))
                ctx.input_shapes = (arrays[0].shape, arrays[1].shape)
                if cls._saves_pair:
                    ctx._saved = inputs
                    v, w = first._version, second._version
                    if (v is None or not v[0]) and (w is None or not w[0]):
                        ctx._versions = _ZEROS[2]
                    else:
                        ctx._versions = (_version_of(first), _version_of(second))
                elif ctx.saves_inputs or ctx.saves_output:
                    ctx._save(inputs, result, ctx.saves_output)
            elif n == 1:
                ctx.next = (first.grad_fn or first,)  # recording: the input requires grad
                ctx.input_shapes = (arrays[0].shape,)
                if cls._saves_out:  # _save_output, inlined
                    alias = _new(Tensor)
                    alias._data = out
                    alias._backend = backend
                    alias._device = device
                    alias.requires_grad = False
                    alias._version = result._version = [0]
                    ctx._saved = (alias,)
                    ctx._versions = _ZEROS[1]
                elif cls._saves_first:
                    ctx._saved = inputs
                    v = first._version
                    ctx._versions = _ZEROS[1] if v is None or not v[0] else (v[0],)
                elif ctx.saves_inputs or ctx.saves_output:
                    ctx._save(inputs, result, ctx.saves_output)
            else:
                ctx._link(inputs, arrays)
                if ctx.saves_inputs or ctx.saves_output:
                    ctx._save(inputs, result, ctx.saves_output)
            if _graph_gc is None:
                _graph_gc_count(ctx)
        else:
            result.requires_grad = False  # read from the instance, faster than the class's
        if mode.extras:
            mode = state  # the rare features' switches
            if mode.tracer is not None:
                mode.tracer.op(cls, ctx, inputs, arrays, params, result)
            if mode.forward_levels:
                push_tangents(ctx, inputs, result)
            if mode.anomaly:
                ctx._creation_site = anomaly.creation_site()
                anomaly.check_finite(backend.xp, out, "forward", ctx)
        return result

    def _record(self, inputs, arrays, result):
        """Link this node into the graph: edges to the inputs' nodes, and saved state.
        (``apply`` runs the same steps inline.)

        Every object made here lives as long as the graph, and each one the cyclic GC tracks
        makes its collections come sooner and take longer; so edges, shapes and versions are
        tuples (a tuple of ints leaves the GC's tracking once examined), saved inputs reuse
        the ``inputs`` tuple, and version counters are only made when a tensor changes.
        """
        self._link(inputs, arrays)
        result.requires_grad = True
        result.grad_fn = self
        self._hooks = None  # the engine reads it for every node: faster from the instance
        if self.saves_inputs or self.saves_output:
            self._save(inputs, result, self.saves_output)
        if _graph_gc is None:
            _graph_gc_count(self)

    def _link(self, inputs, arrays):
        self.next = tuple([t.grad_fn or (t if t.requires_grad else None) for t in inputs])
        self.input_shapes = tuple(map(_shape_of, arrays))

    def _save(self, inputs, result, saves_output):
        """Keep what backward needs: the inputs ``saves_inputs`` names, with their versions
        now, and the output when ``saves_output``."""
        saves = self.saves_inputs
        if saves:
            n = len(inputs)
            if n < 9 and saves == _PREFIX[n]:  # every input, in order: the usual case
                saved = inputs
                versions = _ZEROS[n]
            else:
                saved = tuple([inputs[i] for i in saves])
                versions = (0,) * len(saved)
            for t in saved:
                if t._version is not None and t._version[0]:
                    versions = tuple([_version_of(t) for t in saved])
                    break
            if saves_output:
                self._saved = saved + (self._save_output(result),)
                self._versions = versions + (0,)
            else:
                self._saved = saved
                self._versions = versions
        elif saves_output:
            self._saved = (self._save_output(result),)
            self._versions = _ZEROS[1]

    @staticmethod
    def _save_output(result):
        """The output, saved as an alias without the node (no cycle output -> node ->
        output); they share a version counter, so an in-place change of it is caught."""
        alias = _new(Tensor)  # result._alias(), inlined
        alias._data = result._data
        alias._backend = result._backend
        alias._device = result._device
        alias.requires_grad = False
        alias._version = result._version = [0]
        return alias

    @property
    def needs_input_grad(self):
        """One bool per input: does backward need to compute its gradient?"""
        edges = self.next
        if len(edges) == 2:
            return (edges[0] is not None, edges[1] is not None)
        return tuple([e is not None for e in edges])

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is None:
            raise RuntimeError(_RETAIN_MSG)
        versions = self._versions
        i = 0
        for t in saved:
            if t._version is not None and t._version[0] != versions[i]:
                self._raise_modified()
            i += 1
        if self.saves_output and state.flags.grad_enabled:
            # A double backward re-links the saved output to this node here.
            out = saved[-1]
            linked = out._relinked(self)
            linked._tangent = out._tangent  # forward-over-reverse reads the output's tangent
            return (*saved[:-1], linked)
        return saved

    def saved_arrays(self):
        """The arrays of ``saved_tensors`` (for ``backward_arrays``), after the same checks.

        >>> x = gg.tensor([2.0], requires_grad=True)
        >>> (x * x).grad_fn.saved_arrays()[0]
        array([2.], dtype=float32)
        """
        saved = self._saved
        if saved is None:
            raise RuntimeError(_RETAIN_MSG)
        versions = self._versions
        n = len(saved)
        if n == 1:  # unrolled for the usual counts
            v = saved[0]._version
            if v is not None and v[0] != versions[0]:
                self._raise_modified()
            return (saved[0]._data,)
        if n == 2:
            a, b = saved
            v, w = a._version, b._version
            if v is not None and v[0] != versions[0] or w is not None and w[0] != versions[1]:
                self._raise_modified()
            return (a._data, b._data)
        i = 0
        for t in saved:
            if t._version is not None and t._version[0] != versions[i]:
                self._raise_modified()
            i += 1
        return tuple([t._data for t in saved])

    def _raise_modified(self):
        for t, version in zip(self._saved, self._versions):
            if _version_of(t) != version:
                raise RuntimeError(
                    f"one of the tensors saved for {type(self).__name__} has been modified by "
                    f"an in-place operation (version {_version_of(t)}, saved at {version})")

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


# ---- the cyclic GC while a graph is built -----------------------------------------------
# A recorded op leaves a few GC-tracked objects (node, output, tuples) alive until backward
# frees them, by reference counting alone: the graph has no cycles. At CPython's default
# gen0 threshold (700 allocations) building a graph of a few thousand ops runs young
# collections that find nothing, and moves the graph into the old generation, whose full
# collections scan every object of the process (PyTorch's graph lives in C++, outside the
# GC). So once GRAPH_GC_AFTER ops were recorded the gen0 threshold is raised to
# GRAPH_GC_THRESHOLD, and set back when a backward frees the graph or when the node recorded
# then dies (a graph dropped without backward). Collection is never switched off: cycles,
# also through user objects holding tensors, are found as before, after more allocations.
# Process-wide effect: while a graph of more than GRAPH_GC_AFTER ops is alive (in any
# thread), young collections come less often.
GRAPH_GC_THRESHOLD = 20000
GRAPH_GC_AFTER = 256  # small graphs (one op, made and dropped in a loop) change nothing
_graph_gc = None  # while raised: (weak reference to a node of the graph, old threshold)
_graph_gc_wait = GRAPH_GC_AFTER  # ops still to record before raising


_graph_gc_lock = threading.RLock()  # reentrant: a collection may run the weakref callback


def _graph_gc_count(node):
    global _graph_gc, _graph_gc_wait
    _graph_gc_wait -= 1
    if _graph_gc_wait > 0:
        return
    with _graph_gc_lock:  # threads: the old threshold is read and replaced by one of them
        if _graph_gc is not None:
            return
        threshold = gc.get_threshold()
        if not 0 < threshold[0] < GRAPH_GC_THRESHOLD:
            threshold = None  # automatic collection is off, or already this rare: leave it
        _graph_gc = (weakref.ref(node, _graph_gc_end), threshold)
        if threshold is not None:
            gc.set_threshold(GRAPH_GC_THRESHOLD, *threshold[1:])


def _graph_gc_end(first=None):
    """A backward freed the graph (or ``first``, the weak reference to the node recorded
    when the threshold went up, died): set the gen0 threshold back, unless the user
    changed it meanwhile."""
    global _graph_gc, _graph_gc_wait
    _graph_gc_wait = GRAPH_GC_AFTER
    if _graph_gc is None:
        return
    with _graph_gc_lock:
        current = _graph_gc
        if current is None or first is not None and current[0] is not first:
            return
        _graph_gc = None
        threshold = current[1]
        if threshold is not None and gc.get_threshold()[0] == GRAPH_GC_THRESHOLD:
            gc.set_threshold(*threshold)


def _version_of(t):
    """How often ``t`` was changed in place (no counter yet: never)."""
    return 0 if t._version is None else t._version[0]


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


def _device_error(cls, device, other):
    return RuntimeError(f"{cls.__name__.lower()}: expected all tensors on one device, found "
                        f"{device} and {other}")


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
