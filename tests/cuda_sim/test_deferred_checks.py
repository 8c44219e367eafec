"""Index and target checks on GPUs: queued on the device, raised at the next synchronisation
(no host sync per op), raised at the op under ``gg.cuda.debug()``, skipped when off.

The simulated CuPy wraps out-of-range integer-array indices around as CuPy documents, so a
missing check would show up here as a wrong value, not as NumPy's IndexError.
"""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.backends import checks

GPU = [pytest.param("cuda", marks=pytest.mark.cuda),
       pytest.param("cuda:1", marks=pytest.mark.cuda)]


def _bad_calls(device):
    """(op name in the message, a call with one out-of-range value) pairs."""
    x = gg.ones(2, 3, device=device)
    idx = gg.tensor([[0, 5]], device=device)
    return [
        ("gather", lambda: gg.gather(x, 1, idx)),
        ("index_select", lambda: gg.index_select(x, 1, gg.tensor([3], device=device))),
        ("index", lambda: x[gg.tensor([2], device=device)]),
        ("index", lambda: x[:, gg.tensor([-4], device=device)]),
        ("cross_entropy", lambda: F.cross_entropy(x, gg.tensor([0, 3], device=device))),
        ("embedding", lambda: F.embedding(gg.tensor([4], device=device), x.T)),
        ("one_hot", lambda: F.one_hot(gg.tensor([3], device=device), 3)),
        ("binary_cross_entropy",
         lambda: F.binary_cross_entropy(x * 2, gg.zeros(2, 3, device=device))),
    ]


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # log(1 - 2) in bce
@pytest.mark.parametrize("device", GPU)
def test_bad_values_raise_at_next_synchronisation_naming_the_op(device):
    for name, call in _bad_calls(device):
        checks.discard_pending()
        call()  # queued, not raised: the host did not wait for the device
        with pytest.raises((IndexError, RuntimeError), match=f"{name}: .*next synchron"):
            gg.ones(1, device=device).item()
        gg.ones(1, device=device).item()  # reported once, then the queue is empty


@pytest.mark.parametrize("device", GPU)
def test_every_synchronisation_point_reports(device):
    x = gg.ones(4, device=device)
    for sync in (lambda: x.tolist(), lambda: x.cpu(), lambda: float(x.sum()),
                 lambda: gg.cuda.synchronize(device)):
        x[gg.tensor([9], device=device)]
        with pytest.raises(IndexError, match="index: index is out of bounds"):
            sync()


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("device", GPU)
def test_debug_mode_raises_at_the_op_with_the_value(device):
    x = gg.ones(2, 3, device=device)
    scatter = ("scatter_add", lambda: gg.scatter_add(x, 1, gg.tensor([[0, 5]], device=device),
                                                     gg.ones(1, 2, device=device)))
    with gg.cuda.debug():
        for name, call in _bad_calls(device) + [scatter]:
            with pytest.raises((IndexError, RuntimeError), match=f"{name}: ") as err:
                call()
            assert "next synchron" not in str(err.value)
    assert checks.mode() == "deferred"


@pytest.mark.parametrize("device", GPU)
def test_off_mode_skips_checks_and_gets_cupys_wrapped_values(device):
    previous = gg.cuda.set_checks("off")
    try:
        x = gg.arange(3.0, device=device)
        assert x[gg.tensor([1, 3], device=device)].tolist() == [1.0, 0.0]  # CuPy wraps
    finally:
        gg.cuda.set_checks(previous)


@pytest.mark.parametrize("device", GPU)
def test_valid_values_queue_nothing_that_raises(device):
    x = gg.ones(2, 3, device=device)
    for _ in range(3):
        y = gg.gather(x, 1, gg.tensor([[0, 2]], device=device))
        z = x[gg.tensor([-1], device=device)]
        loss = F.cross_entropy(x, gg.tensor([0, 2], device=device))
    assert y.tolist() == [[1.0, 1.0]] and z.tolist() == [[1.0, 1.0, 1.0]]
    assert np.isclose(loss.item(), np.log(3))


@pytest.mark.parametrize("device", GPU)
def test_queue_is_read_every_limit_checks_even_without_synchronising(device, monkeypatch):
    monkeypatch.setattr(checks, "_QUEUE_LIMIT", 4)
    x = gg.ones(3, device=device)
    good = gg.tensor([0], device=device)
    for _ in range(3):
        x[good]
    with pytest.raises(IndexError, match="out of bounds"):
        x[gg.tensor([3], device=device)]  # the fourth queued check: the queue is read


def test_cpu_raises_at_once_with_the_value():
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 1"):
        gg.gather(gg.ones(2, 3), 1, gg.tensor([[0, 5]]))
    assert not checks._pending


def test_bad_mode_names_the_choices():
    with pytest.raises(ValueError, match="deferred, sync, off"):
        gg.cuda.set_checks("sometimes")
