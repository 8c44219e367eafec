"""DataLoader: resuming a shuffled, drop_last epoch part way, and the end-of-epoch state."""
import gpugrad as gg
from gpugrad.data import DataLoader, TensorDataset


def _loader(seed=0):
    return DataLoader(TensorDataset(gg.arange(11)), batch_size=3, shuffle=True,
                      drop_last=True, seed=seed)


def _take(iterator, k):
    return [next(iterator)[0].tolist() for _ in range(k)]


def test_drop_last_shuffled_resume_matches_an_uninterrupted_run():
    reference = _loader()
    expected = [x.tolist() for (x,) in reference] + [x.tolist() for (x,) in reference]
    assert [len(b) for b in expected] == [3] * 6  # 11 // 3 full batches, twice

    for cut in range(4):  # after 0..3 batches (3 = the epoch's last one, still iterating)
        loader = _loader()
        it = iter(loader)
        got = _take(it, cut)
        resumed = _loader(seed=99)
        resumed.load_state_dict(loader.state_dict())
        got += [x.tolist() for (x,) in resumed] + [x.tolist() for (x,) in resumed]
        # Cut after the last batch, the state already points at the next epoch.
        assert got[:6] == expected, cut
