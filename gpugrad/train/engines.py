"""How one training step runs: on one device, with ``DataParallel`` over several devices, or
with ``DistributedDataParallel`` over MPI ranks. The Trainer sees one interface.

Every engine takes a whole *global* batch (per-device batch x replicas); it splits it over
devices (DataParallel) or keeps this rank's part (distributed), and returns the mean loss
over the global batch.
"""
import gpugrad as gg
from .. import distributed as dist
from ..data import to_device
from ..parallel import DataParallel, default_devices, shard_bounds, split_sizes


class SingleDevice:
    """Everything on one device."""

    replicas = 1
    is_main = True

    def __init__(self, model, device):
        self.model = model.to(device)
        self.device = gg.device(device)
        self.devices = [self.device]

    def forward_backward(self, loss_fn, *batch):
        loss = loss_fn(self.model, *to_device(batch, self.device))
        loss.backward()
        return loss.detach()

    def local_part(self, batch):
        """The part of an evaluation batch this process computes, on its device."""
        return to_device(batch, self.device)

    def all_reduce_sum(self, values):
        return [float(v) for v in values]

    def common_seed(self, seed):
        """The shuffling seed every process uses (this process's own here)."""
        return seed


class MultiDevice(SingleDevice):
    """One process, several devices: ``DataParallel``."""

    def __init__(self, model, devices):
        super().__init__(model, devices[0])
        self.parallel = DataParallel(self.model, devices)
        self.devices = self.parallel.devices
        self.replicas = len(self.devices)

    def forward_backward(self, loss_fn, *batch):
        return self.parallel.forward_backward(loss_fn, *batch)


class Distributed(SingleDevice):
    """One device per MPI rank: ``DistributedDataParallel``; this rank takes its share of
    each global batch (``split_sizes`` over the ranks)."""

    def __init__(self, model, device, **ddp_options):
        super().__init__(model, device)
        self.rank, self.replicas = dist.rank(), dist.world_size()
        self.is_main = self.rank == 0
        self.ddp = dist.DistributedDataParallel(self.model, **ddp_options)

    def forward_backward(self, loss_fn, *batch):
        return self.ddp.forward_backward(loss_fn, *self.local_part(batch))

    def local_part(self, batch):
        n = len(batch[0])
        start, stop = shard_bounds(split_sizes(n, self.replicas))[self.rank]
        with gg.no_grad():
            part = tuple(t[start:stop] if isinstance(t, gg.Tensor) else t for t in batch)
        return to_device(part, self.device)

    def all_reduce_sum(self, values):
        return [float(v) for v in dist.all_reduce_sum(values)]

    def common_seed(self, seed):
        """Rank 0's seed: every rank must shuffle into the same global batches, even when
        their generators were seeded differently (or not at all)."""
        return dist.broadcast_object(seed)


def make_engine(model, devices=None, **ddp_options):
    """The engine for ``devices``: None (the model's device), "auto" (every GPU, else two
    CPU replicas), a list such as ``["cuda:0", "cuda:1"]`` or ``["cpu", "cpu"]``, or the
    same as a comma-separated string. Under ``mpiexec`` with several ranks each rank takes
    one device (its local GPU for "auto"/None, else ``devices[rank % len(devices)]``).

    >>> import gpugrad as gg
    >>> class Tiny:
    ...     def to(self, device):
    ...         return self
    ...     def named_parameters(self):
    ...         return []
    >>> type(make_engine(Tiny(), "cpu")).__name__
    'SingleDevice'
    """
    if dist.launched_world_size() > 1 and dist.init() > 1:
        if devices is None or devices == "auto":
            device = dist.local_device()
        else:
            listed = _as_list(devices)
            device = listed[dist.rank() % len(listed)]
        return Distributed(model, device, **ddp_options)
    if devices is None:
        devices = [_model_device(model)]
    elif devices == "auto":
        devices = default_devices()
    devices = _as_list(devices)
    if len(devices) == 1:
        return SingleDevice(model, devices[0])
    return MultiDevice(model, devices)


def _as_list(devices):
    if isinstance(devices, str):
        return [d.strip() for d in devices.split(",") if d.strip()]
    return list(devices)


def _model_device(model):
    for _, p in model.named_parameters():
        return p.device
    return "cpu"
