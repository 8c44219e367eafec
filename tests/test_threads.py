"""``gg.set_num_threads`` / ``gg.get_num_threads`` against PyTorch's: accepted values, the
errors of bad ones, and what the count reaches (the BLAS pool, Numba's loops in every
thread)."""
import threading

import numba
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import threads


@pytest.fixture(autouse=True)
def _restore():
    before = gg.get_num_threads()
    yield
    gg.set_num_threads(before)


def _blas_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    counts = [i["num_threads"] for i in threadpoolctl.threadpool_info()
              if i["user_api"] == "blas"]
    if not counts:
        pytest.skip("no BLAS library found by threadpoolctl")
    return counts


@pytest.mark.parametrize("n", [1, 2, 3, np.int64(2)])
def test_set_then_get_as_torch(n):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(n)
        gg.set_num_threads(n)
        assert gg.get_num_threads() == torch.get_num_threads() == n
        assert type(gg.get_num_threads()) is int
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None, 2 ** 31])
def test_bad_counts_raise_as_torch(bad):
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as theirs:
        torch.set_num_threads(bad)
    with pytest.raises(type(theirs.value)) as mine:
        gg.set_num_threads(bad)
    assert type(mine.value) is type(theirs.value)
    assert str(mine.value) == str(theirs.value)


def test_bad_count_changes_nothing():
    gg.set_num_threads(1)
    with pytest.raises(RuntimeError):
        gg.set_num_threads(0)
    assert gg.get_num_threads() == 1


def test_default_is_numbas_count(monkeypatch):
    monkeypatch.setattr(threads, "_count", None)
    assert gg.get_num_threads() == numba.get_num_threads() >= 1


def test_sets_the_blas_pool():
    gg.set_num_threads(1)
    assert _blas_threads() == [1] * len(_blas_threads())
    gg.set_num_threads(2)
    assert _blas_threads() == [2] * len(_blas_threads())


def test_numba_count_reaches_other_threads_and_is_capped():
    cap = numba.config.NUMBA_NUM_THREADS
    gg.set_num_threads(1)
    assert numba.get_num_threads() == 1
    seen = []

    def worker():  # a fresh thread starts with Numba's default count
        threads.apply_to_numba()
        seen.append(numba.get_num_threads())
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [1]
    gg.set_num_threads(cap + 5)  # more than Numba's pool: Numba uses all it has
    assert gg.get_num_threads() == cap + 5
    assert numba.get_num_threads() == cap


@pytest.mark.parametrize("n_threads", [1, 2])
def test_results_do_not_depend_on_the_count(n_threads, monkeypatch, rng):
    """The loops split planes and elements, never a sum: any count gives the same bits."""
    monkeypatch.setattr(threads, "PARALLEL_MIN", 1)
    x0 = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)

    def run():
        x = gg.from_numpy(x0.copy()).requires_grad_()
        out = gg.nn.functional.max_pool2d(gg.relu(gg.nn.functional.unfold(x, 3)
                                                  .reshape(4, 27, 6, 6)), 2)
        out.sum().backward()
        return out.numpy(), x.grad.numpy()

    gg.set_num_threads(1)
    one = run()
    gg.set_num_threads(n_threads)
    other = run()
    for a, b in zip(one, other):
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


def test_loops_run_from_several_threads_at_once(monkeypatch, rng):
    """Data parallel on the CPU runs replicas in threads: their loops may overlap."""
    monkeypatch.setattr(threads, "PARALLEL_MIN", 1)
    gg.set_num_threads(2)
    arrays = [rng.standard_normal((64, 257)) for _ in range(4)]
    results = [None] * len(arrays)

    def worker(k):
        for _ in range(20):
            x = gg.from_numpy(arrays[k]).requires_grad_()
            gg.relu(x).sum().backward()
        results[k] = x.grad.numpy()
    workers = [threading.Thread(target=worker, args=(k,)) for k in range(len(arrays))]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    for a, grad in zip(arrays, results):
        np.testing.assert_array_equal(grad, (a > 0).astype(np.float64))
