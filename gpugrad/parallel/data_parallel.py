"""``DataParallel``: one process, several devices, one batch split over them."""
import concurrent.futures
import contextlib
import time
import weakref

import gpugrad as gg
from ..amp import autocast_mode as _autocast
from ..autograd.grad_mode import state as _grad_state
from ..backends.device import CPU, backend_for
from ..random import thread_generator
from . import _malloc
from . import reduce as _reduce
from .buckets import DEFAULT_CAP_MB
from .replicate import ReplicaSync, named_parameters, replicate
from .scatter import batch_size, shard_bounds, split_sizes, take_shard
from .wrapper import ModuleWrapper


class DataParallel(ModuleWrapper):
    """Train ``module`` on several devices at once; gradients come out averaged.

    ``module`` is the primary replica and must live on ``devices[0]``; the other devices
    get deep copies with their own Parameters. ``forward_backward(loss_fn, *batch)`` splits
    each batch tensor along dim 0 as evenly as possible, runs ``loss_fn(replica, *shard)``
    and its backward on every device concurrently (one persistent host thread per device;
    on GPUs each also on its own CuPy stream), and leaves in the primary's ``.grad`` the
    average of the replicas' gradients weighted by shard size, which is exactly the
    gradient of the mean loss over the whole batch. Optimize ``module.parameters()`` as
    usual: the learning rate is never rescaled.

    * ``loss_fn`` must return the *mean* loss over its shard (as ``F.cross_entropy`` does).
    * Gradients accumulate into existing ``.grad`` across calls, like ``backward``.
    * Before each call, replicas copy the primary's parameters and buffers that changed
      (see ``gpugrad.parallel.replicate`` for how a change is detected; call
      ``invalidate()`` after writing parameter arrays behind gpugrad's back), and take its
      ``training`` flags and ``requires_grad`` flags.
    * Buffers (BatchNorm running statistics) are the primary's: the primary (replica 0)
      updates them from its own shard, the others' updates are overwritten.
    * Reduction: distinct GPUs -> NCCL all-reduce (communicators made once for the device
      list), one call per flat bucket (~``bucket_cap_mb``); otherwise (CPU replicas, mixed
      devices, two replicas on one GPU) a plain sum into the primary.
    * On the CPU the threads overlap where NumPy releases the GIL (BLAS, large ufuncs).
      Random ops (dropout) in replica k draw from a generator seeded, for each call, by
      the k-th of seeds drawn from the CPU generator, so runs are reproducible under
      ``gg.manual_seed``. With CPU replicas, glibc is asked for a single malloc
      arena (process-wide; see ``gpugrad.parallel._malloc``), which makes worker threads
      as fast as the main thread.

    >>> import gpugrad as gg
    >>> class Line:
    ...     def __init__(self):
    ...         self.w = gg.nn.Parameter(gg.tensor([2.0]))
    ...     def named_parameters(self):
    ...         return [("w", self.w)]
    ...     def __call__(self, x):
    ...         return x * self.w
    >>> model = Line()
    >>> dp = DataParallel(model, devices=["cpu", "cpu"])
    >>> x = gg.tensor([1.0, 2.0, 3.0])
    >>> loss = dp.forward_backward(lambda m, xb: m(xb).mean(), x)
    >>> loss.item(), model.w.grad.item()
    (4.0, 2.0)
    """

    def __init__(self, module, devices=None, bucket_cap_mb=DEFAULT_CAP_MB):
        self.devices = [gg.device(d) for d in (devices or default_devices())]
        _check_on_device(module, self.devices[0])
        self.module = module
        self.bucket_cap_mb = bucket_cap_mb
        if any(d.type == "cpu" for d in self.devices):
            _malloc.share_arena()  # before the workers start: see parallel/_malloc.py
        self.replicas = [module] + [replicate(module, d) for d in self.devices[1:]]
        self._sync = ReplicaSync(module, self.replicas[1:])
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=len(self.devices), thread_name_prefix="gpugrad-dp")
        weakref.finalize(self, self._pool.shutdown, wait=False)
        self._cuda = [d for d in self.devices if d.type == "cuda"]
        # NCCL needs distinct GPUs; two replicas on one GPU are summed like CPU replicas.
        self._use_nccl = (len(self.devices) > 1 and len(self._cuda) == len(self.devices)
                          and len(set(self._cuda)) == len(self._cuda))
        self._streams = None
        self._comms = None
        #: Seconds the last ``forward_backward`` spent reducing gradients (benchmarks).
        self.last_reduce_seconds = 0.0

    # ---- the step ------------------------------------------------------------------------
    def forward_backward(self, loss_fn, *batch):
        """Mean loss of ``loss_fn(replica, *shard)`` over the whole batch (a 0-d tensor on
        ``devices[0]``, no graph); the averaged gradients are left in the primary's
        ``.grad``. Non-tensor arguments reach every shard unchanged.

        >>> model = gg.nn.Linear(2, 1)
        >>> dp = gg.parallel.DataParallel(model, devices=['cpu', 'cpu'])
        >>> mse = lambda m, x, y: ((m(x) - y) ** 2).mean()
        >>> loss = dp.forward_backward(mse, gg.ones(6, 2), gg.zeros(6, 1))
        >>> loss.shape, model.weight.grad.shape
        ((), (1, 2))
        """
        n = batch_size(batch)
        if n == 0:
            raise ValueError("DataParallel.forward_backward: the batch is empty")
        self._prepare()
        # Thread-local modes the workers take from the caller: anomaly mode and autocast
        # (PyTorch's DataParallel also runs its replicas in the caller's autocast state).
        modes = (_grad_state.anomaly, _autocast.snapshot())
        # One seed per replica, drawn here in a fixed order, so random ops in the workers
        # (dropout) do not depend on thread timing.
        seeds = backend_for(CPU).generator(CPU).integers(0, 2**63, size=len(self.devices))
        jobs = []
        for k, (start, stop) in enumerate(shard_bounds(split_sizes(n, len(self.devices)))):
            if stop > start:
                stale = self._sync.changes(k - 1) if k > 0 else ()
                jobs.append(self._pool.submit(self._replica_step, k, stale, modes, loss_fn,
                                              batch, start, stop, (stop - start) / n,
                                              int(seeds[k])))
        results = _gather(jobs)
        self._caller_waits_for_replicas()
        started = time.perf_counter()
        self._reduce()
        self.last_reduce_seconds = time.perf_counter() - started
        # The weighted sum stays on the device: reading each shard's loss back to the host
        # would cost one synchronisation per replica and step.
        with gg.no_grad():
            total = None
            for weight, loss in results:
                part = loss.to(self.devices[0]) * weight
                total = part if total is None else total + part
        return total.reshape(())

    def _prepare(self):
        """Mirror the primary's flags into the replicas and clear their old gradients."""
        # GPU replicas work on their own streams, which do not wait for the caller's: each
        # waits (on the device, with events; the host goes on) for the work the caller has
        # queued so far on every GPU: the optimizer's update, the batch's upload.
        if self._cuda:
            from . import _cuda
            streams = self._ensure_streams()  # here, not in the workers: made once, by one thread
            _cuda.streams_wait_for_callers(set(self._cuda), [s for s in streams if s])
        for replica in self.replicas[1:]:
            _mirror_flags(self.module, replica)
            for _, p in named_parameters(replica):
                p.grad = None

    def _replica_step(self, k, stale, modes, loss_fn, batch, start, stop, weight, seed):
        """Worker thread: refresh replica ``k``, then forward and backward its shard."""
        device, replica = self.devices[k], self.replicas[k]
        with self._scope(k, modes), gg.enable_grad(), thread_generator(seed):
            if stale:
                self._sync.copy(k - 1, stale)
            shard = take_shard(batch, start, stop, device)
            loss = loss_fn(replica, *shard)
            _check_loss(loss)
            # Seeding backward with the shard's weight scales every gradient for free.
            loss.backward(gradient=gg.full(loss.shape, weight, dtype=loss.dtype,
                                           device=loss.device))
            return weight, loss.detach()

    def _scope(self, k, modes):
        """Device, stream, anomaly mode and autocast for replica ``k``'s work in a worker
        thread."""
        scope = contextlib.ExitStack()
        anomaly, autocast_state = modes
        scope.enter_context(_autocast.restored(autocast_state))
        if anomaly:
            scope.enter_context(gg.detect_anomaly())
        if self.devices[k].type == "cuda":
            from . import _cuda
            scope.enter_context(_cuda.on_stream(self.devices[k], self._ensure_streams()[k]))
        return scope

    def _reduce(self):
        primary = [p for _, p in named_parameters(self.module)]
        others = [[p for _, p in named_parameters(r)] for r in self.replicas[1:]]
        if not self._use_nccl:
            _reduce.sum_into(primary, others)  # the caller already waits for the replicas
            return
        _reduce.nccl_sum_into(primary, others, self.devices, self._ensure_streams(),
                              self._ensure_comms(), self.bucket_cap_mb)
        self._caller_waits_for_replicas()

    def _caller_waits_for_replicas(self):
        """Order the caller's later work on each GPU (reading gradients, the optimizer step)
        after everything the replicas' streams have queued, without blocking the host."""
        if not self._cuda:
            return
        from . import _cuda
        for device, stream in zip(self.devices, self._ensure_streams()):
            if stream is not None:
                with _cuda.on_device(device):
                    _cuda.current_waits_for(stream)

    def _ensure_streams(self):
        """One stream per GPU replica (None for CPU replicas), made on first use."""
        if self._streams is None:
            from . import _cuda
            self._streams = [_cuda.new_stream(d) if d.type == "cuda" else None
                             for d in self.devices]
        return self._streams

    def _ensure_comms(self):
        if self._comms is None:
            from . import _cuda
            self._comms = _cuda.LocalNccl(self.devices)
        return self._comms

    # ---- the rest ------------------------------------------------------------------------
    def invalidate(self):
        """Make the next step copy every parameter and buffer into the replicas.

        >>> model = gg.nn.Linear(2, 1)
        >>> dp = gg.parallel.DataParallel(model, devices=['cpu', 'cpu'])
        >>> model.weight.numpy()[...] = 0  # behind gpugrad's back
        >>> dp.invalidate()
        >>> _ = dp.forward_backward(lambda m, x: m(x).mean(), gg.ones(4, 2))
        >>> dp.replicas[1].weight.tolist()
        [[0.0, 0.0]]
        """
        self._sync.invalidate()

    def close(self):
        """Stop the worker threads (also done when the object is collected).

        >>> model = gg.nn.Linear(2, 1)
        >>> dp = gg.parallel.DataParallel(model, devices=['cpu', 'cpu'])
        >>> dp.close()
        """
        self._pool.shutdown(wait=True)

    def __repr__(self):
        return f"DataParallel(devices={[str(d) for d in self.devices]})"


