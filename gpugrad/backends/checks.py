"""Value checks (index ranges, class targets) that cost a GPU no host synchronisation.

An out-of-range index must raise: NumPy raises for some ops and wraps a negative index
around for others, and CuPy does not bounds-check at all (it returns other elements). The
check itself is one reduction, ``bad.any()``. On the CPU its answer is read at once. On a
GPU, reading it would stall the host until the device caught up, on every gather,
cross-entropy and embedding call; PyTorch answers with a device-side assert reported at
the next synchronisation, and gpugrad does the same without killing the CUDA context:

* ``"deferred"`` (the default on GPUs): the op queues its 0-d "any bad?" flag, and the next
  point where the host reads device memory anyway (``item()``, ``tolist()``, ``cpu()``,
  ``gg.cuda.synchronize()``) reads every queued flag in one copy per device and raises the
  first failure, naming the op. Queued flags are also read every ``_QUEUE_LIMIT`` checks, so
  a loop that never synchronises still learns of a bad index (one sync per that many ops).
* ``"sync"``: raise at the op, with the offending value (one host sync per check; for
  debugging, like ``CUDA_LAUNCH_BLOCKING=1``). ``gg.cuda.debug()`` switches to it for a
  block.
* ``"off"``: no reductions at all on GPUs; bad indices give undefined values.

Chosen with ``gg.cuda.set_checks(mode)`` or ``GPUGRAD_CUDA_CHECKS``. The CPU always checks
at once: there is nothing to wait for.

>>> import gpugrad as gg
>>> try:
...     gg.gather(gg.ones(2, 3), 1, gg.tensor([[0, 5]]))
... except IndexError as err:
...     print(err)
gather: index 5 is out of bounds for dimension 1 with size 3
"""
import os
import threading

import numpy as np

MODES = ("deferred", "sync", "off")
_QUEUE_LIMIT = 256
_lock = threading.Lock()
_pending = []  # (flag array, error class, message, stream or None)


def _mode_from_environment():
    mode = os.environ.get("GPUGRAD_CUDA_CHECKS", "deferred").strip().lower() or "deferred"
    if mode not in MODES:
        raise ValueError(f"GPUGRAD_CUDA_CHECKS must be one of {', '.join(MODES)}, got "
                         f"{mode!r}")
    return mode


_mode = _mode_from_environment()


def mode():
    """The current GPU check mode ("deferred", "sync" or "off")."""
    return _mode


def set_mode(new):
    """Set the GPU check mode; returns the previous one (see the module docstring)."""
    global _mode
    if new not in MODES:
        raise ValueError(f"set_checks: mode must be one of {', '.join(MODES)}, got {new!r}")
    previous, _mode = _mode, new
    return previous


def require_valid(bad, error, describe, values=None):
    """Raise ``error(describe(value))`` if any element of the boolean array ``bad`` is set.

    ``values`` holds the checked values (same shape as ``bad``); ``describe`` receives the
    first bad one, or None when the check is deferred and the value is no longer known.
    On a GPU in "deferred" mode this queues the check instead (see the module docstring).
    """
    if isinstance(bad, (np.ndarray, np.generic)) or _mode == "sync":
        if bool(bad.any()):
            value = None
            if values is not None:
                value = values[bad].reshape(-1)[0].item()
            raise error(describe(value))
        return
    if _mode == "off":
        return
    flag = bad.any()
    with _lock:
        _pending.append((flag, error, describe(None), _current_stream(flag)))
        full = len(_pending) >= _QUEUE_LIMIT
    if full:
        raise_pending()


def _current_stream(flag):
    import cupy
    with cupy.cuda.Device(flag.device.id):
        return cupy.cuda.get_current_stream()


def raise_pending():
    """Read every queued flag (one copy per device) and raise the first failure, in the
    order the ops ran. Called where the host synchronises with a GPU anyway."""
    if not _pending:
        return
    with _lock:
        queued = list(_pending)
        _pending.clear()
    import cupy
    by_device = {}
    for k, (flag, _, _, _) in enumerate(queued):
        by_device.setdefault(flag.device.id, []).append(k)
    # Each flag was written on its op's stream; the host waits for those (once each) before
    # the copies below, which run on this thread's current streams, read them.
    for stream in {entry[3] for entry in queued if entry[3] is not None}:
        stream.synchronize()
    hits = np.zeros(len(queued), dtype=bool)
    for dev, ks in by_device.items():
        with cupy.cuda.Device(dev):
            stacked = cupy.stack([queued[k][0].reshape(1) for k in ks]).reshape(-1)
            hits[ks] = cupy.asnumpy(stacked)
    for hit, (_, error, message, _) in zip(hits, queued):
        if hit:
            raise error(f"{message} (found on the GPU at the next synchronisation; "
                        "gg.cuda.debug() raises at the op, with the value)")


def discard_pending():
    """Forget queued checks without reading them (for tests and error recovery)."""
    with _lock:
        _pending.clear()
