"""Trainer: metrics, devices, schedulers, callbacks, non-finite losses and exact resume."""
import glob
import os
import struct

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.train import EarlyStopping, ModelCheckpoint, Trainer


def _blobs(n=96, seed=0):
    """Three separable Gaussian blobs in 4-D: (x, y) tensors."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centers = np.eye(3, 4) * 3.0
    x = centers[y] + rng.normal(scale=0.7, size=(n, 4))
    return gg.tensor(x.astype(np.float32)), gg.tensor(y)


def _model(dropout=0.0, seed=0):
    gg.manual_seed(seed)
    layers = [nn.Linear(4, 16), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(16, 3))


def _trainer(model, devices=None, lr=0.05, **kwargs):
    opt = gg.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    kwargs.setdefault("progress", False)
    return Trainer(model, opt, F.cross_entropy, devices=devices, seed=0, **kwargs)


def test_fit_records_metrics_and_learns():
    train, val = _blobs(), _blobs(48, seed=1)
    trainer = _trainer(_model())
    history = trainer.fit(train, epochs=5, batch_size=16, val_data=val)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "examples_per_s"):
        assert len(history[key]) == 5, key
    assert len(history["batch_loss"]) == 5 * 6
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.9
    assert trainer.epoch == 5 and trainer.global_step == 30
    result = trainer.evaluate(val)
    assert result["loss"] == pytest.approx(history["val_loss"][-1])
    assert trainer.model.training  # evaluate restored the mode


def test_two_cpu_replicas_match_one_device_with_the_same_effective_batch():
    train = _blobs()
    one = _trainer(_model(), devices=["cpu"])
    two = _trainer(_model(), devices=["cpu", "cpu"])
    assert two.devices == ["cpu", "cpu"] and one.devices == ["cpu"]
    h1 = one.fit(train, epochs=3, batch_size=32)
    h2 = two.fit(train, epochs=3, batch_size=16)  # per device: the same 32 per step
    np.testing.assert_allclose(h2["batch_loss"], h1["batch_loss"], rtol=1e-5, atol=1e-6)
    assert h2["accuracy"] == h1["accuracy"]
    for a, b in zip(one.model.parameters(), two.model.parameters()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("devices, dropout", [("cpu", 0.2), (["cpu", "cpu"], 0.0)],
                         ids=["one_device_dropout", "two_replicas"])
def test_resume_is_bit_identical(tmp_path, devices, dropout):
    train, val = _blobs(), _blobs(48, seed=1)

    def make(callbacks=()):
        model = _model(dropout)
        opt = gg.optim.Adam(model.parameters(), lr=0.01)
        sched = gg.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
        return Trainer(model, opt, F.cross_entropy, devices=devices, scheduler=sched,
                       scheduler_step="batch", progress=False,
                       callbacks=[EarlyStopping(patience=10), *callbacks])

    straight = make()
    expected = straight.fit(train, epochs=4, batch_size=16, val_data=val)

    first = make([ModelCheckpoint(tmp_path, every=2)])
    first.fit(train, epochs=2, batch_size=16, val_data=val)
    gg.manual_seed(12345)  # a fresh process would start from some other RNG state
    resumed = make([ModelCheckpoint(tmp_path / "more", every=2)])
    got = resumed.fit(train, epochs=4, batch_size=16, val_data=val,
                      resume_from=tmp_path / "epoch2.safetensors")

    assert got["batch_loss"] == expected["batch_loss"]
    assert got["val_loss"] == expected["val_loss"]
    assert got["lr"] == expected["lr"]
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        np.testing.assert_array_equal(b.numpy(), a.numpy())
    assert resumed.epoch == 4 and resumed.global_step == straight.global_step


def test_nonfinite_loss_raises_with_epoch_and_step():
    x, y = _blobs(32)
    x.numpy()[20, 0] = np.nan  # in the second batch of 16
    trainer = _trainer(_model())
    with pytest.raises(FloatingPointError, match=r"epoch 1, step 2"):
        trainer.fit((x, y), epochs=1, batch_size=16)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_nonfinite_loss_can_skip_the_batch():
    x, y = _blobs(32)
    x.numpy()[20, 0] = np.inf
    trainer = _trainer(_model(), on_nonfinite="skip")
    history = trainer.fit((x, y), epochs=2, batch_size=16)
    assert history["skipped_batches"] == [1.0, 1.0]
    assert trainer.global_step == 2
    assert all(np.isfinite(p.numpy()).all() for p in trainer.model.parameters())


def test_schedulers_per_epoch_and_plateau_gets_the_metric():
    train = _blobs()
    model = _model()
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    sched = gg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = Trainer(model, opt, F.cross_entropy, scheduler=sched,
                      progress=False).fit(train, epochs=3, batch_size=32)
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.025])

    model = _model()
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    plateau = gg.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=0)
    trainer = Trainer(model, opt, F.cross_entropy, scheduler=plateau,
                      scheduler_monitor="val_loss", progress=False)
    # mode="max" on a falling loss: every epoch after the first is "worse", and with
    # patience 0 each one halves the lr.
    history = trainer.fit(train, epochs=3, batch_size=32, val_data=train)
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05])


def test_early_stopping_restores_the_best_weights():
    train = _blobs()
    model = _model()
    stop = EarlyStopping(monitor="val_loss", patience=1, restore_best=True)
    trainer = _trainer(model, lr=5.0, callbacks=[stop])  # diverges: val loss soon rises
    history = trainer.fit(train, epochs=20, batch_size=16, val_data=train)
    assert stop.stopped_epoch is not None and len(history["loss"]) < 20
    best = int(np.argmin(history["val_loss"]))
    assert trainer.evaluate(train)["loss"] == pytest.approx(history["val_loss"][best])


def test_model_checkpoint_files(tmp_path):
    train = _blobs()
    trainer = _trainer(_model(), callbacks=[ModelCheckpoint(tmp_path, every=2,
                                                            monitor="val_accuracy")])
    trainer.fit(train, epochs=3, batch_size=16, val_data=train)
    names = sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "*.safetensors")))
    assert names == ["best.safetensors", "epoch2.safetensors", "last.safetensors"]
    state = gg.load(tmp_path / "last.safetensors")
    assert state["epoch"] == 2 and set(state["model"]) == {"0.weight", "0.bias", "2.weight",
                                                            "2.bias"}


def _event_tags(folder):
    """Scalar and histogram tags in the tensorboardX event files under ``folder``."""
    from tensorboardX.proto import event_pb2
    tags = set()
    for path in glob.glob(os.path.join(folder, "**", "events.out.tfevents.*"), recursive=True):
        with open(path, "rb") as f:
            data = f.read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4  # length, its CRC, the record, its CRC
            tags.update(v.tag for v in event.summary.value)
    return tags


def test_tensorboard_logs_and_history_plot(tmp_path):
    train = _blobs()
    run_dir = gg.train.next_run_dir(str(tmp_path / "runs"), "exp")
    assert run_dir.endswith("exp1")
    trainer = _trainer(_model(), log_dir=run_dir, hparams={"note": "test"})
    trainer.fit(train, epochs=2, batch_size=32, val_data=train)
    tags = _event_tags(run_dir)
    for tag in ("progress/batch_loss", "epoch_loss", "epoch_accuracy",
                "progress/learning_rate", "params/0.weight", "grads/2.bias"):
        assert tag in tags, tag
    assert "_hparams_/session_start_info" in tags
    png = trainer.plot_history(str(tmp_path / "curves.png"))
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_regression_has_no_accuracy_and_tuple_inputs():
    rng = np.random.default_rng(0)
    x = gg.tensor(rng.normal(size=(40, 3)).astype(np.float32))
    y = x.sum(1, keepdim=True) * 2.0
    model = nn.Linear(3, 1)
    opt = gg.optim.SGD(model.parameters(), lr=0.05)
    history = Trainer(model, opt, F.mse_loss, progress=False).fit((x, y), epochs=10,
                                                                  batch_size=8)
    assert "accuracy" not in history
    assert history["loss"][-1] < 0.1 * history["loss"][0]


def test_bad_options():
    with pytest.raises(ValueError, match="scheduler_step"):
        _trainer(_model(), scheduler_step="week")
    with pytest.raises(ValueError, match="on_nonfinite"):
        _trainer(_model(), on_nonfinite="ignore")


def test_fit_on_empty_data_is_an_error_not_a_nan_history():
    x, y = _blobs()
    trainer = _trainer(_model())
    with pytest.raises(ValueError, match="Trainer.fit: the training data holds no examples"):
        trainer.fit((x[:0], y[:0]), epochs=2, batch_size=16)
    assert trainer.epoch == 0 and trainer.global_step == 0
