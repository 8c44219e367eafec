"""The GPU side of data parallelism, kept thin: CuPy streams, events and NCCL calls only.

Everything here follows CuPy's documented API (``cupy.cuda.Stream``, ``cupy.cuda.Event``,
``cupy.cuda.nccl``) and is imported only when a device list holds GPUs, so CPU-only
installations never import CuPy. Tested by the ``cuda``-marked tests.
"""
import contextlib

import numpy as np


def _cupy():
    import cupy
    return cupy


def _nccl():
    from cupy.cuda import nccl
    return nccl


def nccl_dtype(dtype):
    """The NCCL datatype constant for a NumPy floating dtype."""
    nccl = _nccl()
    table = {np.dtype(np.float16): nccl.NCCL_FLOAT16,
             np.dtype(np.float32): nccl.NCCL_FLOAT32,
             np.dtype(np.float64): nccl.NCCL_FLOAT64}
    try:
        return table[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"NCCL all-reduce of {dtype} gradients is not supported") from None


def new_stream(device):
    """A stream of its own on ``device`` that does not wait for the legacy null stream."""
    cupy = _cupy()
    with cupy.cuda.Device(device.index):
        return cupy.cuda.Stream(non_blocking=True)


@contextlib.contextmanager
def on_stream(device, stream):
    """Make ``device`` and its ``stream`` current in this thread (CuPy's current stream is
    per thread, so each data-parallel worker keeps its own)."""
    cupy = _cupy()
    with cupy.cuda.Device(device.index), stream:
        yield


@contextlib.contextmanager
def on_device(device):
    """Make ``device`` current in this thread, keeping its current stream."""
    with _cupy().cuda.Device(device.index):
        yield


def streams_wait_for_callers(devices, streams):
    """Make every stream in ``streams`` wait for the work queued so far on this thread's
    current stream of each of ``devices`` (events: the host does not block)."""
    cupy = _cupy()
    events = []
    for device in devices:
        with cupy.cuda.Device(device.index):
            events.append(cupy.cuda.get_current_stream().record())
    for stream in streams:
        for event in events:
            stream.wait_event(event)


def wait_for_current(stream):
    """Make ``stream`` wait for the work queued so far on this thread's current stream."""
    cupy = _cupy()
    event = cupy.cuda.Event(disable_timing=True)
    event.record(cupy.cuda.get_current_stream())
    stream.wait_event(event)


def current_waits_for(stream):
    """Make this thread's current stream wait for the work queued so far on ``stream``."""
    cupy = _cupy()
    event = cupy.cuda.Event(disable_timing=True)
    event.record(stream)
    cupy.cuda.get_current_stream().wait_event(event)


class LocalNccl:
    """NCCL communicators for several GPUs driven by one process (``initAll``), created once.

    ``all_reduce(buffers, streams)`` sums one flat CuPy buffer per device in place, each on
    its device's stream, as one NCCL group (one thread driving several GPUs must group).
    """

    def __init__(self, devices):
        self.comms = _nccl().NcclCommunicator.initAll([d.index for d in devices])

    def all_reduce(self, buffers, streams):
        nccl = _nccl()
        nccl.groupStart()
        try:
            for comm, buf, stream in zip(self.comms, buffers, streams):
                comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, nccl_dtype(buf.dtype),
                               nccl.NCCL_SUM, stream.ptr)
        finally:
            nccl.groupEnd()


class RankNccl:
    """One NCCL communicator per process, bootstrapped over MPI: rank 0 makes the unique id
    and broadcasts it (``mpi_comm.bcast`` pickles it); every rank then joins on its GPU."""

    def __init__(self, mpi_comm, device):
        nccl = _nccl()
        uid = nccl.get_unique_id() if mpi_comm.Get_rank() == 0 else None
        uid = mpi_comm.bcast(uid, root=0)
        with _cupy().cuda.Device(device.index):
            self.comm = nccl.NcclCommunicator(mpi_comm.Get_size(), uid, mpi_comm.Get_rank())

    def all_reduce(self, buf, stream):
        """Sum ``buf`` over the ranks, in place, queued on ``stream``."""
        nccl = _nccl()
        self.comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, nccl_dtype(buf.dtype),
                            nccl.NCCL_SUM, stream.ptr)
