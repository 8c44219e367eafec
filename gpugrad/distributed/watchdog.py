"""The collective watchdog: no rank waits forever, and ranks that disagree all raise.

Every collective gpugrad issues is an *operation* with a sequence number (the same on every
rank while the ranks run the same program), a kind ("gradient all-reduce", "barrier", ...)
and, for the steps of ``DistributedDataParallel``, a step number. Each kind has its own
communicator, so ranks in different kinds of collective wait side by side instead of
matching each other's messages. Waiting polls the MPI requests (``Test``) instead of
blocking, and meanwhile listens on a control channel (small point-to-point messages on one
more communicator):

* a rank that has waited ``ANNOUNCE_SECONDS`` tells the others which operation it is in; a
  rank in a different operation under the same number raises, naming both (one rank ran
  one more step, then a barrier), and tells the others, which raise too;
* a rank that exits tells the others after how many operations; a rank waiting in a later
  one raises, and the exiting rank reports the mismatch and exits non-zero;
* an operation that does not complete within the timeout raises, naming the rank, the
  operation and the step.

Such an error breaks the process group (its requests may be half matched): every later
collective raises at once, and exiting aborts every rank (``comm.Abort``) rather than
wait in ``MPI_Finalize``.
"""
import sys
import time

import numpy as np

#: How long a rank waits in a collective before telling the others where it is.
ANNOUNCE_SECONDS = 0.2
#: Seconds a collective may take before it raises (``dist.init(timeout=...)`` overrides).
DEFAULT_TIMEOUT = 300.0
#: Environment variable that overrides the default timeout (seconds).
TIMEOUT_VARIABLE = "GPUGRAD_DIST_TIMEOUT"

#: Every kind of collective gpugrad issues, in a fixed order (messages carry the index).
KINDS = ("DDP construction", "state broadcast", "gradient all-reduce", "buffer broadcast",
         "replica check", "step check", "join", "barrier", "all_reduce_sum",
         "broadcast_object", "allgather_object", "all_reduce", "broadcast")
_KIND = {kind: i for i, kind in enumerate(KINDS)}

_TAG = 7
_TRIES_BETWEEN_CHECKS = 64  # Test calls between looks at the clock and the control channel
_STATUS, _EXIT, _ERROR = 1, 2, 3
_UNEVEN_HINT = ("ranks that run different numbers of steps (uneven inputs) need "
                "`with ddp.join():` around the training loop")


class CollectiveError(RuntimeError):
    """A collective that cannot complete: the ranks took different paths, one exited early,
    or it timed out. The process group is unusable afterwards. A RuntimeError, as PyTorch's
    collective errors are.

    >>> import gpugrad.distributed as dist
    >>> issubclass(dist.CollectiveError, RuntimeError)
    True
    """


def describe(seq, kind, step):
    """``"step 3's gradient all-reduce (collective #7)"``.

    >>> describe(2, _KIND["barrier"], -1)
    'barrier (collective #2)'
    """
    what = f"step {step}'s {KINDS[kind]}" if step >= 0 else KINDS[kind]
    return f"{what} (collective #{seq})"


class Op:
    """One collective operation of this rank: what the others must be doing too."""

    __slots__ = ("seq", "kind", "step", "announced")

    def __init__(self, seq, kind, step):
        self.seq, self.kind, self.step, self.announced = seq, kind, step, False

    def describe(self):
        return describe(self.seq, self.kind, self.step)


def timeout_seconds(timeout=None, environ=None):
    """``timeout`` (seconds or a ``timedelta``), else ``$GPUGRAD_DIST_TIMEOUT``, else five
    minutes.

    >>> import datetime
    >>> timeout_seconds(datetime.timedelta(minutes=1), environ={})
    60.0
    >>> timeout_seconds(environ={"GPUGRAD_DIST_TIMEOUT": "12.5"})
    12.5
    """
    if timeout is None:
        environ = environ if environ is not None else __import__("os").environ
        timeout = environ.get(TIMEOUT_VARIABLE) or DEFAULT_TIMEOUT
    seconds = timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout)
    if not seconds > 0:
        raise ValueError(f"gpugrad.distributed: the collective timeout must be positive, "
                         f"got {timeout!r}")
    return float(seconds)


