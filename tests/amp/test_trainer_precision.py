"""Trainer(precision=...): "16-mixed" (GPUs), "bf16-mixed" (CPU), "32-true", "64-true"."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.train import Trainer


def _blobs(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = np.eye(3, 4)[y] * 3.0 + rng.normal(scale=0.7, size=(n, 4))
    return gg.tensor(x.astype(np.float32)), gg.tensor(y)


class Recorder(nn.Module):
    """A small MLP that notes the dtype of its hidden activations."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 16), nn.Linear(16, 3)
        self.seen = set()

    def forward(self, x):
        h = self.fc1(x)
        self.seen.add(h.dtype)
        return self.fc2(F.relu(h))


def _trainer(model, devices=None, **kwargs):
    opt = gg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return Trainer(model, opt, F.cross_entropy, devices=devices, seed=0, progress=False,
                   **kwargs)


def test_bf16_mixed_trains_on_the_cpu():
    gg.manual_seed(0)
    model = Recorder()
    trainer = _trainer(model, precision="bf16-mixed")
    assert trainer.precision == "bf16-mixed" and trainer.scaler is None
    history = trainer.fit(_blobs(), epochs=4, batch_size=16, val_data=_blobs(48, 1))
    assert model.seen == {gg.bfloat16}
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.85
    assert all(p.dtype == gg.float32 for p in model.parameters())


def test_bf16_mixed_on_two_cpu_replicas():
    gg.manual_seed(0)
    model = Recorder()
    trainer = _trainer(model, devices=["cpu", "cpu"], precision="bf16")
    history = trainer.fit(_blobs(), epochs=3, batch_size=8)
    assert model.seen == {gg.bfloat16}  # the worker threads entered the region too
    assert history["loss"][-1] < history["loss"][0]


def test_16_mixed_on_the_cpu_is_refused():
    with pytest.raises(ValueError, match="bf16-mixed"):
        _trainer(Recorder(), precision="16-mixed")
    with pytest.raises(ValueError, match="not supported"):
        _trainer(Recorder(), precision="8-mixed")


def test_32_true_is_the_default_and_unchanged():
    gg.manual_seed(0)
    a = _trainer(Recorder())
    gg.manual_seed(0)
    b = _trainer(Recorder(), precision=32)
    assert a.precision == b.precision == "32-true"
    ha = a.fit(_blobs(), epochs=2, batch_size=16)
    hb = b.fit(_blobs(), epochs=2, batch_size=16)
    assert ha["batch_loss"] == hb["batch_loss"]


def test_64_true_equals_a_float64_model_on_float64_data():
    gg.manual_seed(0)
    model = Recorder()
    trainer = _trainer(model, precision="64-true")
    assert all(p.dtype == gg.float64 for p in model.parameters())
    h64 = trainer.fit(_blobs(), epochs=2, batch_size=16)
    gg.manual_seed(0)
    ref = Recorder().double()
    x, y = _blobs()
    href = _trainer(ref).fit((x.double(), y), epochs=2, batch_size=16)
    assert model.seen == {gg.float64}
    np.testing.assert_allclose(h64["batch_loss"], href["batch_loss"], rtol=1e-12)


@pytest.mark.cuda
@pytest.mark.parametrize("devices", [["cuda:0"], ["cuda:0", "cuda:1"]], ids=["one", "two"])
def test_16_mixed_trains_on_gpus_with_a_scaler(devices, tmp_path):
    gg.manual_seed(0)
    model = Recorder().to("cuda:0")
    trainer = _trainer(model, devices=devices, precision="16-mixed")
    assert isinstance(trainer.scaler, gg.amp.GradScaler) and trainer.scaler.is_enabled()
    history = trainer.fit(_blobs(), epochs=4, batch_size=16, val_data=_blobs(48, 1))
    assert model.seen == {gg.float16}
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.85
    assert all(p.dtype == gg.float32 for p in model.parameters())
    # the reported loss is unscaled (a cross-entropy of 3 classes starts near log 3)
    assert history["batch_loss"][0] < 5.0
    state = trainer.state_dict()
    assert state["grad_scaler"] == trainer.scaler.state_dict()
    assert state["grad_scaler"]["_growth_tracker"] == trainer.global_step
    path = tmp_path / "ckpt.gg"
    gg.save(state, path)
    other = _trainer(Recorder().to("cuda:0"), devices=devices, precision="16-mixed")
    other.load_state_dict(gg.load(path))
    assert other.scaler.state_dict() == trainer.scaler.state_dict()


@pytest.mark.cuda
def test_bf16_mixed_on_a_gpu_is_refused():
    with pytest.raises(ValueError, match="CuPy has no bfloat16"):
        _trainer(Recorder().to("cuda:0"), precision="bf16-mixed")
