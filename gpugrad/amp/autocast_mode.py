"""``autocast``: run the ops of a region in the precision each one is safe in.

The state is per thread, as PyTorch's: one flag and one dtype per device type, the cast
cache, and the nesting depth. ``ACTIVE`` is process-wide and read by every autocast-able
op's boundary (``gpugrad.ops.errors.public_op``): while it is 0 (no thread has autocast on)
an op pays one list read and nothing else.
"""
import functools
import threading
import warnings

from ..dtypes import as_dtype, bfloat16, float16, float32, float64
from .policy import POLICIES

DEVICE_TYPES = ("cpu", "cuda")
_DEFAULT_DTYPES = {"cpu": bfloat16, "cuda": float16}

#: ``[n]``: how many threads have autocast on for some device type (0: every op skips it).
ACTIVE = [0]
_on_threads = set()
_lock = threading.Lock()


class _State(threading.local):
    """One thread's autocast switches."""

    def __init__(self):
        self.enabled = {"cpu": False, "cuda": False}
        self.dtype = dict(_DEFAULT_DTYPES)
        self.cache_enabled = True
        self.nesting = 0
        self.cache = {}


_state = _State()
SKIP = object()  # what ``apply`` returns when the op runs as if autocast were off


def _sync_active():
    """Publish whether this thread has autocast on anywhere, for the op boundaries."""
    me = threading.get_ident()
    with _lock:
        if any(_state.enabled.values()):
            _on_threads.add(me)
        else:
            _on_threads.discard(me)
        ACTIVE[0] = len(_on_threads)


def _check_device_type(device_type, name="autocast"):
    if not isinstance(device_type, str):
        raise TypeError(f"{name}(): argument 'device_type' must be str, not "
                        f"{type(device_type).__name__}")
    if device_type not in DEVICE_TYPES:
        raise RuntimeError(f"{name}: unsupported device_type {device_type!r}; gpugrad "
                           f"autocasts {', '.join(map(repr, DEVICE_TYPES))}")
    return device_type


def is_autocast_enabled(device_type=None):
    """Is autocast on for ``device_type`` in this thread (``"cuda"`` when left out, as
    ``torch.is_autocast_enabled()``)?

    >>> with gg.autocast("cpu", dtype=gg.float16):
    ...     gg.is_autocast_enabled("cpu"), gg.is_autocast_enabled()
    (True, False)
    """
    device_type = "cuda" if device_type is None else device_type
    return _state.enabled[_check_device_type(device_type, "is_autocast_enabled")]


def get_autocast_dtype(device_type):
    """The dtype autocast lowers to on ``device_type`` in this thread (float16 on cuda,
    bfloat16 on cpu unless an ``autocast`` region set another).

    >>> gg.get_autocast_dtype("cuda"), gg.get_autocast_dtype("cpu")
    (gpugrad.float16, gpugrad.bfloat16)
    """
    return _state.dtype[_check_device_type(device_type, "get_autocast_dtype")]


def is_autocast_cache_enabled():
    """Are casts of leaf tensors (parameters) cached within autocast regions?

    >>> gg.amp.is_autocast_cache_enabled()
    True
    """
    return _state.cache_enabled


def clear_autocast_cache():
    """Drop this thread's cached casts (done on leaving the outermost region).

    >>> gg.amp.clear_autocast_cache()
    """
    _state.cache = {}


def is_autocast_available(device_type):
    """Can ``device_type`` be autocast (``"cpu"`` and ``"cuda"``)?

    >>> gg.amp.is_autocast_available("cpu"), gg.amp.is_autocast_available("mps")
    (True, False)
    """
    return device_type in DEVICE_TYPES


