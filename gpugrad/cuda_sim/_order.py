"""Stream order: which work a kernel may rely on having finished.

The simulator runs every kernel at once, so a missing wait between streams never gives a
wrong value here, while on a GPU it is a race: a copy to another device that starts before
the upload it reads has finished, a host read of an array another stream is still writing.
So each piece of device memory remembers the stream that last wrote it and that write's
position in the stream, and a kernel reading it from another stream must be ordered after
it by CUDA's rules, or ``StreamOrderError`` says which array and which streams:

* work on one stream runs in order;
* ``stream.wait_event(event)`` orders the stream after what ``event`` recorded (and after
  what that stream had itself waited for);
* the legacy default (null) stream and a blocking stream (``non_blocking=False``) of the
  same device wait for each other;
* ``synchronize()`` of a stream, event or device, and a copy to the host (which waits for
  its stream), order all later work after the work they waited for.

Only reads after writes are checked (the race that gives wrong values); memory is tracked
per allocation, so a write through a view counts for the whole allocation.
"""
import threading
import weakref

import numpy as np

_lock = threading.Lock()
_count = {}      # stream key -> number of launches so far
_waits = {}      # stream key -> {stream key: launch number it is ordered after}
_host = {}       # stream key -> launch number the host has waited for
_blocking = {}   # stream key -> False for streams made with non_blocking=True
_written = {}    # id(memory root) -> (weakref to root, stream key, launch number)
enabled = True


class StreamOrderError(RuntimeError):
    """A kernel read memory that another stream writes with nothing ordering the two."""


def stream_key(stream, device):
    """The key of ``stream`` on ``device`` (the null stream has one per device)."""
    return (device, stream.ptr)


def register(stream, device, non_blocking):
    _blocking[(device, stream.ptr)] = not non_blocking


def current_key():
    from ._array import current_device
    from .cuda import get_current_stream
    device = current_device()
    return (device, get_current_stream(device).ptr)


def _root(array):
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def launch(reads=(), writes=(), key=None):
    """One kernel on ``key``'s stream (default: the current one) reading the simulated
    arrays ``reads`` and writing ``writes``."""
    from . import _graph
    _graph.saw(reads, writes)
    if not enabled:
        return
    key = current_key() if key is None else key
    with _lock:
        n = _count[key] = _count.get(key, 0) + 1
        for a in reads:
            _check_read(a, key)
        for a in writes:
            root = _root(a._a)
            _written[id(root)] = (weakref.ref(root), key, n)


def _check_read(a, key):
    root = _root(a._a)
    mark = _written.get(id(root))
    if mark is None or mark[0]() is not root:
        return
    _, writer, n = mark
    if writer == key or _host.get(writer, 0) >= n or _waits.get(key, {}).get(writer, 0) >= n:
        return
    if writer[0] == key[0] and 0 in (writer[1], key[1]) \
            and _blocking.get(writer, True) and _blocking.get(key, True):
        return  # the legacy default stream and blocking streams wait for each other
    raise StreamOrderError(
        f"stream race: an array of shape {a.shape} ({a.dtype}) on device {a._dev} is read "
        f"on stream {key[1]:#x} of device {key[0]} while stream {writer[1]:#x} of device "
        f"{writer[0]} may still be writing it: nothing orders the two (record an Event after "
        "the write and make the reading stream wait_event it, or synchronize)")


def snapshot(key):
    """What an event recorded on ``key``'s stream now stands for."""
    with _lock:
        seen = dict(_waits.get(key, {}))
        seen[key] = _count.get(key, 0)
        return seen


def wait(key, seen):
    """Order ``key``'s stream after the work in ``seen`` (a snapshot)."""
    with _lock:
        mine = _waits.setdefault(key, {})
        for k, n in seen.items():
            if n > mine.get(k, 0):
                mine[k] = n


def host_waited(seen):
    """The host waited for the work in ``seen``: everything later is ordered after it."""
    with _lock:
        for k, n in seen.items():
            if n > _host.get(k, 0):
                _host[k] = n


def host_waited_for_device(device):
    with _lock:
        for k, n in _count.items():
            if k[0] == device and n > _host.get(k, 0):
                _host[k] = n


def host_read(a):
    """A copy to the host, which CuPy queues on the current stream of the array's device
    (``get()`` enters that device) and then waits for."""
    from . import _graph
    from .cuda import get_current_stream
    _graph.host_read(f"a copy of an array of shape {a.shape} to the host")
    key = (a._dev, get_current_stream(a._dev).ptr)
    launch(reads=(a,), key=key)
    host_waited(snapshot(key))
