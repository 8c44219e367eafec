"""``gpugrad.utils.data`` against ``torch.utils.data``: samplers, partitions, collation,
splits, worker threads and iterable datasets."""
import collections
import threading

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.utils.data as gdata
from gpugrad.utils.data.distributed import DistributedSampler

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def _plain(batch):
    """Tensors (gpugrad or torch) as nested lists, containers as lists/dicts."""
    if isinstance(batch, (gg.Tensor, torch.Tensor)):
        return ("tensor", str(batch.dtype).split(".")[-1], batch.tolist())
    if isinstance(batch, dict):
        return {key: _plain(value) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return (type(batch).__name__, [_plain(v) for v in batch])
    if isinstance(batch, (tuple, list)):
        return (type(batch).__name__, [_plain(v) for v in batch])
    return batch


def test_alias_is_the_same_package():
    assert gg.data.DataLoader is gdata.DataLoader
    assert gg.data.Dataset is gdata.Dataset and gg.data.default_collate is gdata.default_collate
    assert gg.data.distributed.DistributedSampler is DistributedSampler


@pytest.mark.parametrize("n", [0, 1, 7])
def test_sequential_sampler(n):
    assert list(gdata.SequentialSampler(range(n))) == list(tdata.SequentialSampler(range(n)))
    assert len(gdata.SequentialSampler(range(n))) == n


@pytest.mark.parametrize("n, size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                                 (2, 5, False), (2, 5, True), (0, 2, False)])
def test_batch_sampler(n, size, drop_last):
    ours = gdata.BatchSampler(gdata.SequentialSampler(range(n)), size, drop_last)
    theirs = tdata.BatchSampler(tdata.SequentialSampler(range(n)), size, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)
    with pytest.raises(ValueError):
        gdata.BatchSampler(range(n), 0, drop_last)


@pytest.mark.parametrize("n", [10, 11, 3, 1])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_partitions_like_torch(n, replicas, drop_last):
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = tdata.distributed.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                                      drop_last=drop_last)
        assert list(ours) == list(theirs), rank
        assert len(ours) == len(theirs)


def test_distributed_sampler_shuffle_and_defaults():
    parts = []
    for rank in range(3):
        sampler = DistributedSampler(range(12), 3, rank, seed=5)
        sampler.set_epoch(2)
        parts += list(sampler)
    assert sorted(parts) == list(range(12))
    again = DistributedSampler(range(12), 3, 0, seed=5)
    again.set_epoch(2)
    assert list(again) == parts[:4]
    again.set_epoch(3)
    assert list(again) != parts[:4]
    default = DistributedSampler(range(5), shuffle=False)  # not initialised: one replica
    assert (default.num_replicas, default.rank, list(default)) == (1, 0, [0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="rank"):
        DistributedSampler(range(5), 2, 2)


def test_distributed_sampler_in_a_loader_resumes_with_set_epoch():
    ds = gdata.TensorDataset(gg.arange(10))
    sampler = DistributedSampler(ds, 2, 1, seed=3)
    loader = gdata.DataLoader(ds, batch_size=2, sampler=sampler)
    loader.set_epoch(4)
    expected = [x.tolist() for (x,) in loader]
    loader.set_epoch(4)
    it = iter(loader)
    first = next(it)[0].tolist()
    resumed = gdata.DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, 2, 1, seed=3))
    resumed.load_state_dict(loader.state_dict())
    assert [first] + [x.tolist() for (x,) in resumed] == expected


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("make", [
    lambda T, a: [T([1.0, 2.0]), T([3.0, 4.0])],
    lambda T, a: [1, 2, 3],
    lambda T, a: [1.5, 2.5],
    lambda T, a: [True, False],
    lambda T, a: [a([1, 2], dtype=np.float32), a([3, 4], dtype=np.float32)],
    lambda T, a: [np.float32(1.0), np.float32(2.0)],
    lambda T, a: [np.int64(3), np.int64(4)],
    lambda T, a: ["a", "b"],
    lambda T, a: [(T([1]), 2), (T([3]), 4)],
    lambda T, a: [[1, 2.0], [3, 4.0]],
    lambda T, a: [{"x": T([1.0]), "y": 1, "s": "p"}, {"x": T([2.0]), "y": 2, "s": "q"}],
    lambda T, a: [Point(1, T([1.0])), Point(2, T([2.0]))],
    lambda T, a: [{"nest": [Point(1.0, a([1]))]}, {"nest": [Point(2.0, a([2]))]}],
], ids=["tensors", "ints", "floats", "bools", "arrays", "np-float32", "np-int64", "strings",
        "tuples", "lists", "dicts", "namedtuples", "nested"])
