"""``torch.distributed``'s process-group calls over gpugrad's MPI runtime:
``init_process_group``, ``get_rank``, ``get_world_size``, ``is_initialized``,
``destroy_process_group``, ``all_reduce``, ``broadcast`` and ``barrier``.

There is one group, MPI's world: ``backend`` (``"mpi"``, ``"gloo"``, ``"nccl"`` or None),
``init_method``, ``store`` and ``group`` are accepted for PyTorch's signatures and change
nothing; ``rank`` and ``world_size``, if given, must match what ``mpiexec`` started. Tensors
are reduced through host memory. Without ``mpiexec`` (and even without mpi4py) this is a
world of one process.
"""
import enum

import numpy as np

from ..tensor import Tensor
from . import runtime

_BACKENDS = (None, "mpi", "gloo", "nccl", "cpu:gloo,cuda:nccl")
_state = {"local": False, "active": False}


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the ranks' tensors.

    >>> import gpugrad.distributed as dist
    >>> dist.ReduceOp.SUM.name
    'SUM'
    """

    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the process group (MPI's world; ``dist.init`` under the hood). ``timeout``
    bounds each collective as in ``dist.init``.

    >>> import gpugrad.distributed as dist
    >>> dist.init_process_group("gloo")  # without mpiexec: a world of one
    >>> dist.get_rank(), dist.get_world_size(), dist.is_initialized()
    (0, 1, True)
    >>> dist.destroy_process_group()
    """
    if backend not in _BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; expected one of "
                         f"{_BACKENDS[1:]} or None")
    try:
        runtime.init(timeout)
        _state["local"] = False
    except RuntimeError:  # no mpi4py
        if runtime.launched_world_size() != 1:
            raise
        _state["local"] = True
    size = 1 if _state["local"] else runtime.world_size()
    me = 0 if _state["local"] else runtime.rank()
    if world_size not in (-1, None) and world_size != size:
        raise ValueError(f"init_process_group: world_size={world_size}, but the launcher "
                         f"started {size} processes")
    if rank not in (-1, None) and rank != me:
        raise ValueError(f"init_process_group: rank={rank}, but this process is rank {me}")
    _state["active"] = True


def is_initialized():
    """True between ``init_process_group`` (or ``dist.init``) and ``destroy_process_group``.

    >>> import gpugrad.distributed as dist
    >>> isinstance(dist.is_initialized(), bool)
    True
    """
    if _state["active"] is None:  # destroyed
        return False
    return _state["active"] or runtime.is_initialized()


def destroy_process_group(group=None):
    """Leave the process group: ``is_initialized()`` turns False. MPI itself stays up until
    the process exits (it cannot start twice), so ``init_process_group`` may be called
    again.

    >>> import gpugrad.distributed as dist
    >>> dist.init_process_group()
    >>> dist.destroy_process_group(); dist.is_initialized()
    False
    """
    _state["active"] = None  # not even dist.init()'s group counts now


def get_rank(group=None):
    """This process's rank in the group (0 .. get_world_size() - 1).

    >>> import gpugrad.distributed as dist
    >>> dist.init_process_group(); dist.get_rank()
    0
    """
    _check("get_rank")
    return 0 if _state["local"] else runtime.rank()


def get_world_size(group=None):
    """The number of processes in the group.

    >>> import gpugrad.distributed as dist
    >>> dist.init_process_group(); dist.get_world_size()
    1
    """
    _check("get_world_size")
    return 1 if _state["local"] else runtime.world_size()


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank got here.

    >>> import gpugrad.distributed as dist
    >>> dist.init_process_group(); dist.barrier()
    """
    _check("barrier")
    if not _state["local"]:
        runtime.barrier()


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Replace ``tensor`` on every rank by the elementwise ``op`` (``ReduceOp.SUM``,
    ``PRODUCT``, ``MIN``, ``MAX`` or ``AVG``) of all ranks' ``tensor``, in place.

    >>> import gpugrad.distributed as dist
    >>> dist.init_process_group()
    >>> t = gg.tensor([1.0, 2.0]); dist.all_reduce(t); t  # x world size under mpiexec
    tensor([1., 2.])
    """
    _check("all_reduce")
    if not isinstance(tensor, Tensor):
        raise TypeError(f"all_reduce: expected a Tensor, got {type(tensor).__name__}")
    op = ReduceOp(op.value if isinstance(op, ReduceOp) else str(op).lower())
    if _state["local"] or runtime.world_size() == 1:
        return None
    MPI = runtime.mpi()
    mpi_op = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
              ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}[op]
    local = np.ascontiguousarray(_host(tensor._data))
    total = np.empty_like(local)
    watch = runtime.watchdog()
    begun = watch.begin("all_reduce")
    watch.wait([watch.comm("all_reduce").Iallreduce(local, total, op=mpi_op)], begun)
    if op is ReduceOp.AVG:
        total = (total / runtime.world_size()).astype(local.dtype)
    _write(tensor, total)
    return None


def broadcast(tensor, src, group=None, async_op=False):
    """Overwrite ``tensor`` on every rank with rank ``src``'s, in place.

    >>> import gpugrad.distributed as dist
    >>> dist.init_process_group()
    >>> t = gg.tensor([3.0]); dist.broadcast(t, src=0); t
    tensor([3.])
    """
    _check("broadcast")
    if not isinstance(tensor, Tensor):
        raise TypeError(f"broadcast: expected a Tensor, got {type(tensor).__name__}")
    size = get_world_size()
    if not 0 <= src < size:
        raise ValueError(f"broadcast: src {src} is not a rank of a world of {size}")
    if size == 1:
        return None
    buffer = np.ascontiguousarray(_host(tensor._data)).copy()
    watch = runtime.watchdog()
    begun = watch.begin("broadcast")
    watch.wait([watch.comm("broadcast").Ibcast(buffer, root=src)], begun)
    _write(tensor, buffer)
    return None


def _check(name):
    if not is_initialized():
        raise RuntimeError(f"{name}: the default process group is not initialised; call "
                           "init_process_group() first")


def _host(array):
    return array.get() if hasattr(array, "get") else array


def _write(tensor, host_array):
    """Put ``host_array`` into ``tensor``'s own memory (on its device), as an in-place op."""
    xp = tensor._backend.xp
    with tensor._backend.device_context(tensor.device):
        tensor._data[...] = xp.asarray(host_array)
    tensor._bump_version()
