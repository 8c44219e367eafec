"""``GradScaler``: loss scaling for float16 training, as ``torch.amp.GradScaler``.

Small float16 gradients flush to zero. Multiplying the loss by a large scale moves them
into float16's range; the gradients are divided by it again before the optimizer uses
them. A step whose gradients overflowed (inf/NaN) is skipped and the scale is cut by
``backoff_factor``; after ``growth_interval`` clean steps in a row it grows by
``growth_factor``. The scale is a float32 (each update computed in double precision, then
rounded), as PyTorch's, so both follow the same values.
"""
import warnings

import numpy as np
from ..autograd.grad_mode import state
from ..autograd.recording import traced_call

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


class GradScaler:
    """Scale the loss, unscale the gradients, skip steps that overflowed, adapt the scale.

    ``GradScaler(device="cuda", init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True)``. The usual loop::

        with gg.autocast("cuda"):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)          # optional: to clip or inspect true gradients
        scaler.step(optimizer)              # skipped if a gradient is inf/NaN
        scaler.update()

    ``step`` makes one combined finiteness check (one device-to-host read per device, not
    one per parameter). It works with any ``gg.optim.Optimizer`` (row-sparse gradients
    included) and with ``DataParallel`` and ``DistributedDataParallel``: both leave the
    same averaged gradients on every replica and rank, so an overflow anywhere is seen by
    every rank and all skip the step together. With ``device="cuda"`` and no GPU the
    scaler warns and disables itself (every method then passes through), as PyTorch's.

    >>> w = gg.nn.Parameter(gg.tensor([1.0]))
    >>> opt = gg.optim.SGD([w], lr=0.5)
    >>> scaler = gg.amp.GradScaler("cpu", init_scale=1024.0)
    >>> scaler.scale((w * 3).sum()).backward()
    >>> w.grad
    tensor([3072.])
    >>> scaler.step(opt); scaler.update()
    >>> w.item(), scaler.get_scale()
    (-0.5, 1024.0)
    """

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0,
                 backoff_factor=0.5, growth_interval=2000, enabled=True):
        self._device = device
        self._enabled = bool(enabled)
        if self._enabled and device == "cuda":
            from .. import cuda
            if not cuda.is_available():
                warnings.warn("gg.amp.GradScaler is enabled, but CUDA is not available.  "
                              "Disabling.")
                self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
        self._init_scale = init_scale
        self._scale = None  # np.float32, set by the first scale()
        self._growth_factor = growth_factor
        self._backoff_factor = backoff_factor
        self._growth_interval = growth_interval
        self._init_growth_tracker = 0
        self._growth_tracker = None
        self._per_optimizer = {}

    # ---- scaling ---------------------------------------------------------------------------
    def scale(self, outputs):
        """``outputs`` (a tensor, or nested lists/tuples of them) times the scale;
        unchanged when disabled.

        >>> gg.amp.GradScaler("cpu", init_scale=8.0).scale([gg.tensor(1.0), gg.tensor(2.0)])
        [tensor(8.), tensor(16.)]
        """
        if not self._enabled:
            return outputs
        if self._scale is None:
            self._scale = np.float32(self._init_scale)
            self._growth_tracker = self._init_growth_tracker
        if state.tracer is not None:  # the scale is a host number update() changes
            state.tracer.problem("GradScaler.scale (its scale is a host value that update() "
                                 "changes between steps)")
        return _scaled(outputs, float(self._scale))

    def unscale_(self, optimizer):
        """Divide ``optimizer``'s gradients by the scale, in place, and note whether any is
        inf/NaN. At most once per ``step``, as PyTorch's (a second call raises
        RuntimeError); call it before clipping gradients.

        >>> w = gg.nn.Parameter(gg.tensor([1.0])); opt = gg.optim.SGD([w], lr=0.1)
        >>> scaler = gg.amp.GradScaler("cpu", init_scale=4.0)
        >>> scaler.scale(w.sum()).backward(); w.grad
        tensor([4.])
        >>> scaler.unscale_(opt); w.grad
        tensor([1.])
        """
        if not self._enabled:
            return
        self._check_scale("unscale_")
        state = self._state(optimizer)
        if state["stage"] is _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since "
                               "the last update().")
        if state["stage"] is _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = np.float32(1.0 / float(self._scale))  # rounded as PyTorch rounds it
        state["found_inf"] = _unscale_grads(optimizer, inv_scale)
        state["stage"] = _UNSCALED

    @traced_call("step")
    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step(*args, **kwargs)`` on unscaled gradients (``unscale_`` first
        if it was not called), unless some gradient is inf/NaN: then the step is skipped
        and None returned. Closures are not supported, as in PyTorch.

        >>> w = gg.nn.Parameter(gg.tensor([1.0])); opt = gg.optim.SGD([w], lr=0.1)
        >>> scaler = gg.amp.GradScaler("cpu")
        >>> scaler.scale(w * float("inf")).sum().backward()
        >>> scaler.step(opt); scaler.update()
        >>> w.item(), scaler.get_scale()
        (1.0, 32768.0)
        """
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        self._check_scale("step")
        state = self._state(optimizer)
        if state["stage"] is _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is _READY:
            self.unscale_(optimizer)
        if not state["found_inf"]:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        result = None
        if not _any_true(state["found_inf"]):
            result = optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return result

    def update(self, new_scale=None):
        """Adapt the scale after a step: ``backoff_factor`` times it if a gradient of any
        stepped optimizer overflowed (and restart the count), else count a clean step and
        after ``growth_interval`` of them multiply it by ``growth_factor`` (if the result is
        finite). ``new_scale`` (a float or one-element tensor) sets it instead.

        >>> scaler = gg.amp.GradScaler("cpu", init_scale=4.0)
        >>> _ = scaler.scale(gg.tensor(1.0)); scaler.update(new_scale=2.0)
        >>> scaler.get_scale()
        2.0
        """
        if not self._enabled:
            return
        self._check_scale("update")
        if new_scale is not None:
            self._scale = np.float32(_new_scale_value(new_scale))
        else:
            found = [f for s in self._per_optimizer.values() for f in s["found_inf"]]
            if not found:
                raise AssertionError("No inf checks were recorded prior to update.")
            if _any_true(found):
                self._scale = np.float32(float(self._scale) * self._backoff_factor)
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    grown = np.float32(float(self._scale) * self._growth_factor)
                    if np.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
        self._per_optimizer = {}

    # ---- queries and settings --------------------------------------------------------------
    def get_scale(self):
        """The current scale as a Python float (``init_scale`` before the first ``scale``;
        1.0 when disabled).

        >>> gg.amp.GradScaler("cpu").get_scale()
        65536.0
        """
        if not self._enabled:
            return 1.0
        return float(self._init_scale if self._scale is None else self._scale)

    def is_enabled(self):
        """Is scaling on?

        >>> gg.amp.GradScaler("cpu", enabled=False).is_enabled()
        False
        """
        return self._enabled

    def get_growth_factor(self):
        """The factor the scale grows by.

        >>> gg.amp.GradScaler("cpu").get_growth_factor()
        2.0
        """
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        """Set the growth factor.

        >>> s = gg.amp.GradScaler("cpu"); s.set_growth_factor(4.0); s.get_growth_factor()
        4.0
        """
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        """The factor the scale shrinks by after an overflow.

        >>> gg.amp.GradScaler("cpu").get_backoff_factor()
        0.5
        """
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        """Set the backoff factor.

        >>> s = gg.amp.GradScaler("cpu"); s.set_backoff_factor(0.25); s.get_backoff_factor()
        0.25
        """
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        """Clean steps in a row before the scale grows.

        >>> gg.amp.GradScaler("cpu").get_growth_interval()
        2000
        """
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        """Set the growth interval.

        >>> s = gg.amp.GradScaler("cpu"); s.set_growth_interval(10); s.get_growth_interval()
        10
        """
        self._growth_interval = new_interval

    def state_dict(self):
        """``{"scale", "growth_factor", "backoff_factor", "growth_interval",
        "_growth_tracker"}`` (PyTorch's keys), or ``{}`` when disabled.

        >>> gg.amp.GradScaler("cpu", init_scale=8.0).state_dict()["scale"]
        8.0
        """
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict):
        """Restore a ``state_dict()`` (PyTorch's GradScaler state dicts load too).

        >>> s = gg.amp.GradScaler("cpu"); s.load_state_dict(
        ...     gg.amp.GradScaler("cpu", init_scale=8.0).state_dict()); s.get_scale()
        8.0
        """
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale = np.float32(self._init_scale)
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker = self._init_growth_tracker

    def __repr__(self):
        return (f"GradScaler(device={self._device!r}, scale={self.get_scale()}, "
                f"enabled={self._enabled})")

    # ---- helpers -----------------------------------------------------------------------------
    def _get_growth_tracker(self):
        if not self._enabled:
            return 0
        if self._growth_tracker is None:
            return self._init_growth_tracker
        return self._growth_tracker

    def _check_scale(self, caller):
        if self._scale is None:
            raise AssertionError(f"Attempted {caller} but _scale is None.  This may indicate "
                                 "your script did not use scaler.scale(loss or outputs) "
                                 "earlier in the iteration.")

    def _state(self, optimizer):
        # Keyed by the optimizer object for one iteration only (cleared by update()).
        key = id(optimizer)
        state = self._per_optimizer.get(key)
        if state is None or state["optimizer"] is not optimizer:
            state = {"optimizer": optimizer, "stage": _READY, "found_inf": []}
            self._per_optimizer[key] = state
        return state


def _scaled(outputs, scale):
    from ..tensor import Tensor
    if isinstance(outputs, Tensor):
        return outputs * scale
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(_scaled(o, scale) for o in outputs)
    if hasattr(outputs, "__iter__") and not isinstance(outputs, (str, bytes, dict)):
        return map(lambda o: _scaled(o, scale), outputs)
    raise ValueError("outputs must be a Tensor or an iterable of Tensors")


def _new_scale_value(new_scale):
    from ..tensor import Tensor
    if isinstance(new_scale, Tensor):
        if new_scale.numel() != 1 or new_scale.requires_grad:
            raise AssertionError("new_scale should be a float or a 1-element Tensor with "
                                 "requires_grad=False.")
        return float(new_scale.item())
    return float(new_scale)


def _unscale_grads(optimizer, inv_scale):
    """Multiply every gradient by ``inv_scale`` in place; one 0-d "some value is not
    finite" array per device (no host read yet)."""
    from ..backends.device import backend_of_array
    from ..sparse import RowSparseGrad
    from ..tensor import _owns
    found = {}
    seen = set()
    for group in optimizer.param_groups:
        for p in group["params"]:
            grad = p.grad
            if grad is None or id(p) in seen:
                continue
            seen.add(id(p))
            if grad.dtype == np.float16:
                raise ValueError("Attempting to unscale FP16 gradients.")
            sparse = isinstance(grad, RowSparseGrad)
            array = grad.values if sparse else grad._data
            backend, device = backend_of_array(array)
            xp = backend.xp
            with backend.device_context(device):
                if _owns(array):
                    xp.multiply(array, array.dtype.type(inv_scale), out=array)
                else:  # a view or a read-only array: give the gradient its own
                    array = array * array.dtype.type(inv_scale)
                    if sparse:
                        grad.values = array
                    else:
                        grad._data = array
                bad = xp.logical_not(xp.isfinite(array).all())
                old = found.get(device)
                found[device] = bad if old is None else xp.logical_or(old, bad)
    return list(found.values())


def _any_true(flags):
    """One host read per device-side flag."""
    return any(bool(f) for f in flags)
