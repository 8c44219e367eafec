"""DataParallel on models that are not plain stacks: tied, frozen and optional parameters,
extra non-tensor arguments, batches smaller than the device count."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
from gpugrad.parallel import DataParallel


class Tied(nn.Module):
    """``b`` reuses ``a``'s weight; ``extra`` is used only when ``use_extra`` is passed."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.b.weight = self.a.weight
        self.extra = nn.Parameter(gg.ones(4))

    def forward(self, x, use_extra=False):
        h = self.b(self.a(x).tanh())
        return h * self.extra if use_extra else h


def _pair():
    models = []
    for _ in range(2):
        gg.manual_seed(0)
        models.append(Tied().to(gg.float64))
    return models


def _loss(model, x, scale, use_extra):
    return model(x, use_extra).pow(2).mean() * scale


@pytest.mark.parametrize("n, devices", [(7, 2), (7, 3), (2, 3), (1, 2)])
@pytest.mark.parametrize("use_extra", [False, True])
def test_tied_frozen_and_unused_parameters_match_one_device(n, devices, use_extra):
    single, primary = _pair()
    for m in (single, primary):
        m.a.bias.requires_grad_(False)
    x = gg.tensor(np.random.default_rng(n).normal(size=(n, 4)))
    _loss(single, x, 3.0, use_extra).backward()
    dp = DataParallel(primary, ["cpu"] * devices)
    loss = dp.forward_backward(_loss, x, 3.0, use_extra)
    assert loss.item() == pytest.approx(_loss(single, x, 3.0, use_extra).item(), rel=1e-12)
    assert [n for n, _ in primary.named_parameters()] == ["extra", "a.weight", "a.bias",
                                                         "b.bias"]
    assert dp.replicas[1].a.weight is dp.replicas[1].b.weight
    for (name, a), (_, b) in zip(single.named_parameters(), primary.named_parameters()):
        if a.grad is None:
            assert b.grad is None, name  # frozen, or unused everywhere: None, not zeros
        else:
            np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-12,
                                       atol=1e-14, err_msg=name)
    dp.close()
