"""Single-process data parallelism: ``DataParallel`` splits each batch over several devices
and leaves the shard-size-weighted average of the replicas' gradients in the model.

>>> import gpugrad as gg
>>> gg.parallel.split_sizes(63, 2)
[32, 31]
"""
from .buckets import pack, plan_buckets, unpack
from .data_parallel import DataParallel, default_devices
from .replicate import ReplicaSync, replicate
from .scatter import batch_size, scatter, shard_bounds, split_sizes, take_shard

__all__ = ["DataParallel", "ReplicaSync", "batch_size", "default_devices", "pack",
           "plan_buckets", "replicate", "scatter", "shard_bounds", "split_sizes", "take_shard",
           "unpack"]
