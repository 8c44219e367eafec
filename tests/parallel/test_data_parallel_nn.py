"""DataParallel with gpugrad.nn modules: the invariant with real layers and losses, buffers,
training flags and sparse embedding gradients."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.parallel import DataParallel


def _net(seed=0, dtype=gg.float64):
    gg.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 12), nn.Tanh(),
                         nn.Linear(12, 4)).to(dtype)


def _ce(model, x, y):
    return F.cross_entropy(model(x), y)


def _batches(sizes, dtype=gg.float64, seed=3):
    rng = np.random.default_rng(seed)
    return [(gg.tensor(rng.normal(size=(n, 6)), dtype=dtype),
             gg.tensor(rng.integers(0, 4, size=n))) for n in sizes]


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_sequential_with_cross_entropy_matches_one_device(opt):
    make = {"sgd": lambda ps: gg.optim.SGD(ps, lr=0.2, momentum=0.9),
            "adam": lambda ps: gg.optim.AdamW(ps, lr=0.02)}[opt]
    single, primary = _net(), _net()
    opt_single, opt_parallel = make(single.parameters()), make(primary.parameters())
    dp = DataParallel(primary, ["cpu", "cpu"])
    for x, y in _batches([32, 31, 1, 17, 6]):
        opt_single.zero_grad()
        expected = _ce(single, x, y)
        expected.backward()
        opt_single.step()
        opt_parallel.zero_grad()
        got = dp.forward_backward(_ce, x, y)
        opt_parallel.step()
        assert got.item() == pytest.approx(expected.item(), rel=1e-12)
    for (name, a), (_, b) in zip(single.named_parameters(), primary.named_parameters()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)


def test_buffers_come_from_the_primary_shard():
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5))
    reference = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5))
    reference.load_state_dict(model.state_dict())
    dp = DataParallel(model, ["cpu", "cpu"])
    x = gg.randn(9, 3)
    dp.forward_backward(lambda m, xb: m(xb).pow(2).mean(), x)
    reference(x[:5])  # the primary's shard: the first 5 of 9 rows
    for name in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        np.testing.assert_allclose(model.state_dict()[name].numpy(),
                                   reference.state_dict()[name].numpy(), rtol=1e-6,
                                   err_msg=name)
    # The replica's own update is overwritten by the primary's before its next step.
    assert "1.running_mean" in dp._sync.changes(0)
    dp._sync.copy(0, dp._sync.changes(0))
    np.testing.assert_array_equal(dp.replicas[1][1].running_mean.numpy(),
                                  model[1].running_mean.numpy())


class ModeProbe(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)
        self.seen = []

    def forward(self, x):
        self.seen.append(self.lin.training)
        return self.lin(x)


def test_replicas_follow_train_and_eval():
    model = ModeProbe()
    dp = DataParallel(model, ["cpu", "cpu"])
    x = gg.ones(4, 2)
    loss = lambda m, xb: m(xb).mean()  # noqa: E731
    dp.forward_backward(loss, x)
    dp.eval()
    dp.forward_backward(loss, x)
    assert model.seen == [True, False]
    assert dp.replicas[1].seen == [True, False]


def test_sparse_embedding_gradients_are_summed():
    gg.manual_seed(0)
    emb = nn.Embedding(10, 3, sparse=True)
    ref = nn.Embedding(10, 3, sparse=True)
    ref.load_state_dict(emb.state_dict())
    idx = gg.tensor([1, 2, 3, 1, 5])
    DataParallel(emb, ["cpu", "cpu"]).forward_backward(lambda m, i: m(i).mean(), idx)
    ref(idx).mean().backward()
    assert isinstance(emb.weight.grad, gg.RowSparseGrad)
    np.testing.assert_allclose(emb.weight.grad.to_dense().numpy(),
                               ref.weight.grad.to_dense().numpy(), rtol=1e-6)


def test_module_must_be_on_the_first_device():
    from gpugrad.parallel.data_parallel import _check_on_device

    class Elsewhere:
        """A device no parameter is on (there may be no GPU to move one to)."""

        def __str__(self):
            return "cuda:0"

    with pytest.raises(ValueError, match=r"must be on devices\[0\] = cuda:0"):
        _check_on_device(nn.Linear(2, 2), Elsewhere())