class Watchdog:
    """The operations, communicators and control channel of one process."""

    def __init__(self, world, MPI, timeout):
        self.MPI = MPI
        self.rank, self.size = world.Get_rank(), world.Get_size()
        self.timeout = timeout
        self.comms = {kind: world.Dup() for kind in KINDS}
        self.ctrl = world.Dup()
        self.seq = 0
        self.last = (0, -1)  # kind and step of the last operation begun
        self.peers = {}  # rank -> its latest message (type, seq, kind, step)
        self.error = None  # what broke the process group
        self.sends = []
        self.inbox = np.zeros(5, dtype=np.int64)
        self.receive = None
        if self.size > 1:
            self.receive = self.ctrl.Irecv(self.inbox, source=MPI.ANY_SOURCE, tag=_TAG)

    def comm(self, kind):
        return self.comms[kind]

    def begin(self, kind, step=-1):
        """Start the next operation (raises at once if the ranks already disagree)."""
        if self.error is not None:
            raise CollectiveError(f"rank {self.rank}: the process group is unusable after "
                                  f"an earlier error: {self.error}")
        self.seq += 1
        op = Op(self.seq, _KIND[kind], step)
        self.last = (op.kind, op.step)
        if self.size > 1:
            self.poll()
            self.check(op)
        return op

    def wait(self, requests, op):
        """Complete ``requests``, watching the others and the clock; raises CollectiveError."""
        Testall = self.MPI.Request.Testall
        if Testall(requests):
            return
        started = time.monotonic()
        while True:
            # MPI moves a large all-reduce forward only inside MPI calls: call it in a
            # tight loop (as Waitall would), and look up from it only now and then.
            for _ in range(_TRIES_BETWEEN_CHECKS):
                if Testall(requests):
                    return
            self.poll()
            self.check(op)
            waited = time.monotonic() - started
            if waited > ANNOUNCE_SECONDS and not op.announced:
                op.announced = True
                self.send_all(_STATUS, op.seq, op.kind, op.step)
            if waited > self.timeout:
                self.fail(f"timed out after {self.timeout:g} s waiting in {op.describe()}"
                          f"{self.heard()}")
            if waited > 1e-2:
                # A slow peer: let it have this core if it shares it; really sleep once the
                # wait is long (the timeout is minutes, a 1 ms nap costs nothing there).
                time.sleep(0 if waited < 1.0 else 1e-3)

    def poll(self):
        """Take in the control messages that arrived."""
        while self.receive is not None and self.receive.Test():
            kind, seq, what, step, sender = (int(v) for v in self.inbox)
            if self.peers.get(sender, (None,))[0] != _ERROR:
                self.peers[sender] = (kind, seq, what, step)
            self.receive = self.ctrl.Irecv(self.inbox, source=self.MPI.ANY_SOURCE, tag=_TAG)

    def check(self, op):
        for rank, (kind, seq, what, step) in sorted(self.peers.items()):
            if kind == _ERROR:
                self.fail(f"rank {rank} stopped with an error (its last collective: "
                          f"{describe(seq, what, step)}), so {op.describe()} cannot complete")
            if kind == _EXIT and seq < op.seq:
                self.fail(f"rank {rank} exited after {seq} collectives (the last: "
                          f"{describe(seq, what, step)}) while this rank waits in "
                          f"{op.describe()}: {_UNEVEN_HINT}")
            # Steps are not compared: two ranks in different steps of the same kind
            # still complete the collectives, and the step header then tells every rank.
            if kind == _STATUS and seq == op.seq and what != op.kind:
                self.fail(f"rank {rank} is in {describe(seq, what, step)} while this rank "
                          f"is in {op.describe()}: the ranks took different paths "
                          f"({_UNEVEN_HINT})")

    def heard(self):
        """What the others last said, for a timeout message."""
        said = [f"rank {rank} is in {describe(seq, what, step)}"
                for rank, (kind, seq, what, step) in sorted(self.peers.items())
                if kind == _STATUS]
        return f"; last heard: {', '.join(said)}" if said else ""

    def fail(self, message):
        """Break the process group, tell the others, raise."""
        self.error = f"rank {self.rank}: {message}"
        self.send_all(_ERROR, self.seq, *self.last)
        raise CollectiveError(self.error)

    def notify_abort(self, seconds=1.0):
        """This rank is about to abort: a rank waiting for it raises, saying so. Gives the
        others up to ``seconds`` to report their own error (or exit) first, so every rank
        gets to say what went wrong before ``Abort`` ends them."""
        if self.size == 1:
            return
        if self.error is None:
            self.error = f"rank {self.rank} aborted"
            self.send_all(_ERROR, self.seq, *self.last)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.poll()
            told = sum(1 for kind, *_ in self.peers.values() if kind in (_ERROR, _EXIT))
            if told == self.size - 1:
                return
            time.sleep(1e-3)

    def send_all(self, kind, seq, what, step):
        self.sends = [(r, b) for r, b in self.sends if not r.Test()]
        for peer in range(self.size):
            if peer != self.rank:
                message = np.array([kind, seq, what, step, self.rank], dtype=np.int64)
                self.sends.append((self.ctrl.Isend(message, dest=peer, tag=_TAG), message))

    def at_exit(self):
        """The exit handshake: True if this rank may finalize MPI, False if it must abort.

        Every rank announces how many operations it ran, then waits for the others to
        exit too (a rank still computing is no error), unless one waits in an operation
        this rank never joins."""
        if self.error is not None:
            _say(f"[rank {self.rank}] exiting after a collective error; aborting every rank")
            return False
        if self.size == 1:
            return True
        self.send_all(_EXIT, self.seq, *self.last)
        while True:
            self.poll()
            exited = 0
            for rank, (kind, seq, what, step) in sorted(self.peers.items()):
                if kind == _EXIT:
                    exited += 1
                elif kind == _ERROR or (kind == _STATUS and seq > self.seq):
                    state = "stopped with an error after" if kind == _ERROR else "waits in"
                    _say(f"[rank {self.rank}] exits after {self.seq} collectives, but rank "
                         f"{rank} {state} {describe(seq, what, step)}: {_UNEVEN_HINT}")
                    return False
            if exited == self.size - 1:
                break
            time.sleep(1e-3)
        self.receive.Cancel()
        self.receive.Wait()
        return True


def _say(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
