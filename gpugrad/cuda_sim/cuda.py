"""Simulated ``cupy.cuda``: devices, the runtime, streams, events, memory pool, NCCL.

Work runs synchronously; what is simulated is the bookkeeping that real code gets wrong:
the per-thread current device (``with Device(i)``), per-thread per-device current streams,
which device an allocation belongs to, and whether a read on one stream is ordered after
the write on another that it depends on (``_order``: a race on a GPU is an error here).
"""
import itertools
import threading
import types
import weakref

import numpy as np

from . import _array, _graph, _order
from ._graph import Graph  # noqa: F401  (cupy.cuda.Graph)
from ._array import current_device, set_current_device

_state = threading.local()
# Simulated device memory: 16 GiB per device.
TOTAL_MEMORY = 16 << 30


class CUDARuntimeError(RuntimeError):
    """Raised as CuPy raises ``cupy.cuda.runtime.CUDARuntimeError``."""

    def __init__(self, status, message):
        self.status = status
        super().__init__(message)


def _validate(index):
    if not 0 <= index < _array._count[0]:
        raise CUDARuntimeError(101, "cudaErrorInvalidDevice: invalid device ordinal")
    return index


class Device:
    """``cupy.cuda.Device(i)``: a context manager that makes device ``i`` current for the
    calling thread (each thread starts on device 0)."""

    def __init__(self, device=None):
        self.id = current_device() if device is None else int(device)

    def __enter__(self):
        _validate(self.id)
        stack = _state.__dict__.setdefault("device_stack", [])
        stack.append(current_device())
        set_current_device(self.id)
        return self

    def __exit__(self, *exc):
        set_current_device(_state.device_stack.pop())

    def use(self):
        set_current_device(_validate(self.id))

    def synchronize(self):
        _order.host_waited_for_device(_validate(self.id))

    @property
    def compute_capability(self):
        return "90"

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(("cuda", self.id))

    def __int__(self):
        return self.id

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


_ids = itertools.count(0x7f0000000000, 0x100)


class Stream:
    """``cupy.cuda.Stream``: belongs to the device current at creation; ``with stream``
    makes it the calling thread's current stream on that device."""

    def __init__(self, null=False, non_blocking=False, ptr=None):
        self.device_id = current_device()
        self.ptr = 0 if null else next(_ids)
        self.non_blocking = non_blocking
        self._previous = []
        _order.register(self, self.device_id, non_blocking)

    def __enter__(self):
        streams = _streams()
        self._previous.append(streams.get(self.device_id))
        streams[self.device_id] = self
        return self

    def __exit__(self, *exc):
        _streams()[self.device_id] = self._previous.pop()

    def use(self):
        _streams()[self.device_id] = self
        return self

    def synchronize(self):
        _graph.host_read("Stream.synchronize")
        _order.host_waited(_order.snapshot(self._key()))

    def begin_capture(self, mode=None):
        """Start capturing this stream's work into a CUDA graph (see ``_graph``)."""
        if self.ptr == 0:
            raise RuntimeError("cannot capture on the default (legacy) stream")
        _graph.begin(self)

    def end_capture(self):
        """The captured work as a ``Graph``."""
        return _graph.end(self)

    def is_capturing(self):
        capture = _graph.current()
        return capture is not None and capture.stream is self

    def wait_event(self, event):
        if not isinstance(event, Event):
            raise TypeError(f"expected a cupy.cuda.Event, got {type(event).__name__}")
        _order.wait(self._key(), event._seen)

    def _key(self):
        # One null-stream object stands for every device's legacy default stream.
        return (current_device() if self.ptr == 0 else self.device_id, self.ptr)

    def record(self, event=None):
        event = Event() if event is None else event
        event.record(self)
        return event

    @property
    def done(self):
        self.synchronize()  # True: the host knows the work finished
        return True

    def __eq__(self, other):
        return isinstance(other, Stream) and other.ptr == self.ptr \
            and other.device_id == self.device_id

    def __hash__(self):
        return hash((self.ptr, self.device_id))

    def __repr__(self):
        return f"<Stream {self.ptr} (device {self.device_id})>"


class _NullStream(Stream):
    def __init__(self):
        super().__init__(null=True)


Stream.null = _NullStream()


def _streams():
    return _state.__dict__.setdefault("streams", {})


def get_current_stream(device_id=None):
    """The calling thread's current stream on ``device_id`` (default: the current device)."""
    dev = current_device() if device_id is None else device_id
    stream = _streams().get(dev)
    return stream if stream is not None else Stream.null


