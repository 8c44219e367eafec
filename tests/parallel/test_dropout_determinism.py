"""Random ops inside data-parallel replicas are reproducible under gg.manual_seed."""
import numpy as np

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F


def _run(seed):
    gg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))
    dp = gg.parallel.DataParallel(model, devices=["cpu", "cpu"])
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    x = gg.randn(20, 6)
    y = gg.randint(0, 3, (20,))
    losses = []
    for _ in range(4):
        opt.zero_grad()
        losses.append(dp.forward_backward(lambda m, a, b: F.cross_entropy(m(a), b), x, y).item())
        opt.step()
    dp.close()
    return losses, [p.numpy().copy() for p in model.parameters()]


def test_dropout_in_replicas_is_reproducible():
    first, second = _run(3), _run(3)
    assert first[0] == second[0]
    for a, b in zip(first[1], second[1]):
        np.testing.assert_array_equal(a, b)
    assert _run(4)[0] != first[0]  # and the masks do depend on the seed


def test_thread_generator_is_local_to_the_block():
    gg.manual_seed(0)
    expected = gg.rand(3).tolist()
    gg.manual_seed(0)
    with gg.random.thread_generator(123):
        gg.rand(5)
    assert gg.rand(3).tolist() == expected
