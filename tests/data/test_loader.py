"""TensorDataset and DataLoader: batching, seeded shuffling, exact mid-epoch resume."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.data import DataLoader, Dataset, TensorDataset, default_collate


def _dataset(n=10):
    return TensorDataset(gg.arange(n), gg.arange(n) * 10)


def _epoch(loader):
    return [x.tolist() for x, _ in loader]


def test_tensor_dataset_rows_and_checks():
    ds = _dataset(4)
    assert len(ds) == 4
    x, y = ds[2]
    assert (x.item(), y.item()) == (2, 20)
    with pytest.raises(ValueError, match="tensor 1 has shape"):
        TensorDataset(gg.zeros(3), gg.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


@pytest.mark.parametrize("n, batch, drop_last, sizes", [
    (10, 4, False, [4, 4, 2]), (10, 4, True, [4, 4]), (8, 4, False, [4, 4]), (3, 5, False, [3]),
    (3, 5, True, [])])
def test_batches_cover_the_data_once(n, batch, drop_last, sizes):
    loader = DataLoader(_dataset(n), batch_size=batch, drop_last=drop_last)
    batches = _epoch(loader)
    assert [len(b) for b in batches] == sizes == [len(b) for b in _epoch(loader)]
    assert len(loader) == len(sizes)
    if not drop_last:
        assert sum(batches, []) == list(range(n))


def test_targets_stay_aligned_with_inputs_when_shuffled():
    for x, y in DataLoader(_dataset(), batch_size=3, shuffle=True, seed=1):
        np.testing.assert_array_equal(y.numpy(), x.numpy() * 10)


def test_shuffle_is_seeded_and_new_each_epoch():
    a = DataLoader(_dataset(), batch_size=3, shuffle=True, seed=7)
    b = DataLoader(_dataset(), batch_size=3, shuffle=True, seed=7)
    first, second = _epoch(a), _epoch(a)
    assert first == _epoch(b) and second == _epoch(b)
    assert first != second
    assert sorted(sum(first, [])) == list(range(10))
    assert _epoch(DataLoader(_dataset(), batch_size=3, shuffle=True, seed=8)) != first


def test_default_seed_comes_from_manual_seed():
    gg.manual_seed(3)
    a = _epoch(DataLoader(_dataset(), batch_size=4, shuffle=True))
    gg.manual_seed(3)
    assert _epoch(DataLoader(_dataset(), batch_size=4, shuffle=True)) == a
    generator = np.random.default_rng(5)
    assert DataLoader(_dataset(), shuffle=True, generator=generator).seed == \
        DataLoader(_dataset(), shuffle=True, generator=np.random.default_rng(5)).seed


def test_state_dict_resumes_mid_epoch_exactly():
    reference = DataLoader(_dataset(), batch_size=3, shuffle=True, seed=0)
    expected = _epoch(reference) + _epoch(reference)

    loader = DataLoader(_dataset(), batch_size=3, shuffle=True, seed=0)
    got = []
    it = iter(loader)
    for _ in range(2):
        got.append(next(it)[0].tolist())
    state = loader.state_dict()
    assert state["epoch"] == 0 and state["position"] == 2

    resumed = DataLoader(_dataset(), batch_size=3, shuffle=True, seed=123)
    resumed.load_state_dict(state)
    got += _epoch(resumed)
    assert resumed.state_dict()["epoch"] == 1
    got += _epoch(resumed)
    assert got == expected


def test_state_at_the_end_of_an_epoch_points_to_the_next():
    loader = DataLoader(_dataset(4), batch_size=2)
    for _ in loader:
        pass
    assert loader.state_dict() == {"seed": loader.seed, "epoch": 1, "position": 0}


def test_abandoned_loop_starts_a_new_epoch_and_set_epoch():
    loader = DataLoader(_dataset(), batch_size=3, shuffle=True, seed=0)
    epoch0 = loader.indices(0)[:3].tolist()
    first = next(iter(loader))[0].tolist()
    assert first == epoch0
    assert loader.epoch == 0
    second = next(iter(loader))[0].tolist()  # the abandoned loop counted as epoch 0
    assert second == loader.indices(1)[:3].tolist() and loader.epoch == 1
    loader.set_epoch(5)
    assert next(iter(loader))[0].tolist() == loader.indices(5)[:3].tolist()


class Pairs(Dataset):
    """A dataset that builds each example on access (numbers, arrays, dicts)."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full(2, float(i), dtype=np.float32), "y": i, "t": gg.tensor([i, i])}


def test_default_collate_stacks_fields():
    batch = next(iter(DataLoader(Pairs(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["x"].dtype == np.float32
    assert batch["y"].tolist() == [0, 1, 2]
    assert batch["t"].tolist() == [[0, 0], [1, 1], [2, 2]]
    with pytest.raises(TypeError, match="don't know how to batch"):
        default_collate([object()])


def test_custom_collate_and_device():
    loader = DataLoader(Pairs(), batch_size=2, collate_fn=lambda items: len(items))
    assert list(loader) == [2, 2, 1]
    x, y = next(iter(DataLoader(_dataset(), batch_size=2, device="cpu")))
    assert x.device == "cpu"


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_dataset(), batch_size=0)


@pytest.mark.cuda
def test_batches_move_to_the_gpu():
    x, y = next(iter(DataLoader(_dataset(), batch_size=2, device="cuda")))
    assert x.device.type == "cuda" and y.device.type == "cuda"