def test_default_collate_matches_torch(make):
    ours = gdata.default_collate(make(gg.tensor, np.array))
    theirs = tdata.default_collate(make(torch.tensor, np.array))
    assert _plain(ours) == _plain(theirs)


@pytest.mark.filterwarnings("ignore:Length of split")
@pytest.mark.parametrize("n, lengths", [(10, [3, 7]), (10, [0.3, 0.7]), (10, [0.33, 0.33, 0.34]),
                                        (7, [0.5, 0.5]), (5, [0.1, 0.1, 0.8]), (4, [4, 0])])
def test_random_split_lengths_like_torch(n, lengths):
    ours = gdata.random_split(range(n), lengths, generator=np.random.default_rng(0))
    theirs = tdata.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in ours] == [len(p) for p in theirs]
    assert sorted(sum((list(p) for p in ours), [])) == list(range(n))
    assert all(isinstance(p, gdata.Subset) for p in ours)
    with pytest.raises(ValueError):
        gdata.random_split(range(n), [n + 1])


def test_random_split_without_generator_follows_manual_seed():
    gg.manual_seed(1)
    a = [list(p) for p in gdata.random_split(range(8), [0.5, 0.5])]
    gg.manual_seed(1)
    assert [list(p) for p in gdata.random_split(range(8), [0.5, 0.5], generator=None)] == a


def test_concat_dataset_and_subset_index_like_torch():
    parts = [list(range(3)), list(range(10, 12)), [], list(range(20, 24))]
    ours, theirs = gdata.ConcatDataset(parts), tdata.ConcatDataset(parts)
    assert len(ours) == len(theirs) and ours.cumulative_sizes == theirs.cumulative_sizes
    for i in range(-len(ours), len(ours)):
        assert ours[i] == theirs[i]
    with pytest.raises(IndexError):
        ours[len(ours)]
    sub, tsub = gdata.Subset(ours, [5, 0, 8]), tdata.Subset(theirs, [5, 0, 8])
    assert [sub[i] for i in range(3)] == [tsub[i] for i in range(3)] and len(sub) == 3
    ds = gdata.TensorDataset(gg.arange(6) * 2)
    batches = [x.tolist() for (x,) in gdata.DataLoader(gdata.Subset(ds, [5, 1, 3]),
                                                       batch_size=2)]
    assert batches == [[10, 2], [6]]


def test_random_sampler_is_a_uniform_permutation():
    rng = np.random.default_rng(0)
    counts = np.zeros((4, 4))
    for _ in range(4000):
        order = list(gdata.RandomSampler(range(4), generator=rng))
        assert sorted(order) == [0, 1, 2, 3]
        counts[np.arange(4), order] += 1
    np.testing.assert_allclose(counts / 4000, 0.25, atol=0.03)  # position x value


def test_random_sampler_with_replacement_and_num_samples():
    rng = np.random.default_rng(1)
    draws = list(gdata.RandomSampler(range(5), replacement=True, num_samples=20000,
                                     generator=rng))
    assert len(draws) == 20000 and set(draws) == set(range(5))
    np.testing.assert_allclose(np.bincount(draws) / 20000, 0.2, atol=0.02)
    long = list(gdata.RandomSampler(range(3), num_samples=7, generator=rng))
    assert len(long) == 7 and sorted(long[:3]) == [0, 1, 2] and sorted(long[3:6]) == [0, 1, 2]
    gg.manual_seed(2)
    a = list(gdata.RandomSampler(range(9)))
    gg.manual_seed(2)
    assert list(gdata.RandomSampler(range(9))) == a


