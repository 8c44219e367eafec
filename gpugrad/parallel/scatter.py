"""Splitting a batch over devices: sizes as even as possible, then one shard per device."""
import gpugrad as gg


def split_sizes(n, parts):
    """``n`` examples over ``parts`` devices as evenly as possible, the first ones larger.

    >>> split_sizes(63, 2), split_sizes(1, 2)
    ([32, 31], [1, 0])
    """
    if parts < 1:
        raise ValueError(f"split_sizes: need at least one part, got {parts}")
    base, extra = divmod(int(n), parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def batch_size(batch):
    """The number of examples in ``batch``: the common dim-0 length of its tensors.

    >>> import gpugrad as gg
    >>> batch_size((gg.zeros(5, 2), gg.zeros(5), 0.5))
    5
    """
    sizes = {len(t) for t in batch if isinstance(t, gg.Tensor)}
    if len(sizes) != 1:
        found = [tuple(t.shape) for t in batch if isinstance(t, gg.Tensor)]
        raise ValueError(f"a batch needs tensors with one common first dimension, got shapes "
                         f"{found}")
    return sizes.pop()


def shard_bounds(sizes):
    """``(start, stop)`` row ranges of consecutive shards of the given sizes.

    >>> shard_bounds([2, 2, 1])
    [(0, 2), (2, 4), (4, 5)]
    """
    bounds, start = [], 0
    for size in sizes:
        bounds.append((start, start + size))
        start += size
    return bounds


def take_shard(batch, start, stop, device):
    """Rows ``start:stop`` of every tensor of ``batch``, on ``device``; other arguments as
    they are.

    >>> import gpugrad as gg
    >>> take_shard((gg.arange(4), 7), 1, 3, "cpu")
    (tensor([1, 2]), 7)
    """
    with gg.no_grad():
        return tuple(_shard(arg, start, stop, device) for arg in batch)


def scatter(batch, sizes, devices):
    """Shard ``i`` of every tensor of ``batch`` (``sizes[i]`` rows) on ``devices[i]``.

    Arguments that are not tensors are passed to every shard unchanged. Returns one tuple
    per device; a device with a size of 0 gets None.

    >>> import gpugrad as gg
    >>> shards = scatter((gg.arange(3), "tag"), [2, 1], ["cpu", "cpu"])
    >>> [(x.tolist(), tag) for x, tag in shards]
    [([0, 1], 'tag'), ([2], 'tag')]
    """
    shards = []
    for (start, stop), device in zip(shard_bounds(sizes), devices):
        shards.append(None if stop == start else take_shard(batch, start, stop, device))
    return shards


def _shard(arg, start, stop, device):
    if not isinstance(arg, gg.Tensor):
        return arg
    # A basic slice is a view: moving it copies only this shard's rows.
    return arg[start:stop].to(device)
