"""The process group: MPI's ``COMM_WORLD`` through mpi4py, imported only by ``init()``.

A rank that fails must not leave the others waiting in a collective forever, so ``init()``
installs exception hooks that print the error and call ``MPI.COMM_WORLD.Abort(1)``, which
makes ``mpiexec`` end every rank. ``run(main)`` and ``abort_on_error()`` do the same for a
block of code. Every collective below goes through the watchdog of ``watchdog.py``: ranks that
take different paths, exit early or stall past the timeout raise instead of hanging.
"""
import atexit
import contextlib
import os
import pickle
import sys
import threading
import time
import traceback

import numpy as np

from . import watchdog as _watchdog

_MPI = None
_COMM = None
_WATCHDOG = None
_ABORT_GRACE_SECONDS = 0.3

# Variables MPI launchers set in each rank's environment (MPICH/Intel MPI, Open MPI,
# MVAPICH): they tell whether a script runs under mpiexec before MPI is initialised.
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")


def init(timeout=None):
    """Initialise MPI (once) and install the abort-on-error hooks; returns the world size.

    ``timeout`` (seconds or a ``datetime.timedelta``; default ``$GPUGRAD_DIST_TIMEOUT``,
    else 300 s) bounds every collective: one that does not complete in time raises
    ``CollectiveError`` naming the rank, the collective and the step. Calling ``init``
    again with a timeout changes it. Every rank must call ``init``. Works without
    ``mpiexec`` too (a world of one process)::

        dist.init(timeout=60)

    >>> import gpugrad.distributed as dist
    >>> dist.init()  # without mpiexec: a world of one process
    1
    """
    global _MPI, _COMM, _WATCHDOG
    if _COMM is None:
        seconds = _watchdog.timeout_seconds(timeout)
        try:
            from mpi4py import MPI
        except ImportError:
            raise RuntimeError("gpugrad.distributed needs mpi4py and an MPI library; "
                               "install gpugrad[mpi] (mpi4py + the mpich wheel)") from None
        _MPI, _COMM = MPI, MPI.COMM_WORLD
        _WATCHDOG = _watchdog.Watchdog(_COMM, MPI, seconds)
        _install_hooks()
        # Registered after mpi4py's import, so it runs before MPI_Finalize.
        atexit.register(_exit_handshake)
    elif timeout is not None:
        _WATCHDOG.timeout = _watchdog.timeout_seconds(timeout)
    return _COMM.Get_size()


def is_initialized():
    """True once ``init()`` ran.

    >>> isinstance(is_initialized(), bool)
    True
    """
    return _COMM is not None


def comm():
    """The mpi4py communicator of all ranks (``init()`` first).

    >>> import gpugrad.distributed as dist
    >>> _ = dist.init()
    >>> dist.comm().Get_size() == dist.world_size()
    True
    """
    if _COMM is None:
        raise RuntimeError("gpugrad.distributed is not initialised: call dist.init() first")
    return _COMM


def mpi():
    """The ``mpi4py.MPI`` module (``init()`` first)."""
    comm()
    return _MPI


def watchdog():
    """The watchdog every gpugrad collective goes through (``init()`` first)."""
    comm()
    return _WATCHDOG


def rank():
    """This process's rank, 0 .. world_size() - 1.

    >>> import gpugrad.distributed as dist
    >>> _ = dist.init()
    >>> dist.rank()  # under mpiexec -n 2: 0 on one process, 1 on the other
    0
    """
    return comm().Get_rank()


def world_size():
    """The number of ranks.

    >>> import gpugrad.distributed as dist
    >>> _ = dist.init()
    >>> dist.world_size()  # 2 under mpiexec -n 2
    1
    """
    return comm().Get_size()


def barrier():
    """Wait until every rank got here (a collective, under the timeout).

    >>> import gpugrad.distributed as dist
    >>> _ = dist.init()
    >>> dist.barrier()  # returns once every rank called it
    """
    op = watchdog().begin("barrier")
    _WATCHDOG.wait([_WATCHDOG.comm("barrier").Ibarrier()], op)


def launched_world_size():
    """How many ranks the MPI launcher started, read from the environment (1 if none);
    needs no MPI import, so it can decide whether to call ``init()`` at all.

    >>> launched_world_size() >= 1
    True
    """
    for name in _SIZE_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 1


def launched_rank():
    """This process's rank from the launcher's environment (0 if none).

    >>> import gpugrad.distributed as dist
    >>> dist.launched_rank()  # without mpiexec
    0
    """
    for name in _RANK_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def all_reduce_sum(values):
    """The elementwise sum over ranks of ``values`` (numbers), as a float64 NumPy array.

    Blocking; every rank must call it with the same number of values.

    >>> import gpugrad.distributed as dist
    >>> _ = dist.init()
    >>> dist.all_reduce_sum([1.0, 2.0])  # x world_size under mpiexec, if every rank sends this
    array([1., 2.])
    """
    local = np.asarray(values, dtype=np.float64).reshape(-1)
    total = np.empty_like(local)
    op = watchdog().begin("all_reduce_sum")
    _WATCHDOG.wait([_WATCHDOG.comm("all_reduce_sum").Iallreduce(local, total, op=_MPI.SUM)], op)
    return total


