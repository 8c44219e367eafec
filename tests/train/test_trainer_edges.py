"""Trainer edge cases: resuming an early-stopped run, optional dependencies missing,
best-only checkpoints, no validation data."""
import os
import sys

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.train import EarlyStopping, ModelCheckpoint, Trainer


def _blobs(n=48, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = np.eye(3, 4)[y] * 3.0 + rng.normal(scale=0.7, size=(n, 4))
    return gg.tensor(x.astype(np.float32)), gg.tensor(y)


def _trainer(lr=0.05, **kwargs):
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = gg.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return Trainer(model, opt, F.cross_entropy, seed=0, progress=False, **kwargs)


def test_resuming_the_epoch_that_stopped_early_trains_no_further(tmp_path):
    train = _blobs()

    def make(folder):
        stop = EarlyStopping(monitor="val_loss", patience=1, restore_best=True)
        return _trainer(lr=5.0, callbacks=[stop, ModelCheckpoint(folder, every=1)]), stop

    straight, stop = make(tmp_path / "a")  # diverges: the val loss soon rises
    expected = straight.fit(train, epochs=20, batch_size=16, val_data=train)
    assert stop.stopped_epoch is not None and straight.epoch < 20

    resumed, stop = make(tmp_path / "b")
    got = resumed.fit(train, epochs=20, batch_size=16, val_data=train,
                      resume_from=tmp_path / "a" / "last.safetensors")
    assert got == expected and resumed.epoch == straight.epoch
    assert stop.stopped_epoch == straight.epoch - 1
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        np.testing.assert_array_equal(b.numpy(), a.numpy())  # the best weights, restored


def test_a_larger_patience_trains_on_after_an_early_stop(tmp_path):
    train = _blobs()
    first = _trainer(lr=5.0, callbacks=[EarlyStopping(patience=1),
                                        ModelCheckpoint(tmp_path, every=1)])
    first.fit(train, epochs=20, batch_size=16, val_data=train)
    more = _trainer(lr=5.0, callbacks=[EarlyStopping(patience=100), ModelCheckpoint(tmp_path)])
    more.fit(train, epochs=first.epoch + 1, batch_size=16, val_data=train,
             resume_from=tmp_path / "last.safetensors")
    assert more.epoch == first.epoch + 1


def test_missing_tensorboardx_and_matplotlib_raise_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import fails
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    trainer = _trainer(log_dir=str(tmp_path / "run"))
    with pytest.raises(ImportError, match="tensorboardX"):
        trainer.fit(_blobs(), epochs=1, batch_size=16)
    assert trainer.epoch == 0
    with pytest.raises(ImportError, match="matplotlib"):
        trainer.plot_history(str(tmp_path / "curves.png"))


def test_best_only_checkpoints_and_no_validation_data(tmp_path):
    plateau_trainer = _trainer()
    opt = plateau_trainer.optimizer
    plateau_trainer.scheduler = gg.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    checkpoint = ModelCheckpoint(tmp_path, every=0, monitor="loss")
    plateau_trainer.callbacks = [checkpoint]
    history = plateau_trainer.fit(_blobs(), epochs=3, batch_size=16)  # val_data=None
    assert "val_loss" not in history and len(history["loss"]) == 3
    assert sorted(os.listdir(tmp_path)) == ["best.safetensors"]
    best = int(np.argmin(history["loss"])) + 1
    assert gg.load(tmp_path / "best.safetensors")["epoch"] == best