def default_devices():
    """Every GPU if there is any (a list of one for a single GPU), else two CPU replicas.

    >>> default_devices() if not gg.cuda.is_available() else ["cpu", "cpu"]
    ['cpu', 'cpu']
    """
    count = gg.cuda.device_count()
    if count == 0:
        return ["cpu", "cpu"]
    return [f"cuda:{i}" for i in range(count)]


def _check_on_device(module, device):
    for name, p in named_parameters(module):
        if p.device is not device:
            raise ValueError(f"DataParallel: parameter {name!r} is on {p.device}, but the "
                             f"module must be on devices[0] = {device}; call .to() first")


def _mirror_flags(primary, replica):
    """Copy ``training`` of every submodule and ``requires_grad`` of every parameter."""
    modules = getattr(primary, "modules", None)
    if modules is not None:
        for src, dst in zip(primary.modules(), replica.modules()):
            dst.training = src.training
    for (_, src), (_, dst) in zip(named_parameters(primary), named_parameters(replica)):
        dst.requires_grad = src.requires_grad


def _check_loss(loss):
    if not isinstance(loss, gg.Tensor) or loss.numel() != 1:
        shape = getattr(loss, "shape", type(loss).__name__)
        raise ValueError(f"DataParallel: loss_fn must return a one-element tensor (the mean "
                         f"loss of its shard), got {shape}")


def _gather(futures):
    """Results of every future, in order; the first error is raised after all finished,
    so no replica is left half way through its backward."""
    concurrent.futures.wait(futures)
    return [f.result() for f in futures]
