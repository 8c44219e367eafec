"""Several processes, one device each: ``DistributedDataParallel`` over MPI (CPU tensors)
or NCCL (GPU tensors, bootstrapped over MPI).

``import gpugrad.distributed as dist`` works without mpi4py; ``dist.init()`` imports it.

>>> import gpugrad.distributed as dist
>>> dist.launched_world_size() >= 1
True

A script::

    import gpugrad.distributed as dist
    dist.init()                                     # MPI; installs abort-on-error hooks
    ddp = dist.DistributedDataParallel(model)       # rank 0's parameters everywhere
    loss = ddp.forward_backward(loss_fn, x_local, y_local)
    opt.step()

runs as ``mpiexec -n 2 python script.py``. PyTorch's ``init_process_group``, ``get_rank``,
``get_world_size``, ``all_reduce``, ``broadcast``, ``barrier`` and ``destroy_process_group``
work over the same MPI world (``process_group.py``).
"""
from .ddp import DistributedDataParallel, broadcast_state, state_checksum
from .runtime import (abort, abort_on_error, all_reduce_sum, broadcast_object, comm, init,
                      launched_rank, launched_world_size, rank, run, world_size)
from .process_group import (ReduceOp, all_reduce, barrier, broadcast, destroy_process_group,
                            get_rank, get_world_size, init_process_group, is_initialized)
from .devices import local_device
from .watchdog import CollectiveError

__all__ = ["CollectiveError", "DistributedDataParallel", "abort", "abort_on_error",
           "all_reduce_sum", "barrier", "broadcast_object", "broadcast_state", "comm", "init",
           "is_initialized", "launched_rank", "launched_world_size", "local_device", "rank",
           "run", "state_checksum", "world_size"]
__all__ += ["ReduceOp", "all_reduce", "broadcast", "destroy_process_group", "get_rank",
            "get_world_size", "init_process_group"]