class autocast:
    """Context manager (and decorator) that runs the ops inside it in mixed precision, as
    ``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``.

    On ``device_type``'s tensors, matrix products, convolutions, ``linear``, ``prelu``
    and ``scaled_dot_product_attention`` run in ``dtype`` (default: float16 on ``"cuda"``,
    bfloat16 on ``"cpu"``); losses, and on cuda also softmax, norms, ``exp``, ``log``,
    ``pow``, ``sum``, ``cumsum`` ..., run in float32; ``cat``/``stack`` and other
    multi-input ops promote to the widest input (see ``gpugrad.amp.policy``). Other ops
    run in their inputs' dtype. float64 tensors are never cast. The casts are
    differentiable, so float32 parameters get float32 gradients. Backward ops run in the
    dtypes forward chose, also when ``backward`` is called inside a region (PyTorch advises
    calling it after the region).

    Regions nest (an inner ``enabled=False`` turns autocast off; the previous state comes
    back on exit, also on an exception); the state is per thread. CUDA autocast is float16
    only: CuPy has no bfloat16, so ``dtype=gg.bfloat16`` on ``"cuda"`` raises.

    >>> w = gg.randn(3, 4, requires_grad=True)
    >>> with gg.autocast("cpu", dtype=gg.float16):
    ...     y = gg.ones(2, 4) @ w.t()
    ...     loss = gg.nn.functional.mse_loss(y, gg.zeros(2, 3))
    >>> y.dtype, loss.dtype
    (gpugrad.float16, gpugrad.float32)
    >>> loss.backward(); w.grad.dtype
    gpugrad.float32
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device = _check_device_type(device_type)
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else as_dtype(dtype)
        self._cache_enabled = (is_autocast_cache_enabled() if cache_enabled is None
                               else bool(cache_enabled))
        self._enabled = bool(enabled)
        if not self._enabled:
            return
        if device_type == "cpu" and self.fast_dtype not in (bfloat16, float16):
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling "
                          "autocast.\nCPU Autocast only supports dtypes of gpugrad.bfloat16, "
                          "gpugrad.float16 currently.")
            self._enabled = False
        elif device_type == "cuda":
            from .. import cuda
            if self.fast_dtype == bfloat16:
                raise RuntimeError("autocast: CUDA autocast supports float16 only (CuPy has "
                                   "no bfloat16); use dtype=gg.float16, the default")
            if self.fast_dtype != float16:
                warnings.warn("In CUDA autocast, but the target dtype is not supported. "
                              "Disabling autocast.\nCUDA Autocast only supports dtype of "
                              "gpugrad.float16 currently.")
                self._enabled = False
            elif not cuda.is_available():
                warnings.warn("User provided device_type of 'cuda', but CUDA is not "
                              "available. Disabling")
                self._enabled = False

    def __enter__(self):
        state = _state
        self._previous = (state.enabled[self.device], state.dtype[self.device],
                          state.cache_enabled)
        state.enabled[self.device] = self._enabled
        state.dtype[self.device] = self.fast_dtype
        state.cache_enabled = self._cache_enabled
        state.nesting += 1
        _sync_active()
        return self

    def __exit__(self, *exc):
        state = _state
        enabled, dtype, state.cache_enabled = self._previous
        state.enabled[self.device] = enabled
        state.dtype[self.device] = dtype
        state.nesting -= 1
        if state.nesting == 0:
            state.cache = {}
        _sync_active()
        return False

    def __call__(self, func):
        """Use as a decorator: ``func`` runs inside this region.

        >>> @gg.autocast("cpu", dtype=gg.float16)
        ... def forward(x, w):
        ...     return x @ w
        >>> forward(gg.ones(2, 2), gg.ones(2, 2)).dtype
        gpugrad.float16
        """
        if not callable(func):
            raise TypeError(f"autocast()(func) requires a callable, but got "
                            f"{type(func).__name__}. Did you mean to use autocast as a "
                            f"context manager? For example:\n    with gg.autocast("
                            f"device_type=...):\n        output = model(input)")
        args = (self.device, self.fast_dtype, self._enabled, self._cache_enabled)

        @functools.wraps(func)
        def decorated(*a, **k):
            with autocast(*args):
                return func(*a, **k)
        return decorated

    def __repr__(self):
        return (f"autocast(device_type={self.device!r}, dtype={self.fast_dtype}, "
                f"enabled={self._enabled})")


class _Suspended:
    """This thread's autocast switched off for a while (backward), then restored."""

    def __enter__(self):
        self._previous = dict(_state.enabled)
        _state.enabled.update(cpu=False, cuda=False)

    def __exit__(self, *exc):
        _state.enabled.update(self._previous)
        return False


class _Restored:
    """Another thread's autocast state (a snapshot) entered in this thread."""

    def __init__(self, snapshot):
        self.snapshot = snapshot

    def __enter__(self):
        state = _state
        self._previous = (dict(state.enabled), dict(state.dtype), state.cache_enabled)
        enabled, dtype, state.cache_enabled = self.snapshot
        state.enabled.update(enabled)
        state.dtype.update(dtype)
        state.nesting += 1
        _sync_active()

    def __exit__(self, *exc):
        state = _state
        enabled, dtype, state.cache_enabled = self._previous
        state.enabled.update(enabled)
        state.dtype.update(dtype)
        state.nesting -= 1
        if state.nesting == 0:
            state.cache = {}
        _sync_active()
        return False