class Event:
    """``cupy.cuda.Event``: work is synchronous, so a recorded event is complete at once."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.disable_timing = disable_timing
        self.stream = None
        self._seen = {}

    def record(self, stream=None):
        self.stream = get_current_stream() if stream is None else stream
        self._seen = _order.snapshot(self.stream._key())

    def synchronize(self):
        _order.host_waited(self._seen)

    @property
    def done(self):
        self.synchronize()
        return True


def get_elapsed_time(start, end):
    if start.disable_timing or end.disable_timing:
        raise CUDARuntimeError(600, "cudaErrorInvalidResourceHandle: invalid resource handle")
    return 0.0


# -- memory ---------------------------------------------------------------------------------
# Device pointers handed out (``a.data.ptr``, pool blocks) and the arrays they belong to,
# so NCCL and kernels can find the memory behind a raw pointer, as the GPU would.
_pointers = weakref.WeakValueDictionary()


class MemoryPointer:
    """``cupy.cuda.MemoryPointer``: ``ptr`` (an integer address) on ``device``."""

    def __init__(self, array, ptr):
        self._array = array
        self.ptr = ptr
        self.device_id = array._dev

    @classmethod
    def _for(cls, array):
        ptr = array._a.__array_interface__["data"][0]
        _pointers[ptr] = array
        return cls(array, ptr)

    @property
    def device(self):
        return Device(self.device_id)

    def __int__(self):
        return self.ptr


def owner_at(ptr):
    """The simulated array whose memory starts at device pointer ``ptr``."""
    return _pointers.get(ptr)


def array_at(ptr, count, dtype, device_id):
    """The NumPy memory behind a device pointer handed out earlier (``count`` items)."""
    array = _pointers.get(ptr)
    if array is None:
        raise CUDARuntimeError(1, f"cudaErrorInvalidValue: {ptr:#x} is not a live allocation")
    if array._dev != device_id:
        raise CUDARuntimeError(
            1, f"cudaErrorInvalidValue: the buffer is on device {array._dev}, the "
               f"communicator on device {device_id}")
    flat = array._a.reshape(-1)
    if not array._a.flags.c_contiguous or flat.nbytes < count * np.dtype(dtype).itemsize:
        raise CUDARuntimeError(1, "cudaErrorInvalidValue: buffer too small")
    return flat.view(np.uint8)[:count * np.dtype(dtype).itemsize].view(dtype)


class MemoryPool:
    """``cupy.get_default_memory_pool()`` (and ``cupy.cuda.MemoryPool()``): per-device byte
    counts of live arrays."""

    def __init__(self, allocator=None):
        pass

    def malloc(self, size):
        block = _array.ndarray._new(np.empty(max(int(size), 1), np.uint8), current_device())
        return block.data

    def used_bytes(self):
        return _array._used.get(current_device(), 0)

    def total_bytes(self):
        return max(_array._high.get(current_device(), 0), self.used_bytes())

    def free_bytes(self):
        return self.total_bytes() - self.used_bytes()

    def n_free_blocks(self):
        return 1 if self.free_bytes() else 0

    def free_all_blocks(self, stream=None):
        dev = current_device()
        _array._high[dev] = _array._used.get(dev, 0)

    def get_limit(self):
        return 0

    def set_limit(self, size=None, fraction=None):
        pass


_pool = MemoryPool()


def get_device_id():
    return current_device()


def is_available():
    return _array._count[0] > 0


def _make_runtime():
    rt = types.ModuleType("cupy.cuda.runtime")
    rt.CUDARuntimeError = CUDARuntimeError
    rt.getDeviceCount = lambda: _array._count[0]
    rt.getDevice = current_device
    rt.setDevice = lambda index: set_current_device(_validate(index))
    rt.deviceSynchronize = lambda: _order.host_waited_for_device(current_device())
    rt.deviceCanAccessPeer = lambda device, peer: 0
    rt.runtimeGetVersion = lambda: 13000
    rt.driverGetVersion = lambda: 13000
    rt.is_hip = False

    def mem_get_info():
        used = _array._used.get(current_device(), 0)
        return TOTAL_MEMORY - used, TOTAL_MEMORY
    rt.memGetInfo = mem_get_info

    def properties(index):
        _validate(index)
        return {"name": f"gpugrad simulated device {index}".encode(),
                "totalGlobalMem": TOTAL_MEMORY, "multiProcessorCount": 1, "major": 9,
                "minor": 0, "warpSize": 32, "maxThreadsPerBlock": 1024}
    rt.getDeviceProperties = properties
    return rt


runtime = _make_runtime()


class using_allocator:
    """``cupy.cuda.using_allocator(allocator)``: a context with a thread-local allocator.
    Simulated arrays are NumPy memory, so the allocator is accepted and not called."""

    def __init__(self, allocator=None):
        self.allocator = allocator

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
