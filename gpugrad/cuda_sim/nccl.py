"""Simulated ``cupy.cuda.nccl``: communicators whose collectives really reduce.

A clique is the set of communicators made from one unique id (``initAll`` makes one). A
collective is queued per rank and runs once every rank of the clique has queued it, which
is NCCL's contract. As NCCL requires, one thread driving several ranks of a clique must
put its calls between ``groupStart()`` and ``groupEnd()``; otherwise the second call
raises (on a GPU it would deadlock). Ranks in other processes (the MPI-bootstrapped form
under ``mpiexec``) are reached over ``mpi4py``'s ``COMM_WORLD``.
"""
import os
import threading

import numpy as np

from . import _order
from .cuda import array_at, owner_at
from ._array import current_device

NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_UINT32, NCCL_INT64, NCCL_UINT64 = 0, 1, 2, 3, 4, 5
NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 6, 7, 8
NCCL_CHAR, NCCL_INT, NCCL_HALF, NCCL_FLOAT, NCCL_DOUBLE = 0, 2, 6, 7, 8
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN, NCCL_AVG = 0, 1, 2, 3, 4
_DTYPES = {0: np.int8, 1: np.uint8, 2: np.int32, 3: np.uint32, 4: np.int64, 5: np.uint64,
           6: np.float16, 7: np.float32, 8: np.float64}
_REDUCE = {NCCL_SUM: np.add, NCCL_PROD: np.multiply, NCCL_MAX: np.maximum,
           NCCL_MIN: np.minimum, NCCL_AVG: np.add}

_lock = threading.RLock()
_cliques = {}
_group = threading.local()


class NcclError(RuntimeError):
    """Raised as ``cupy.cuda.nccl.NcclError``."""


def get_version():
    return 22703


def get_unique_id():
    """A fresh id naming a clique (a tuple, so it pickles for ``mpi_comm.bcast``)."""
    return tuple(int(b) for b in os.urandom(128))


class _Clique:
    def __init__(self, nranks):
        self.nranks = nranks
        self.members = {}
        self.pending = {}


class NcclCommunicator:
    """One rank of a clique, on the device current at construction."""

    def __init__(self, ndev, commId, rank):
        if not 0 <= rank < ndev:
            raise NcclError("NCCL_ERROR_INVALID_ARGUMENT: rank out of range")
        self._device = current_device()
        self._rank, self._nranks = rank, ndev
        with _lock:
            clique = _cliques.setdefault(tuple(commId), _Clique(ndev))
            if rank in clique.members:
                raise NcclError(f"NCCL_ERROR_INVALID_USAGE: rank {rank} joined twice")
            clique.members[rank] = self
            clique.pending[rank] = []
        self._clique = clique

    @staticmethod
    def initAll(devices):
        """One communicator per device of this process, as one clique."""
        from .cuda import Device
        if isinstance(devices, int):
            devices = list(range(devices))
        uid = get_unique_id()
        comms = []
        for rank, index in enumerate(devices):
            with Device(index):
                comms.append(NcclCommunicator(len(devices), uid, rank))
        return comms

    def rank_id(self):
        return self._rank

    def size(self):
        return self._nranks

    def device_id(self):
        return self._device

    def destroy(self):
        with _lock:
            self._clique.members.pop(self._rank, None)

    def abort(self):
        self.destroy()

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
        dtype = _DTYPES[datatype]
        send = array_at(sendbuf, count, dtype, self._device)
        recv = array_at(recvbuf, count, dtype, self._device)
        self._ordered(sendbuf, recvbuf, stream)
        self._queue(("allreduce", send, recv, op))

    def broadcast(self, sendbuf, recvbuf, count, datatype, root, stream):
        dtype = _DTYPES[datatype]
        send = array_at(sendbuf, count, dtype, self._device) if self._rank == root else None
        recv = array_at(recvbuf, count, dtype, self._device)
        self._ordered(sendbuf if self._rank == root else None, recvbuf, stream)
        self._queue(("broadcast", send, recv, root))

    def _ordered(self, sendbuf, recvbuf, stream):
        """The collective is a kernel on ``stream`` (a pointer; 0 is the default stream)."""
        send = [] if sendbuf is None else [owner_at(sendbuf)]
        recv = [owner_at(recvbuf)]
        _order.launch(reads=[a for a in send if a is not None],
                      writes=[a for a in recv if a is not None], key=(self._device, stream))

    def bcast(self, buff, count, datatype, root, stream):
        self.broadcast(buff, buff, count, datatype, root, stream)

    def _queue(self, work):
        clique = self._clique
        with _lock:
            mine = _group.__dict__.setdefault("queued", [])
            grouped = getattr(_group, "depth", 0) > 0
            if not grouped and any(c is clique and r != self._rank for c, r in mine):
                raise NcclError("NCCL_ERROR_INVALID_USAGE: one thread calls a collective on "
                                "a second rank of a clique outside groupStart()/groupEnd() "
                                "(this deadlocks on GPUs)")
            clique.pending[self._rank].append(work)
            mine.append((clique, self._rank))
            if not grouped:
                _run(clique)
                _group.queued = [(c, r) for c, r in mine if c.pending[r]]


def groupStart():
    _group.depth = getattr(_group, "depth", 0) + 1


def groupEnd():
    depth = getattr(_group, "depth", 0)
    if depth == 0:
        raise NcclError("NCCL_ERROR_INVALID_USAGE: groupEnd() without groupStart()")
    _group.depth = depth - 1
    if _group.depth == 0:
        with _lock:
            mine = _group.__dict__.setdefault("queued", [])
            for clique in {id(c): c for c, _ in mine}.values():
                _run(clique)
            _group.queued = [(c, r) for c, r in mine if c.pending[r]]


def _run(clique):
    """Run every collective that all ranks have queued, in order."""
    local = len(clique.members)
    if local < clique.nranks:
        if local == 1:  # the other ranks are processes of this MPI job
            (rank, queue), = clique.pending.items()
            while queue:
                _over_mpi(clique, queue.pop(0))
        return
    while all(clique.pending[r] for r in range(clique.nranks)):
        works = [clique.pending[r].pop(0) for r in range(clique.nranks)]
        kind = works[0][0]
        if any(w[0] != kind for w in works):
            raise NcclError("NCCL_ERROR_INVALID_USAGE: ranks called different collectives")
        if kind == "allreduce":
            op = works[0][3]
            total = works[0][1].copy()
            for w in works[1:]:
                _REDUCE[op](total, w[1], out=total)
            if op == NCCL_AVG:
                total /= clique.nranks
            for w in works:
                w[2][...] = total
        else:
            root = works[0][3]
            source = works[root][1].copy()
            for w in works:
                w[2][...] = source


def _over_mpi(clique, work):
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    if world.Get_size() != clique.nranks:
        raise NcclError(f"NCCL_ERROR_INVALID_USAGE: a clique of {clique.nranks} ranks but "
                        f"{world.Get_size()} MPI processes")
    kind, send, recv, arg = work
    if kind == "allreduce":
        ops = {NCCL_SUM: MPI.SUM, NCCL_PROD: MPI.PROD, NCCL_MAX: MPI.MAX,
               NCCL_MIN: MPI.MIN, NCCL_AVG: MPI.SUM}
        out = np.empty_like(recv)
        world.Allreduce(np.ascontiguousarray(send), out, op=ops[arg])
        if arg == NCCL_AVG:
            out /= clique.nranks
        recv[...] = out
    else:
        data = send.copy() if send is not None else np.empty_like(recv)
        world.Bcast(data, root=arg)
        recv[...] = data
