"""Loader workers: threads that each build every ``num_workers``-th batch.

Threads, not processes: datasets need not pickle, and NumPy/CuPy release the GIL in the
heavy parts. Each worker sees its ``WorkerInfo`` through ``get_worker_info()``.
"""
import queue
import threading
import traceback

from ...random import thread_generator

_LOCAL = threading.local()
_DONE = object()


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``, ``seed``
    and ``dataset`` (the loader's own object; workers share it).

    >>> WorkerInfo(id=0, num_workers=2, seed=7, dataset=None)
    WorkerInfo(id=0, num_workers=2, seed=7, dataset=None)
    """

    def __init__(self, id, num_workers, seed, dataset):
        self.id = id
        self.num_workers = num_workers
        self.seed = seed
        self.dataset = dataset

    def __repr__(self):
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
                f"dataset={self.dataset!r})")


def get_worker_info():
    """The ``WorkerInfo`` of the loader worker running this code; None outside workers.

    An ``IterableDataset`` uses it in ``__iter__`` to give each worker its share.

    >>> get_worker_info() is None
    True
    """
    return getattr(_LOCAL, "info", None)


class _Failure:
    """An exception raised in a worker, re-raised by the loop that reads the batch."""

    def __init__(self, worker_id, error):
        self.error = error
        self.where = f"in DataLoader worker {worker_id}:\n" + "".join(
            traceback.format_exception(type(error), error, error.__traceback__))

    def reraise(self):
        raise self.error from RuntimeError(self.where)


def run_workers(streams, info, init_fn, prefetch, timeout):
    """Yield the batches of the generator functions ``streams`` (one per worker) in turn,
    dropping a worker once its stream ends."""
    stop = threading.Event()
    outs = [queue.Queue(maxsize=prefetch) for _ in streams]
    threads = [threading.Thread(target=_work, daemon=True, name=f"gpugrad-loader-{w}",
                                args=(stream, out, stop, info(w), init_fn))
               for w, (stream, out) in enumerate(zip(streams, outs))]
    for thread in threads:
        thread.start()
    try:
        active, turn = list(range(len(streams))), 0
        while active:
            try:
                item = outs[active[turn]].get(timeout=timeout if timeout > 0 else None)
            except queue.Empty:
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None
            if item is _DONE:
                active.pop(turn)
                turn = turn % len(active) if active else 0
                continue
            if isinstance(item, _Failure):
                item.reraise()
            yield item
            turn = (turn + 1) % len(active)
    finally:
        stop.set()


def _work(stream, out, stop, info, init_fn):
    _LOCAL.info = info
    try:
        with thread_generator(info.seed):
            if init_fn is not None:
                init_fn(info.id)
            for batch in stream():
                if not _put(out, batch, stop):
                    return
        _put(out, _DONE, stop)
    except Exception as error:  # handed to the reading loop
        _put(out, _Failure(info.id, error), stop)
    finally:
        _LOCAL.info = None


def _put(out, item, stop):
    """Put ``item`` unless the loop stopped reading (an abandoned or failed epoch)."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.05)
            return True
        except queue.Full:
            pass
    return False
