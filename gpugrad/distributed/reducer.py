"""Hook-driven bucketed gradient all-reduce: the engine of ``DistributedDataParallel``.

Gradients are packed, as soon as each parameter's hook has reported it complete, into flat
buckets (~25 MB, reverse parameter order, the same plan on every rank). A bucket's non-blocking
all-reduce starts as soon as all its gradients are in, so communication overlaps the rest of
backward. Buckets are started strictly in plan order, so every rank issues the same
collectives in the same order even if its backward visits parameters differently.

Weighting: a rank packs its gradients times ``E_r`` (its examples since the last sync); after
the sum every gradient is unpacked times ``1 / sum(E_r)``. Together with the host vector
reduced at the end (loss sums, example counts, and one "had a gradient" flag per
parameter) this gives the exact gradient of the mean loss over all ranks' examples, and
``None`` for a parameter no rank had a gradient for. The host vector also carries the
caller's step header (``ddp.py`` checks it before anything is unpacked), and waiting for
it and the buckets goes through the watchdog, so a step whose ranks disagree never writes
an averaged gradient.
"""
import time

import numpy as np

import gpugrad as gg
from ..parallel.buckets import pack, plan_buckets, unpack
from ..sparse import RowSparseGrad


class Reducer:
    """Buckets, hooks and per-step bookkeeping for one rank's trainable ``params``.

    ``transport`` moves the bytes (``MpiTransport`` or ``NcclTransport``). One synced step
    is ``start(examples)``, then ``backward()``, then ``finish(extra, wait)``, then
    ``apply()`` (write the averages into ``.grad``) or ``discard()``.
    """

    def __init__(self, params, transport, cap_mb):
        self.params = list(params)
        self.transport = transport
        self.buckets = plan_buckets(self.params, cap_mb)
        self._slot = {}  # position -> (bucket, offset)
        self.flats = []
        for b, members in enumerate(self.buckets):
            offset = 0
            for pos in members:
                self._slot[pos] = (b, offset)
                offset += self.params[pos].numel()
            first = self.params[members[0]]
            self.flats.append(transport.empty(offset, first.dtype))
        self.active = False
        #: Seconds spent packing in hooks plus waiting and unpacking in ``finish``.
        self.seconds = 0.0
        self.handles = [p.register_hook(self._hook(pos)) for pos, p in enumerate(self.params)]

    def start(self, examples, contribute=True):
        """Arm the hooks for one synced backward; ``examples`` weighs this rank's grads.
        ``contribute=False``: send zeros whatever ``.grad`` holds (a rank that has joined,
        or one whose step failed)."""
        self.active = contribute
        self.contribute = contribute
        self.weight = float(examples) if contribute else 0.0
        self.filled = np.zeros(len(self.params), dtype=bool)
        self.had_grad = np.zeros(len(self.params), dtype=np.float64)
        self.pending = [len(members) for members in self.buckets]
        self.next_launch = 0
        self.waiting = []  # positions whose gradient is complete but not yet packed
        self.seconds = 0.0

    def cancel(self):
        """Disarm after an error (the step's collectives may be half issued)."""
        self.active = False

    def stop_contributing(self):
        """Send zeros for everything not packed yet (the step failed on this rank)."""
        self.active = self.contribute = False
        self.weight = 0.0
        self.had_grad[:] = 0.0

    def _hook(self, pos):
        def hook(grad):
            if self.active:
                started = time.perf_counter()
                # The engine adds ``grad`` into ``.grad`` right after this hook returns, so
                # ``.grad`` then holds the total to send (accumulated gradients included),
                # already contiguous: pack it at the next hook, or in finish().
                self._pack_waiting()
                self.waiting.append(pos)
                self.seconds += time.perf_counter() - started
            return None
        return hook

    def _pack_waiting(self):
        for pos in self.waiting:
            self._fill(pos)
        self.waiting = []

    def _fill(self, pos):
        """Pack ``.grad`` of ``pos`` (weighted) into its bucket slot, zeros if it has none."""
        p = self.params[pos]
        grad = _dense(p.grad) if self.contribute else None
        b, offset = self._slot[pos]
        slot = self.flats[b][offset:offset + p.numel()]
        if grad is None:
            slot.fill(0)
        else:
            pack([grad._data], slot, scale=self.weight)
            self.had_grad[pos] = 1.0
        self.filled[pos] = True
        self.pending[b] -= 1
        self._launch_ready()

    def _launch_ready(self):
        while self.next_launch < len(self.buckets) and self.pending[self.next_launch] == 0:
            self.transport.launch(self.flats[self.next_launch])
            self.next_launch += 1
        self.transport.progress()

    def finish(self, extra, wait):
        """Complete the step's communication: zero-fill parameters that got no gradient,
        send the host vector (example count, gradient flags, then ``extra``), and wait for
        everything with ``wait(requests)``. Returns the sums of ``extra``; nothing is
        unpacked yet (``apply`` or ``discard`` next)."""
        started = time.perf_counter()
        self.active = False
        self._pack_waiting()
        for pos in np.flatnonzero(~self.filled):
            self._fill(int(pos))
        host = np.concatenate([[self.weight], self.had_grad,
                               np.asarray(extra, dtype=np.float64)])
        host = self.transport.finish(host, wait)
        self.examples = host[0]
        self.flags = host[1:1 + len(self.params)]
        self.seconds += time.perf_counter() - started
        return host[1 + len(self.params):]

    def apply(self, factor=1.0):
        """Write the averaged gradients (times ``factor``) into ``.grad``."""
        started = time.perf_counter()
        if self.examples <= 0 and self.flags.any():
            raise ValueError("DistributedDataParallel: no rank had any examples this step")
        self._unpack(self.flags, factor / self.examples if self.examples > 0 else 0.0)
        self.seconds += time.perf_counter() - started

    def discard(self):
        """Drop this step's gradients (``.grad = None``): no optimizer step can use them."""
        for p in self.params:
            p.grad = None

    def _unpack(self, flags, scale):
        with gg.no_grad():
            for pos, p in enumerate(self.params):
                if flags[pos] == 0:
                    p.grad = None
                    continue
                b, offset = self._slot[pos]
                grad = _reusable(p)
                if grad is None:
                    grad = gg.empty(p.shape, dtype=p.dtype, device=p.device)
                unpack(self.flats[b][offset:offset + p.numel()], [grad._data], scale=scale)
                p.grad = grad