def test_weighted_random_sampler_frequencies():
    weights = [1.0, 3.0, 0.0, 6.0]
    draws = list(gdata.WeightedRandomSampler(weights, 30000, generator=np.random.default_rng(0)))
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 30000,
                               [0.1, 0.3, 0.0, 0.6], atol=0.015)
    once = list(gdata.WeightedRandomSampler(gg.tensor(weights), 3, replacement=False,
                                            generator=np.random.default_rng(0)))
    assert sorted(once) == [0, 1, 3]
    with pytest.raises(ValueError):
        gdata.WeightedRandomSampler(weights, 4, replacement=False)


def test_subset_random_sampler():
    rng = np.random.default_rng(0)
    seen = {tuple(gdata.SubsetRandomSampler([3, 5, 9], generator=rng)) for _ in range(60)}
    assert all(sorted(s) == [3, 5, 9] for s in seen) and len(seen) == 6


class Slow(gdata.Dataset):
    """Examples whose build time varies, so unordered workers would show."""

    def __len__(self):
        return 23

    def __getitem__(self, i):
        import time
        time.sleep(0.002 * ((i * 7) % 3))
        return {"x": np.full(2, i, dtype=np.float32), "i": i}


@pytest.mark.parametrize("shuffle, drop_last", [(False, False), (True, True)])
def test_workers_give_the_batches_of_a_single_thread_in_order(shuffle, drop_last):
    def epoch(workers):
        loader = gdata.DataLoader(Slow(), batch_size=4, shuffle=shuffle, drop_last=drop_last,
                                  num_workers=workers, seed=3)
        return [_plain(b) for b in loader]
    assert epoch(2) == epoch(0)
    assert epoch(3) == epoch(0)
    ds = gdata.TensorDataset(gg.arange(10), gg.arange(10) * 2)
    plain = [_plain(b) for b in gdata.DataLoader(ds, batch_size=3)]
    assert [_plain(b) for b in gdata.DataLoader(ds, batch_size=3, num_workers=2,
                                                 prefetch_factor=1)] == plain


@pytest.mark.parametrize("workers", [0, 2])
def test_batches_of_device_tensors_stay_on_their_device(device, workers):
    x = gg.arange(10.0, device=device).reshape(5, 2)
    ds = gdata.TensorDataset(x, gg.arange(5, device=device))
    loader = gdata.DataLoader(ds, batch_size=2, shuffle=True, num_workers=workers, seed=1)
    cpu = gdata.DataLoader(gdata.TensorDataset(x.cpu(), gg.arange(5)), batch_size=2,
                           shuffle=True, num_workers=workers, seed=1)
    for (xb, yb), (xc, yc) in zip(loader, cpu):
        assert xb.device == gg.device(device) and yb.device == gg.device(device)
        assert xb.tolist() == xc.tolist() and yb.tolist() == yc.tolist()


def test_workers_resume_mid_epoch():
    loader = gdata.DataLoader(Slow(), batch_size=4, shuffle=True, seed=0, num_workers=2)
    expected = [b["i"].tolist() for b in loader]
    loader.set_epoch(0)
    it = iter(loader)
    got = [next(it)["i"].tolist() for _ in range(2)]
    again = gdata.DataLoader(Slow(), batch_size=4, shuffle=True, num_workers=2)
    again.load_state_dict(loader.state_dict())
    assert got + [b["i"].tolist() for b in again] == expected


