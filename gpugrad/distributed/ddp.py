"""``DistributedDataParallel``: one process per device, gradients averaged over MPI/NCCL."""
import contextlib
import zlib

import numpy as np

import gpugrad as gg
from ..parallel.buckets import DEFAULT_CAP_MB, plan_buckets
from ..parallel.replicate import named_buffers, named_parameters
from ..parallel.scatter import batch_size
from ..parallel.wrapper import ModuleWrapper
from . import runtime
from .agreement import (decode_header, encode_header, first_difference, module_layout,
                        trainable_crc)
from .watchdog import CollectiveError
from .reducer import MpiTransport, NcclTransport, Reducer


class DistributedDataParallel(ModuleWrapper):
    """Keep one replica of ``module`` per rank in step: each rank runs its own shard of the
    batch and ``forward_backward`` leaves the same averaged gradient on every rank.

    * Construction checks that every rank built the same thing: parameter and buffer names,
      shapes, dtypes, ``requires_grad``, ``bucket_cap_mb`` and the bucket assignment, the
      device type and ``check_every``; a difference raises RuntimeError on every rank,
      naming the rank and the first difference. Then rank 0's parameters and buffers are
      broadcast.
    * Buffers (BatchNorm running statistics) are rank 0's, as in ``DataParallel`` they are
      the primary's: each rank updates them from its own shard, then every synced step ends
      by broadcasting rank 0's, so all ranks evaluate, checkpoint and check the same state.
    * ``forward_backward(loss_fn, *local_batch)`` runs ``loss_fn(module, *local_batch)``
      (the *mean* loss of the local shard) and its backward; gradients are all-reduced in
      flat buckets started from gradient hooks while backward still runs, and weighted by
      each rank's number of examples, so uneven shards give exactly the gradient of the mean
      loss over all examples. Returns that global mean loss (0-d tensor, no graph).
      Parameters that got no gradient on a rank count as zero there; a parameter no rank
      had a gradient for keeps ``.grad`` None. Row-sparse gradients travel densified.
    * Every step checks, in the host vector it sends anyway, that all ranks are in the same
      step with the same parameters requiring grad, before any average is written: if not,
      or if the step raised on some rank (that rank still completes the step's collectives,
      sending zeros, then re-raises), every rank sets the step's ``.grad`` to None and
      raises RuntimeError naming the rank and the difference. No optimizer step can then
      use wrong gradients.
    * Ranks that run different numbers of steps need ``join()`` (below). Without it the
      rank left waiting, and the one that went on to something else (exit, a barrier,
      ``check_replicas()``), raise within a fraction of a second; a collective that does
      not complete within ``dist.init(timeout=...)`` raises too (``CollectiveError``).
    * ``no_sync()``: inside it, steps do no communication and gradients accumulate locally;
      the next synced step averages the accumulated total, each rank weighted by the
      examples it processed since the last sync (exact for equal shard sizes).
    * ``check_every=N``: every N synced steps, at the end of the step (buffers just
      broadcast), compare a checksum of every rank's parameters and buffers and raise
      RuntimeError on every rank if they differ: the parameters the optimizer updated
      before this step must have stayed equal. ``check_replicas()`` does it on demand.
    * CPU tensors go through MPI ``Iallreduce``; a module on a GPU through NCCL
      (communicator bootstrapped over MPI). The learning rate is never rescaled.

    Needs ``dist.init()`` first. Run a script as ``mpiexec -n 2 python script.py``.

    >>> import gpugrad.distributed as dist
    >>> _ = dist.init()  # a world of one here; mpiexec -n 2 for two
    >>> model = gg.nn.Linear(2, 1)
    >>> ddp = dist.DistributedDataParallel(model)
    >>> mse = lambda m, x, y: ((m(x) - y) ** 2).mean()
    >>> loss = ddp.forward_backward(mse, gg.ones(4, 2), gg.zeros(4, 1))
    >>> loss.shape, model.weight.grad.shape
    ((), (1, 2))
    """

    def __init__(self, module, bucket_cap_mb=DEFAULT_CAP_MB, check_every=None):
        watch = runtime.watchdog()
        self.module = module
        self.device = _common_device(module)
        self._parameters = named_parameters(module)
        trainable = [(name, p) for name, p in self._parameters if p.requires_grad]
        params = [p for _, p in trainable]
        layout = module_layout(self._parameters, named_buffers(module),
                               [name for name, _ in trainable],
                               plan_buckets(params, bucket_cap_mb), bucket_cap_mb,
                               self.device.type, check_every)
        _agree(layout, "DistributedDataParallel")
        _broadcast_tensors([t for _, t in self._parameters + named_buffers(module)])
        channel = watch.comm("gradient all-reduce")
        if self.device.type == "cuda":
            transport = NcclTransport(channel, runtime.mpi(), self.device)
        else:
            transport = MpiTransport(channel, runtime.mpi())
        self.reducer = Reducer(params, transport, bucket_cap_mb)
        self.check_every = check_every
        self._syncing = True
        self._examples = 0  # this rank's examples since the last synced step
        self._synced_steps = 0
        self._step = 0  # synced steps begun, failed and shadowed ones included
        self._join = None

    def forward_backward(self, loss_fn, *batch):
        """Global mean loss of this step; averaged gradients in ``.grad`` on every rank."""
        n = batch_size(batch)
        self._examples += n
        backend = self.device.backend
        with backend.device_context(self.device):
            if not self._syncing:
                local = self._local_step(loss_fn, batch, n)
                return gg.tensor(local, dtype=self._loss_dtype, device=self.device)
            op = self._begin_step(self._examples)
            self._examples = 0
            try:
                local = self._local_step(loss_fn, batch, n)
            except Exception as exc:
                self._fail_step(op, exc)
                raise
            except BaseException:
                self.reducer.cancel()
                raise
            loss_sum, count = self._end_step(op, [n * local, n])
        mean = loss_sum / count if count else float("nan")
        return gg.tensor(mean, dtype=self._loss_dtype, device=self.device)

    def _local_step(self, loss_fn, batch, n):
        """Forward and backward of the local shard; its mean loss (0.0 for an empty one)."""
        self._loss_dtype = self.reducer.params[0].dtype if self.reducer.params else gg.float32
        if n == 0:
            return 0.0
        with gg.enable_grad():
            loss = loss_fn(self.module, *batch)
            if not isinstance(loss, gg.Tensor) or loss.numel() != 1:
                raise ValueError("DistributedDataParallel: loss_fn must return a one-element "
                                 "tensor (the mean loss of the local shard)")
            self._loss_dtype = loss.dtype
            loss.backward()
        return float(loss.item())

    def _begin_step(self, examples, contribute=True):
        self._step += 1
        op = runtime.watchdog().begin("gradient all-reduce", self._step)
        self.reducer.start(examples, contribute)
        return op

    def _end_step(self, op, stats, contributed=True, failure=None):
        """Finish the step's communication, check the header, then average (or raise).
        Returns the summed ``stats``, or None once every rank has joined."""
        watch = runtime.watchdog()
        header = encode_header(self._step, trainable_crc([p for _, p in self._parameters]),
                               contributed, failure is not None, watch.rank, watch.size)
        sums = self.reducer.finish(np.concatenate([stats, header]),
                                   lambda requests: watch.wait(requests, op))
        same_step, same_trainable, contributors, failed = decode_header(sums[2:], watch.size)
        if failure is not None or failed.any() or not (same_step and same_trainable):
            self.reducer.discard()
            self._explain(failure)
            return None
        joined = np.flatnonzero(contributors == 0).tolist()
        if len(joined) == watch.size:
            return None  # the shadow step that tells every rank all have joined
        if joined and (self._join is None or self._join.throw):
            self.reducer.discard()
            reason = ("with join(throw_on_early_termination=True)" if self._join else
                      "while this rank is not inside ddp.join()")
            raise RuntimeError(f"DistributedDataParallel: rank(s) {joined} ran out of inputs "
                               f"by step {self._step} {reason}; this step's gradients are "
                               f"discarded on every rank")
        if contributed:
            factor = 1.0
            if self._join is not None:
                self._join.steps += 1
                if self._join.divide_by_initial_world_size:
                    factor = (watch.size - len(joined)) / watch.size
            self.reducer.apply(factor)
        self._synced_steps += 1
        self._sync_buffers(root=int(np.flatnonzero(contributors)[0]))
        if self.check_every and self._synced_steps % self.check_every == 0:
            self._check_replicas(among=contributors > 0, step=self._step)
        return sums[:2]

    def _fail_step(self, op, exc):
        """This rank's step raised: complete its collectives anyway, sending zeros, so the
        other ranks learn of it (and raise) instead of averaging with the next step."""
        if isinstance(exc, CollectiveError) or runtime.watchdog().error is not None:
            self.reducer.cancel()
            return
        self.reducer.stop_contributing()
        with contextlib.suppress(CollectiveError):  # the original exception matters more
            self._end_step(op, [0.0, 0.0], contributed=False, failure=exc)

    def _explain(self, failure):
        """Every rank's view of a step that went wrong, exchanged; raises the verdict
        (on the rank whose step failed, the caller re-raises its own exception)."""
        mine = {"step": self._step, "trainable": [p.requires_grad for _, p in self._parameters],
                "failure": None if failure is None else f"{type(failure).__name__}: {failure}"}
        every = runtime.allgather_object(mine, kind="step check", step=self._step)
        if failure is None:
            names = [name for name, _ in self._parameters]
            raise RuntimeError(f"DistributedDataParallel: {_disagreement(every, names)}; "
                               f"this step's gradients are discarded on every rank (.grad "
                               f"set to None)")

    def _sync_buffers(self, root=0):
        """Rank ``root``'s buffers on every rank (at the end of each synced step)."""
        buffers = [t for _, t in named_buffers(self.module)]
        if buffers and runtime.world_size() > 1:
            _broadcast_tensors(buffers, root, kind="buffer broadcast", step=self._step)

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally, without communication, inside the block."""
        previous = self._syncing
        self._syncing = False
        try:
            yield self
        finally:
            self._syncing = previous

    @contextlib.contextmanager
    def join(self, divide_by_initial_world_size=True, enable=True,
             throw_on_early_termination=False):
        """Train on uneven inputs: PyTorch's ``DistributedDataParallel.join``.

        Wrap each rank's training loop in it. A rank that runs out of batches leaves the
        loop and, in this context's exit, *shadows* the others' synced steps: it takes part
        in each step's collectives with zero gradients and no examples, until every rank
        has left its loop. Then every rank gets the parameters and buffers of a rank that
        joined last (the lowest-numbered one), so all replicas end equal. The optimizer
        state of ranks that joined early is not updated.

        * ``divide_by_initial_world_size=True`` (PyTorch's default): every rank that has
          joined counts as a rank with a zero gradient, so each remaining example weighs
          what it weighed before anyone joined. With the example weighting of
          ``forward_backward`` this is the example-weighted average over the ranks still
          training, times (ranks still training) / (world size); for equal per-rank batch
          sizes it is exactly PyTorch's sum of per-rank mean gradients / world size.
        * ``divide_by_initial_world_size=False``: the average over the examples of the
          ranks still training (PyTorch: divide by the number of ranks still training).
        * ``throw_on_early_termination=True``: as soon as one rank runs out (but not all at
          once), every rank raises RuntimeError (that step's gradients are discarded).
        * ``enable=False``: a no-op context.

        Only ``forward_backward`` (and ``check_every``) are shadowed: other collectives in
        the loop (``dist.all_reduce_sum``, a barrier) make the ranks' paths differ, which
        raises. Buffers at the end of a step under join are those of the lowest-numbered
        rank that trained in it.

        >>> import gpugrad.distributed as dist
        >>> _ = dist.init()  # a world of one here; mpiexec -n 2 for two
        >>> model = gg.nn.Linear(2, 1)
        >>> ddp = dist.DistributedDataParallel(model)
        >>> opt = gg.optim.SGD(model.parameters(), lr=0.1)
        >>> mse = lambda m, x, y: ((m(x) - y) ** 2).mean()
        >>> batches = [(gg.ones(4, 2), gg.zeros(4, 1))] * (2 + dist.rank())  # uneven
        >>> with ddp.join():
        ...     for x, y in batches:
        ...         opt.zero_grad()
        ...         loss = ddp.forward_backward(mse, x, y)
        ...         opt.step()
        >>> ddp.check_replicas()  # every rank ends with the last joiner's parameters
        """
        if not enable:
            yield self
            return
        if self._join is not None:
            raise RuntimeError("DistributedDataParallel: join() is already active")
        self._join = _Join(divide_by_initial_world_size, throw_on_early_termination)
        try:
            yield self
            with self.device.backend.device_context(self.device):
                while self._shadow_step():
                    pass
                steps = runtime.allgather_object(self._join.steps, kind="join")
                # np.argmax: the lowest-numbered rank among those that joined last.
                _broadcast_tensors([t for _, t in self._parameters +
                                    named_buffers(self.module)], int(np.argmax(steps)))
        finally:
            self._join = None

    def _shadow_step(self):
        """One step with zero contributions; False once every rank has joined."""
        op = self._begin_step(0, contribute=False)
        return self._end_step(op, [0.0, 0.0], contributed=False) is not None

    def check_replicas(self):
        """Raise RuntimeError (on every rank) unless all ranks hold identical parameters and
        buffers. A collective: every rank must call it."""
        self._check_replicas()

    def _check_replicas(self, among=None, step=-1):
        """``among``: a mask of the ranks to compare (those that trained this step)."""
        every = runtime.allgather_object(state_checksum(self.module), kind="replica check",
                                         step=step)
        keep = among if among is not None else [True] * len(every)
        compared = [checksum for checksum, kept in zip(every, keep) if kept]
        if len(set(compared)) > 1:
            raise RuntimeError(f"DistributedDataParallel: replicas diverged by synced step "
                               f"{self._synced_steps} (checksums of parameters and buffers "
                               f"by rank: {every})")

    @property
    def last_reduce_seconds(self):
        """Seconds the last synced step spent packing, waiting for and unpacking buckets."""
        return self.reducer.seconds


class _Join:
    def __init__(self, divide_by_initial_world_size, throw):
        self.divide_by_initial_world_size = divide_by_initial_world_size
        self.throw = throw
        self.steps = 0  # steps this rank trained in (not shadowed) inside the context


def _disagreement(every, names):
    """What the ranks' reports of a failed step say, first things first."""
    failed = [(r, d["failure"]) for r, d in enumerate(every) if d["failure"] is not None]
    if failed:
        rank, failure = failed[0]
        others = f" (and on ranks {[r for r, _ in failed[1:]]})" if len(failed) > 1 else ""
        return f"step {every[rank]['step']} raised on rank {rank}{others}: {failure}"
    steps = [d["step"] for d in every]
    if len(set(steps)) > 1:
        where = ", ".join(f"rank {r} in step {s}" for r, s in enumerate(steps))
        return f"the ranks are in different steps ({where}; did a rank skip one?)"
    for rank, d in enumerate(every[1:], 1):
        for name, mine, ref in zip(names, d["trainable"], every[0]["trainable"]):
            if mine != ref:
                return (f"parameter {name!r} has requires_grad={mine} on rank {rank} but "
                        f"{ref} on rank 0 at step {steps[0]} (frozen on one rank only?)")
    return "the ranks' step headers differ"


def _agree(layout, who):
    """Raise RuntimeError on every rank unless every rank's ``layout`` equals rank 0's."""
    every = runtime.allgather_object(layout, kind="DDP construction")
    for rank, theirs in enumerate(every[1:], 1):
        difference = first_difference(theirs, every[0])
        if difference is not None:
            raise RuntimeError(f"{who}: rank {rank}'s module differs from rank 0's: "
                               f"{difference.format(r=rank, ref=0)}")


def broadcast_state(module, comm=None, root=0):
    """Give every rank rank ``root``'s parameters and buffers: one ``Ibcast`` per dtype of
    a flat host buffer. Raises RuntimeError on every rank if the ranks' modules differ in
    parameter or buffer names, shapes or dtypes. (``comm`` is accepted for compatibility;
    the broadcast uses gpugrad's own watched communicators.)

    >>> import gpugrad.distributed as dist
    >>> _ = dist.init()
    >>> model = gg.nn.Linear(2, 1)
    >>> before = model.weight.tolist()
    >>> dist.broadcast_state(model)  # rank 0's values everywhere
    >>> model.weight.tolist() == before
    True
    """
    layout = module_layout(named_parameters(module), named_buffers(module), [], [], 0, "", None)
    # requires_grad does not matter for a broadcast: compare names, shapes and dtypes.
    layout["parameters"] = [entry[:3] for entry in layout["parameters"]]
    _agree(layout, "broadcast_state")
    _broadcast_tensors([t for _, t in named_parameters(module) + named_buffers(module)], root)


def _broadcast_tensors(tensors, root=0, kind="state broadcast", step=-1):
    """Overwrite ``tensors`` (the same list on every rank) with rank ``root``'s values."""
    by_dtype = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype.str, []).append(t)
    groups = list(by_dtype.values())
    flats = [np.concatenate([t.detach().cpu().numpy().reshape(-1) for t in group])
             for group in groups]
    runtime.broadcast_arrays(flats, root, kind, step)
    if runtime.rank() == root:
        return
    with gg.no_grad():
        for group, flat in zip(groups, flats):
            start = 0
            for t in group:
                part = flat[start:start + t.numel()].reshape(t.shape)
                t.copy_(gg.tensor(part, dtype=t.dtype))
                start += t.numel()


def state_checksum(module):
    """CRC-32 of every parameter's and buffer's bytes, in order (equal iff bitwise equal,
    up to CRC collisions).

    >>> import gpugrad as gg
    >>> class M:
    ...     def named_parameters(self):
    ...         return [("w", gg.ones(2))]
    >>> state_checksum(M()) == state_checksum(M())
    True
    """
    crc = 0
    for _, t in named_parameters(module) + named_buffers(module):
        crc = zlib.crc32(np.ascontiguousarray(t.detach().cpu().numpy()).tobytes(), crc)
    return crc


def _common_device(module):
    devices = {p.device for _, p in named_parameters(module)}
    if len(devices) != 1:
        raise ValueError(f"DistributedDataParallel: the module's parameters must all be on one "
                         f"device, found {sorted(str(d) for d in devices)}")
    return devices.pop()
