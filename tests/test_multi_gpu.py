"""Two GPUs end to end: checkpoints move between GPU and CPU, the Trainer on two GPUs equals
one device with the whole batch, and work on ``cuda:1`` never touches ``cuda:0``. Real GPUs
where there are two, else the simulated ones (``GPUGRAD_SIMULATE_CUDA=2``)."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.train import Trainer

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(gg.cuda.device_count() < 2, reason="needs two GPUs")]


def _model(device="cpu"):
    gg.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)


def _data(n=36):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    x = (np.eye(3, 4)[y] * 2 + rng.normal(scale=0.5, size=(n, 4))).astype(np.float32)
    return gg.tensor(x), gg.tensor(y)


def _values(model):
    return {name: p.cpu().numpy().copy() for name, p in model.named_parameters()}


def test_checkpoint_from_the_second_gpu_loads_on_the_cpu_and_back(tmp_path):
    gpu = _model("cuda:1")
    path = tmp_path / "ckpt.safetensors"
    gg.save({"model": gpu.state_dict()}, path)
    cpu = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    cpu.load_state_dict(gg.load(path)["model"])
    for name, value in _values(gpu).items():
        np.testing.assert_array_equal(dict(cpu.named_parameters())[name].numpy(), value)
    gg.save({"model": cpu.state_dict()}, path)
    back = _model("cuda:1")
    with gg.no_grad():
        for p in back.parameters():
            p.zero_()
    back.load_state_dict(gg.load(path)["model"])
    assert all(p.device == gg.device("cuda:1") for p in back.parameters())
    for name, value in _values(back).items():
        np.testing.assert_array_equal(value, _values(gpu)[name])


def test_trainer_on_two_gpus_equals_one_device_with_the_whole_batch():
    x, y = _data()

    def fit(devices):
        model = _model(devices[0])
        opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        trainer = Trainer(model, opt, F.cross_entropy, devices=devices, seed=0,
                          progress=False)
        history = trainer.fit((x, y), epochs=3, batch_size=12 // len(devices), val_data=(x, y))
        return _values(model), history

    two, two_history = fit(["cuda:0", "cuda:1"])
    one, one_history = fit(["cpu"])
    for name in one:
        np.testing.assert_allclose(two[name], one[name], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(two_history["val_loss"], one_history["val_loss"], rtol=1e-5)


def test_work_on_the_second_gpu_stays_there():
    """The current device is cuda:0; everything below lives on cuda:1. The simulated arrays
    raise on any read from another device, so a stray array on cuda:0 fails here."""
    model = _model("cuda:1")
    x, y = (t.to("cuda:1") for t in _data(8))
    loss = F.cross_entropy(model(x) * 2 + 1, y)
    loss.backward()
    emb = nn.Embedding.from_pretrained(gg.eye(3, device="cuda:1"))
    assert emb.weight.device == gg.device("cuda:1")
    for t in [loss, *[p.grad for p in model.parameters()], model(x).argmax(1), x > 0]:
        assert t.device == gg.device("cuda:1")
        if gg.cuda.is_simulated():
            assert t.array.device.id == 1  # the label is the array's own device