class WhoBuilt(gdata.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = gdata.get_worker_info()
        return (info.id, info.num_workers, info.seed, info.dataset is self,
                threading.current_thread().name)


def test_worker_init_fn_and_worker_info():
    called = []
    lock = threading.Lock()

    def init(worker_id):
        info = gdata.get_worker_info()
        with lock:
            called.append((worker_id, info.id, info.num_workers))

    ds = WhoBuilt()
    loader = gdata.DataLoader(ds, batch_size=2, num_workers=2, worker_init_fn=init,
                              collate_fn=lambda items: items)
    batches = list(loader)
    assert sorted(called) == [(0, 0, 2), (1, 1, 2)]
    ids = [batch[0][0] for batch in batches]
    assert ids == [0, 1, 0, 1]  # batch k comes from worker k % num_workers
    seeds = {batch[0][0]: batch[0][2] for batch in batches}
    assert seeds[1] == seeds[0] + 1
    assert all(item[1] == 2 and item[3] for batch in batches for item in batch)
    assert gdata.get_worker_info() is None


def test_worker_errors_reach_the_loop():
    class Broken(gdata.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            if i == 3:
                raise KeyError("bad example")
            return i

    with pytest.raises(KeyError, match="bad example"):
        list(gdata.DataLoader(Broken(), batch_size=1, num_workers=2))


class Stream(gdata.IterableDataset):
    """0..n-1, each worker taking its contiguous share by ``get_worker_info``."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = gdata.get_worker_info()
        if info is None:
            return iter(range(self.n))
        per = -(-self.n // info.num_workers)
        return iter(range(info.id * per, min(self.n, (info.id + 1) * per)))


class TStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


@pytest.mark.parametrize("drop_last", [False, True])
def test_iterable_dataset_without_workers_like_torch(drop_last):
    ours = [b.tolist() for b in gdata.DataLoader(Stream(10), batch_size=3, drop_last=drop_last)]
    theirs = [b.tolist() for b in tdata.DataLoader(TStream(10), batch_size=3,
                                                   drop_last=drop_last)]
    assert ours == theirs
    assert list(gdata.DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]
    with pytest.raises(ValueError):
        gdata.DataLoader(Stream(3), shuffle=True)


def test_iterable_dataset_sharded_by_workers():
    batches = [b.tolist() for b in gdata.DataLoader(Stream(10), batch_size=2, num_workers=2)]
    # Workers take turns: worker 0 has 0..4, worker 1 has 5..9 (round robin, as in PyTorch).
    assert batches == [[0, 1], [5, 6], [2, 3], [7, 8], [4], [9]]
    uneven = [b.tolist() for b in gdata.DataLoader(Stream(7), batch_size=3, num_workers=3)]
    assert sorted(sum(uneven, [])) == list(range(7))


def test_pytorch_signature_and_checks():
    import inspect
    ours = list(inspect.signature(gdata.DataLoader).parameters)
    theirs = list(inspect.signature(tdata.DataLoader).parameters)
    assert ours[:len(theirs)] == theirs  # ours adds seed and device at the end
    ds = gdata.TensorDataset(gg.arange(6))
    loader = gdata.DataLoader(ds, 2, None, None, None, 0, None, True, False, 0, None, None,
                              None, prefetch_factor=None, persistent_workers=False,
                              pin_memory_device="", in_order=True)
    assert [x.tolist() for (x,) in loader] == [[0, 1], [2, 3], [4, 5]]
    assert isinstance(loader.sampler, gdata.SequentialSampler)
    assert isinstance(gdata.DataLoader(ds, shuffle=True).sampler, gdata.RandomSampler)
    with pytest.raises(ValueError, match="mutually exclusive"):
        gdata.DataLoader(ds, shuffle=True, sampler=gdata.SequentialSampler(ds))
    with pytest.raises(ValueError, match="mutually exclusive"):
        gdata.DataLoader(ds, batch_size=2, batch_sampler=[[0, 1]])
    with pytest.raises(ValueError, match="prefetch_factor"):
        gdata.DataLoader(ds, prefetch_factor=2)
    by_batch = gdata.DataLoader(ds, batch_sampler=gdata.BatchSampler(range(6), 4, False))
    assert [x.tolist() for (x,) in by_batch] == [[0, 1, 2, 3], [4, 5]] and len(by_batch) == 2
    single = gdata.DataLoader(list(range(3)), batch_size=None)
    assert list(single) == [0, 1, 2]
    weighted = gdata.WeightedRandomSampler([0.0, 1.0, 0.0, 0.0, 0.0, 0.0], 4)
    assert [x.tolist() for (x,) in gdata.DataLoader(ds, batch_size=2, sampler=weighted)] == \
        [[1, 1], [1, 1]]


def test_distributed_sampler_defaults_from_the_initialised_group(monkeypatch):
    import gpugrad.distributed as dist
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda: 3, raising=False)
    monkeypatch.setattr(dist, "get_rank", lambda: 2, raising=False)
    sampler = DistributedSampler(range(7), shuffle=False)
    assert (sampler.num_replicas, sampler.rank, list(sampler)) == (3, 2, [2, 5, 1])