def _reusable(p):
    """``p.grad`` if the average can overwrite it in place (saves an allocation per step):
    the local gradient backward just left there, dense, C-contiguous, of ``p``'s dtype. The
    engine never lets two ``.grad`` share an array, so nothing else sees the write."""
    grad = p.grad
    if not isinstance(grad, gg.Tensor) or grad.dtype != p.dtype or grad.shape != p.shape:
        return None
    flags = grad._data.flags
    writeable = getattr(flags, "writeable", True)  # CuPy arrays have no such flag
    return grad if flags.c_contiguous and writeable else None


def _dense(grad):
    """Row-sparse gradients travel densified (buckets are flat and fixed in size)."""
    if isinstance(grad, RowSparseGrad):
        return grad.to_dense()
    return grad


class MpiTransport:
    """CPU buckets: NumPy buffers summed in place by ``Iallreduce``; the caller's ``wait``
    (the watchdog's) completes them at the end."""

    def __init__(self, comm, MPI):
        self.comm, self.MPI = comm, MPI
        self.requests = []

    def empty(self, n, dtype):
        return np.empty(n, dtype=dtype)

    def launch(self, flat):
        self.requests.append(self.comm.Iallreduce(self.MPI.IN_PLACE, flat, op=self.MPI.SUM))

    def progress(self):
        # MPICH advances non-blocking collectives only inside MPI calls: poke it.
        if self.requests:
            self.MPI.Request.Testall(self.requests)

    def finish(self, host, wait):
        request = self.comm.Iallreduce(self.MPI.IN_PLACE, host, op=self.MPI.SUM)
        requests, self.requests = self.requests + [request], []
        wait(requests)
        return host


class NcclTransport:
    """GPU buckets: CuPy buffers summed by NCCL on a communication stream of their own, which
    first waits for the backward work queued so far; the host vector still goes over MPI."""

    def __init__(self, comm, MPI, device):
        from ..parallel import _cuda
        self._cuda = _cuda
        self.device = device
        self.nccl = _cuda.RankNccl(comm, device)
        self.stream = _cuda.new_stream(device)
        self.host = MpiTransport(comm, MPI)

    def empty(self, n, dtype):
        return gg.empty(n, dtype=dtype, device=self.device)._data

    def launch(self, flat):
        self._cuda.wait_for_current(self.stream)
        self.nccl.all_reduce(flat, self.stream)

    def progress(self):
        pass

    def finish(self, host, wait):
        host = self.host.finish(host, wait)
        # Unpacking runs on the caller's stream: it must see the finished sums.
        self._cuda.current_waits_for(self.stream)
        return host