def suspended():
    """A context in which this thread's ops are not autocast (the backward pass: its ops
    run in the dtypes forward chose, as in PyTorch); free when no thread autocasts.

    >>> with gg.autocast("cpu", dtype=gg.float16):
    ...     with suspended():
    ...         gg.is_autocast_enabled("cpu")
    False
    """
    return _Suspended() if ACTIVE[0] else _NOTHING


def snapshot():
    """This thread's autocast state, for ``restored`` in a worker thread (DataParallel's).

    >>> snapshot()[0]
    {'cpu': False, 'cuda': False}
    """
    return dict(_state.enabled), dict(_state.dtype), _state.cache_enabled


def restored(state):
    """A context that gives this thread the autocast ``state`` of ``snapshot()``.

    >>> with gg.autocast("cpu", dtype=gg.float16):
    ...     state = snapshot()
    >>> with restored(state):
    ...     gg.is_autocast_enabled("cpu")
    True
    """
    return _Restored(state) if any(state[0].values()) else _NOTHING


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


_NOTHING = _Nothing()


# ---- the op boundary's side ------------------------------------------------------------
def apply(op, name, names, args, kwargs):
    """Run ``op`` (an op boundary) under this thread's autocast policy for ``name``, or
    return ``SKIP`` when autocast does not touch this call. ``names`` are the op's
    parameter names, to find a ``dtype=`` argument given by position."""
    state = _state
    enabled = state.enabled
    if not (enabled["cpu"] or enabled["cuda"]):
        return SKIP
    tensors = []
    _collect(args, tensors)
    _collect(kwargs.values(), tensors)
    if not tensors:
        return SKIP
    device_type = tensors[0]._device.type
    kind = POLICIES[device_type].get(name) if enabled.get(device_type) else None
    if kind is None:
        return SKIP
    eligible = [t for t in tensors if t._device.type == device_type and _low_or_single(t)]
    target = _target(kind, name, state.dtype[device_type], eligible, names, args, kwargs)
    if target is not None:
        cast = _caster(target, device_type, state)
        args = [_map(a, cast) for a in args]
        kwargs = {k: _map(v, cast) for k, v in kwargs.items()}
    # The op's own inner ops run as written, as in PyTorch (autocast is excluded there).
    enabled[device_type] = False
    try:
        return op(*args, **kwargs)
    finally:
        enabled[device_type] = True


def _low_or_single(t):
    """Autocast touches float16/bfloat16/float32 tensors only (never float64)."""
    dt = t.dtype
    return dt.kind == "f" and dt != float64


def _target(kind, name, low, eligible, names, args, kwargs):
    """The dtype to cast the eligible inputs to, or None to cast nothing."""
    if not eligible:
        return None
    if kind == "lower":
        return low
    if kind == "fp32":
        explicit = kwargs.get("dtype")
        if explicit is None and "dtype" in names and names.index("dtype") < len(args):
            explicit = args[names.index("dtype")]
        return None if explicit is not None else float32  # an explicit dtype= wins
    if kind == "promote":
        return float32 if any(t.dtype == float32 for t in eligible) else eligible[0].dtype
    raise RuntimeError(
        f"{name}: torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe "
        "to autocast: float16 probabilities lose the precision the log needs. Use "
        "binary_cross_entropy_with_logits (nn.BCEWithLogitsLoss), which combines the sigmoid "
        "and the loss and is safe to autocast; or run this loss in float32 outside the "
        "region (with gg.autocast('cuda', enabled=False)).")


def _caster(target, device_type, state):
    cache = state.cache if state.cache_enabled and target != float32 else None

    def cast(t):
        if t._device.type != device_type or not _low_or_single(t) or t.dtype == target:
            return t
        if cache is None or not (t.requires_grad and t.grad_fn is None):
            return t.to(dtype=target)
        # A parameter used several times in the region (an RNN's weights) is cast once.
        hit = cache.get(id(t))
        if hit is not None and hit[0] is t and hit[1] is t._data:
            return hit[2]
        out = t.to(dtype=target)
        cache[id(t)] = (t, t._data, out)
        return out
    return cast


def _tensor_class():
    from ..tensor import Tensor
    _Tensor.append(Tensor)
    return Tensor


_Tensor = []


def _collect(values, out):
    Tensor = _Tensor[0] if _Tensor else _tensor_class()
    for v in values:
        if v.__class__ is Tensor or isinstance(v, Tensor):
            out.append(v)
        elif v.__class__ in (list, tuple):
            _collect(v, out)


def _map(value, cast):
    Tensor = _Tensor[0]
    if isinstance(value, Tensor):
        return cast(value)
    if value.__class__ in (list, tuple):
        return value.__class__(_map(v, cast) for v in value)
    return value
