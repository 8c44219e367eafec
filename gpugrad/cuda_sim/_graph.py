"""Simulated CUDA graphs: ``Stream.begin_capture`` / ``end_capture`` / ``Graph.launch``.

What a real capture does that code can get wrong is simulated: the captured work runs again
on every launch *at the addresses it saw*, reading whatever those arrays hold then and
writing into the same output arrays; the host may not read device memory while a capture
is on. The work also runs once during the capture (real CUDA does not run it), so values
computed from garbage are not a failure mode here; host reads are, and raise. Memory the
capture wrote in place is restored when it ends, as if nothing had run.

Each simulated operation that writes device memory reports a ``recompute`` closure (over
the NumPy buffers it used) and the buffer its result goes into; an operation that cannot
(a Numba kernel, NCCL, a host-to-device copy) marks the capture unsupported, and launching
such a graph raises ``NotImplementedError`` naming it.
"""
import threading

import numpy as np

_local = threading.local()


class StreamCaptureError(RuntimeError):
    """CUDA's ``cudaErrorStreamCaptureUnsupported``: work not allowed while capturing."""


def current():
    """The capture on this thread, or None."""
    return getattr(_local, "capture", None)


def begin(stream):
    if current() is not None:
        raise StreamCaptureError("cudaErrorIllegalState: this thread is already capturing")
    _local.capture = _Capture(stream)


def end(stream):
    capture = current()
    if capture is None or capture.stream is not stream:
        raise StreamCaptureError("cudaErrorIllegalState: the stream is not capturing")
    _local.capture = None
    # A real capture runs nothing: memory the captured work wrote in place is as it was.
    for buffer, before in capture.saved.values():
        np.copyto(buffer, before)
    return Graph(capture.steps, capture.unsupported, capture.reads, capture.writes)


def saw(reads, writes):
    """The arrays a simulated kernel read and wrote (for the stream-order checker, which
    sees them again when the graph is launched)."""
    capture = current()
    if capture is not None:
        capture.reads.extend(reads)
        capture.writes.extend(writes)


def before_write(buffer):
    """``buffer`` (NumPy memory of a simulated array) is about to be written in place."""
    capture = current()
    if capture is not None and id(buffer) not in capture.saved:
        capture.saved[id(buffer)] = (buffer, buffer.copy())


def note(recompute, target=None):
    """A write during a capture: ``recompute()`` redoes it (and returns the new values for
    ``target``, a NumPy buffer, or writes in place itself and returns None)."""
    capture = current()
    if capture is not None:
        capture.steps.append((recompute, target))


def unsupported(what):
    capture = current()
    if capture is not None:
        capture.unsupported.append(what)


def host_read(what="a copy to the host"):
    if current() is not None:
        raise StreamCaptureError(f"cudaErrorStreamCaptureUnsupported: {what} while a stream "
                                 "is capturing (it would synchronize)")


class _Capture:
    def __init__(self, stream):
        self.stream = stream
        self.steps = []
        self.unsupported = []
        self.saved = {}  # id -> (buffer, its contents before the capture wrote it)
        self.reads, self.writes = [], []


class Graph:
    """``cupy.cuda.Graph``: made by ``Stream.end_capture()``, run with ``launch``."""

    def __init__(self, steps, missing, reads, writes):
        self._steps = steps
        self._missing = missing
        self._reads, self._writes = tuple(reads), tuple(writes)

    def launch(self, stream=None):
        if self._missing:
            raise NotImplementedError(f"the CUDA simulator cannot replay {self._missing[0]} "
                                      "in a graph")
        host_read("launching a graph")
        from . import _order
        from .cuda import get_current_stream
        stream = get_current_stream() if stream is None else stream
        # The launch is the captured work, on the launching stream: what it writes is
        # ordered on that stream first (the capture's own marks named the capturing one),
        # then what it reads from outside is checked.
        _order.launch(writes=self._writes, key=stream._key())
        _order.launch(reads=self._reads, key=stream._key())
        for recompute, target in self._steps:
            value = recompute()
            if target is not None:
                np.copyto(target, value, casting="unsafe")

    def upload(self, stream=None):
        pass
