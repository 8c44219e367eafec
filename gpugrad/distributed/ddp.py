"""``DistributedDataParallel``: one process per device, gradients averaged over MPI/NCCL."""
import contextlib
import zlib

import numpy as np

import gpugrad as gg
from ..parallel.buckets import DEFAULT_CAP_MB
from ..parallel.replicate import named_buffers, named_parameters
from ..parallel.scatter import batch_size
from ..parallel.wrapper import ModuleWrapper
from . import runtime
from .reducer import MpiTransport, NcclTransport, Reducer


class DistributedDataParallel(ModuleWrapper):
    """Keep one replica of ``module`` per rank in step: each rank runs its own shard of the
    batch and ``forward_backward`` leaves the same averaged gradient on every rank.

    * Construction broadcasts rank 0's parameters and buffers (after checking that every
      rank has the same names, shapes and dtypes).
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
        comm = runtime.comm()
        self.module = module
        self.device = _common_device(module)
        broadcast_state(module, comm)
        params = [p for _, p in named_parameters(module) if p.requires_grad]
        if self.device.type == "cuda":
            transport = NcclTransport(comm, runtime.mpi(), self.device)
        else:
            transport = MpiTransport(comm, runtime.mpi())
        self.reducer = Reducer(params, transport, bucket_cap_mb)
        self.check_every = check_every
        self._syncing = True
        self._examples = 0  # this rank's examples since the last synced step
        self._synced_steps = 0

    def forward_backward(self, loss_fn, *batch):
        """Global mean loss of this step; averaged gradients in ``.grad`` on every rank."""
        n = batch_size(batch)
        self._examples += n
        backend = self.device.backend
        with backend.device_context(self.device):
            if self._syncing:
                self.reducer.start(self._examples)
            try:
                local = self._local_step(loss_fn, batch, n)
                if not self._syncing:
                    return gg.tensor(local, dtype=self._loss_dtype, device=self.device)
                loss_sum, count = self.reducer.finish([n * local, n])
            except BaseException:
                self.reducer.cancel()
                raise
            self._sync_buffers()
        self._examples = 0
        self._synced_steps += 1
        if self.check_every and self._synced_steps % self.check_every == 0:
            self.check_replicas()
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

    def _sync_buffers(self):
        """Rank 0's buffers on every rank (a collective, at the end of each synced step)."""
        buffers = [t for _, t in named_buffers(self.module)]
        if buffers and runtime.world_size() > 1:
            _broadcast_tensors(buffers, runtime.comm())

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally, without communication, inside the block."""
        previous = self._syncing
        self._syncing = False
        try:
            yield self
        finally:
            self._syncing = previous

    def check_replicas(self):
        """Raise RuntimeError (on every rank) unless all ranks hold identical parameters and
        buffers. A collective: every rank must call it."""
        mine = state_checksum(self.module)
        every = runtime.comm().allgather(mine)
        if len(set(every)) > 1:
            raise RuntimeError(f"DistributedDataParallel: replicas diverged by synced step "
                               f"{self._synced_steps} (checksums of parameters and buffers "
                               f"by rank: {every})")

    @property
    def last_reduce_seconds(self):
        """Seconds the last synced step spent packing, waiting for and unpacking buckets."""
        return self.reducer.seconds


def broadcast_state(module, comm, root=0):
    """Give every rank rank ``root``'s parameters and buffers: one ``Bcast`` per dtype of a
    flat host buffer. Raises ValueError on every rank if the ranks' modules differ.

    >>> import gpugrad.distributed as dist
    >>> _ = dist.init()
    >>> model = gg.nn.Linear(2, 1)
    >>> before = model.weight.tolist()
    >>> dist.broadcast_state(model)  # rank 0's values everywhere
    >>> model.weight.tolist() == before
    True
    """
    tensors = named_parameters(module) + named_buffers(module)
    signature = [(name, tuple(t.shape), t.dtype.str) for name, t in tensors]
    theirs = comm.bcast(signature, root=root)
    differs = comm.allreduce(int(signature != theirs), op=runtime.mpi().MAX)
    if differs:
        raise ValueError("DistributedDataParallel: the ranks' modules differ in parameter or "
                         "buffer names, shapes or dtypes")
    _broadcast_tensors([t for _, t in tensors], comm, root)


def _broadcast_tensors(tensors, comm, root=0):
    """Overwrite ``tensors`` (the same list on every rank) with rank ``root``'s values."""
    by_dtype = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype.str, []).append(t)
    for group in by_dtype.values():
        flat = np.concatenate([t.detach().cpu().numpy().reshape(-1) for t in group])
        comm.Bcast(flat, root=root)
        if comm.Get_rank() == root:
            continue
        start = 0
        with gg.no_grad():
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
