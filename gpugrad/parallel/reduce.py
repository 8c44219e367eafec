"""Summing the replicas' gradients into the primary's ``.grad``.

Each replica's backward was seeded with its shard's weight (shard size / batch size), so the
plain sum is the gradient of the mean loss over the whole batch. A replica without a
gradient for a parameter contributes zero; a parameter no replica has a gradient for keeps
``.grad`` None. The primary's existing ``.grad`` is part of the sum, so gradients accumulate
across calls as ``backward`` does.
"""
import gpugrad as gg
from ..sparse import RowSparseGrad
from . import buckets as _buckets


def grad_to(grad, device):
    """A gradient (dense Tensor or ``RowSparseGrad``) on ``device``."""
    if not isinstance(grad, RowSparseGrad):
        return grad.to(device)
    indices = gg.Tensor(grad.indices).to(device)._data
    values = gg.Tensor(grad.values).to(device)._data
    return RowSparseGrad(indices, values, grad.shape)


def sum_into(primary, others):
    """``primary[j].grad`` += the ``.grad`` of ``params[j]`` for every list in ``others``.

    >>> import gpugrad as gg
    >>> a, b = gg.nn.Parameter(gg.ones(1)), gg.nn.Parameter(gg.ones(1))
    >>> b.grad = gg.tensor([2.0])
    >>> sum_into([a], [[b]]); a.grad
    tensor([2.])
    """
    with gg.no_grad():
        for j, p in enumerate(primary):
            total = p.grad
            for params in others:
                g = params[j].grad
                if g is None:
                    continue
                g = grad_to(g, p.device)
                total = g if total is None else total + g
            p.grad = total


def nccl_sum_into(primary, replicas, devices, streams, comms, cap_mb):
    """Like ``sum_into`` for GPU replicas: dense gradients go through one NCCL all-reduce
    per flat bucket (all devices at once, each on its own stream), then are unpacked into
    the primary's ``.grad``. Row-sparse gradients are summed as in ``sum_into``.
    """
    from . import _cuda
    everyone = [primary] + list(replicas)
    used = [j for j in range(len(primary)) if any(ps[j].grad is not None for ps in everyone)]
    sparse = {j for j in used
              if any(isinstance(ps[j].grad, RowSparseGrad) for ps in everyone)}
    dense = [j for j in used if j not in sparse]
    for bucket in _buckets.plan_buckets([primary[j] for j in dense], cap_mb):
        members = [dense[b] for b in bucket]
        flats = []
        for params, device, stream in zip(everyone, devices, streams):
            with _cuda.on_stream(device, stream):
                flats.append(_pack_replica(params, members))
        comms.all_reduce(flats, streams)
        with _cuda.on_stream(devices[0], streams[0]):
            _buckets.unpack(flats[0], [_writable_grad(primary[j]) for j in members])
    if sparse:
        picked = sorted(sparse)
        sum_into([primary[j] for j in picked], [[ps[j] for j in picked] for ps in replicas])


def _pack_replica(params, members):
    """One replica's gradients of ``members`` in one flat buffer (zeros where it has none)."""
    import cupy
    arrays = []
    for j in members:
        p = params[j]
        arrays.append(cupy.zeros(p.shape, p.dtype) if p.grad is None else p.grad._data)
    total = sum(a.size for a in arrays)
    return _buckets.pack(arrays, cupy.empty(total, dtype=arrays[0].dtype))


def _writable_grad(p):
    """``p.grad``'s array, made C-contiguous (or zero-filled if missing) to unpack into."""
    if p.grad is None:
        p.grad = gg.zeros(p.shape, dtype=p.dtype, device=p.device)
    elif not p.grad._data.flags.c_contiguous:
        with gg.no_grad():
            p.grad = p.grad.clone()
    return p.grad._data