def broadcast_object(obj, root=0):
    """``obj`` from rank ``root`` on every rank (pickled: for small, trusted metadata).

    >>> import gpugrad.distributed as dist
    >>> _ = dist.init()
    >>> dist.broadcast_object({'seed': 42} if dist.rank() == 0 else None)
    {'seed': 42}
    """
    op = watchdog().begin("broadcast_object")
    channel = _WATCHDOG.comm("broadcast_object")
    data = pickle.dumps(obj) if channel.Get_rank() == root else b""
    length = np.array([len(data)], dtype=np.int64)
    _WATCHDOG.wait([channel.Ibcast(length, root=root)], op)
    payload = bytearray(data) if channel.Get_rank() == root else bytearray(int(length[0]))
    _WATCHDOG.wait([channel.Ibcast(payload, root=root)], op)
    return obj if channel.Get_rank() == root else pickle.loads(payload)


def allgather_object(obj, kind="allgather_object", step=-1):
    """Every rank's ``obj`` (pickled), in rank order: ``kind`` names the collective in
    errors (one of ``watchdog.KINDS``)."""
    op = watchdog().begin(kind, step)
    channel = _WATCHDOG.comm(kind)
    data = bytearray(pickle.dumps(obj))
    lengths = np.empty(channel.Get_size(), dtype=np.int64)
    _WATCHDOG.wait([channel.Iallgather(np.array([len(data)], dtype=np.int64), lengths)], op)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    received = bytearray(int(lengths.sum()))
    _WATCHDOG.wait([channel.Iallgatherv(data, [received, lengths, starts, _MPI.BYTE])], op)
    return [pickle.loads(received[a:a + n]) for a, n in zip(starts, lengths)]


def broadcast_arrays(arrays, root=0, kind="state broadcast", step=-1):
    """Overwrite the NumPy ``arrays`` (the same shapes on every rank) with rank ``root``'s,
    in one operation named ``kind``."""
    op = watchdog().begin(kind, step)
    channel = _WATCHDOG.comm(kind)
    _WATCHDOG.wait([channel.Ibcast(a, root=root) for a in arrays], op)


def abort(code=1):
    """End every rank now (flushing this one's output first).

    >>> import subprocess, sys
    >>> code = 'import gpugrad.distributed as dist; dist.abort(3)'
    >>> subprocess.run([sys.executable, '-c', code]).returncode
    3
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if _several_ranks():
        with contextlib.suppress(Exception):
            _WATCHDOG.notify_abort()  # ranks waiting for this one raise, saying why
        # mpiexec forwards each rank's output asynchronously and stops forwarding once it
        # tears the job down: give it a moment to pass this rank's error on.
        time.sleep(_ABORT_GRACE_SECONDS)
        _COMM.Abort(code)
    os._exit(code)


@contextlib.contextmanager
def abort_on_error():
    """Run a block; if it raises (or exits non-zero), print the error and abort every rank.

    In a world of one process the exception simply propagates.

    >>> import gpugrad.distributed as dist
    >>> _ = dist.init()
    >>> with dist.abort_on_error():
    ...     total = sum([1, 2])
    >>> total
    3
    """
    try:
        yield
    except SystemExit as exc:
        if exc.code not in (None, 0) and _several_ranks():
            _report(f"exited with {exc.code!r}")
            abort(exc.code if isinstance(exc.code, int) else 1)
        raise
    except BaseException:
        if not _several_ranks():
            raise
        _report(traceback.format_exc())
        abort(1)


def run(main, *args, **kwargs):
    """``main(*args, **kwargs)`` under ``init()`` and ``abort_on_error()``; its result.

    The usual entry point of a script started with ``mpiexec -n 2 python script.py``.

    >>> import gpugrad.distributed as dist
    >>> dist.run(lambda a, b: a + b, 2, 3)
    5
    """
    init()
    with abort_on_error():
        return main(*args, **kwargs)


def _several_ranks():
    return _COMM is not None and _COMM.Get_size() > 1


def _exit_handshake():
    """At a normal exit: agree with the others that every rank ran the same collectives;
    abort every rank if not (or after a collective error), so none waits forever."""
    if not _WATCHDOG.at_exit():
        abort(1)


def _report(message):
    who = f"rank {_COMM.Get_rank()}" if _COMM is not None else "gpugrad.distributed"
    sys.stderr.write(f"[{who}] failed, aborting all ranks:\n{message}\n")


def _install_hooks():
    """Uncaught exceptions (main thread or any other) abort every rank."""
    previous = sys.excepthook

    previous_thread = threading.excepthook

    def excepthook(exc_type, exc, tb):
        with contextlib.suppress(Exception):
            previous(exc_type, exc, tb)
        if _several_ranks():
            _report(f"{exc_type.__name__}: {exc}")
            abort(1)

    def thread_excepthook(args):
        if args.exc_type is SystemExit or not _several_ranks():
            previous_thread(args)
            return
        _report("".join(traceback.format_exception(args.exc_type, args.exc_value,
                                                   args.exc_traceback)))
        abort(1)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
