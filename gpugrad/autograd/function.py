"""``Function``: one differentiable op. Its instance is both the op's context and the
graph node that backward visits.

An op subclasses ``Function`` with two static methods:

* ``forward(ctx, xp, *arrays, **params)`` computes on raw arrays with the array module
  ``xp`` the dispatch layer picked (NumPy or CuPy) and returns one array;
* ``backward(ctx, grad)`` gets the output's gradient as a Tensor and returns one Tensor (or
  None) per input, written with Tensor ops, so the same formula also builds the graph of the
  gradient when ``create_graph=True``. The engine sums each gradient back to its input's
  shape, so ops that broadcast need not.

What backward needs is declared: ``saves_inputs = (0, 1)`` keeps those inputs,
``saves_output = True`` keeps the result; ``ctx.saved_tensors`` returns them in that order
after checking that none was modified in place since.
"""
import numpy as np

from . import anomaly
from .grad_mode import state

_RETAIN_MSG = ("trying to backward through the graph a second time (or to read saved tensors "
               "after they were freed); pass retain_graph=True to the first backward call")


class Function:
    """Base class of every op; see the module docstring."""

    saves_inputs = ()
    saves_output = False

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors ``inputs``, recording it in the graph when needed."""
        first = inputs[0]
        backend = first._backend
        device = first._device
        for t in inputs:
            if t._device is not device:
                raise RuntimeError(f"{cls.__name__.lower()}: expected all tensors on one "
                                   f"device, found {device} and {t._device}")
        ctx = cls.__new__(cls)
        arrays = [t.data for t in inputs]
        try:
            if backend.has_device_context:
                with backend.device_context(device):
                    out = cls.forward(ctx, backend.xp, *arrays, **params)
            else:
                out = cls.forward(ctx, backend.xp, *arrays, **params)
        except ValueError as err:
            raise _shape_error(cls, arrays, err) from None
        if isinstance(out, np.generic):
            out = np.asarray(out)  # NumPy turns 0-d results into scalars; keep arrays
        result = Tensor._wrap(out, backend, device)
        if state.grad_enabled:
            for t in inputs:
                if t.requires_grad:
                    ctx._record(inputs, result)
                    break
        if state.anomaly:
            ctx._creation_site = anomaly.creation_site()
            anomaly.check_finite(backend.xp, out, "forward", ctx)
        return result

    def _record(self, inputs, result):
        """Link this node into the graph: edges to the inputs' nodes, and saved state."""
        self.next = tuple(t.grad_fn or (t if t.requires_grad else None) for t in inputs)
        self.needs_input_grad = tuple(t.requires_grad for t in inputs)
        self.input_shapes = tuple(t.data.shape for t in inputs)
        self.device = result._device
        self.backend = result._backend
        self._hooks = None
        result.requires_grad = True
        result.grad_fn = self
        saved = tuple(inputs[i] for i in self.saves_inputs)
        if self.saves_output:
            saved += (result._alias(),)
        self._saved = saved
        self._versions = tuple(t._version_counter()[0] for t in saved) if saved else ()

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is None:
            raise RuntimeError(_RETAIN_MSG)
        for t, version in zip(saved, self._versions):
            if t._version[0] != version:
                raise RuntimeError(
                    f"one of the tensors saved for {type(self).__name__} has been modified by "
                    f"an in-place operation (version {t._version[0]}, saved at {version})")
        if self.saves_output and state.grad_enabled:
            # The output is saved without its node (no cycle output -> node -> output);
            # a double backward re-links it here.
            out = saved[-1]
            return saved[:-1] + (out._relinked(self),)
        return saved

    def _free(self):
        self._saved = None

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


def _shape_error(cls, arrays, err):
    name = cls.__name__.lower()
    if str(err).startswith(name + ":"):
        return err
    shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
    return ValueError(f"{name}: {err} (input shapes {shapes})")


from ..tensor import Tensor  # noqa: E402  (tensor.py imports the ops, which import this)
