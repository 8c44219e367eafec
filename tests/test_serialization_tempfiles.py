"""Temporary files of interrupted saves: recognisable, removed by the next save to the same
path, and never taken for checkpoints by ``resume_from`` or ``ModelCheckpoint``'s pruning."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.serialization import _atomic, is_temp_file, remove_leftovers
from gpugrad.train import ModelCheckpoint, Trainer
from gpugrad.train.callbacks import checkpoint_file

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and POSIX pids")

_CHILD = textwrap.dedent("""
    import os, sys, time
    import gpugrad as gg
    from gpugrad.serialization import _format
    path, where = sys.argv[1], sys.argv[2]
    gg.save({"version": 1, "w": gg.ones(1000)}, path)

    def hang(*args):
        print("ready", flush=True)
        time.sleep(120)

    if where == "before_rename":  # the temporary file is complete, not yet renamed
        os.fsync = hang
    else:  # killed between writing one tensor and the next
        first, bytes_of = [], _format._bytes_of
        def bytes_of_then_hang(array):
            if first:
                hang()
            first.append(array)
            return bytes_of(array)
        _format._bytes_of = bytes_of_then_hang
    gg.save({"version": 2, "w": gg.zeros(1000), "v": gg.zeros(2000, dtype="float64")}, path)
""")


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _plant(folder, target, host=None, pid=None, age=0.0, token="0badc0de"):
    name = f".{target}.{host or _atomic._host_tag()}-{pid or _dead_pid()}-{token}.tmp"
    path = folder / name
    path.write_bytes(b"half a checkpoint")
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


@pytest.mark.parametrize("where", ["before_rename", "mid_data"])
def test_sigkill_mid_save_leaves_old_file_and_a_recognisable_leftover(tmp_path, where):
    path = tmp_path / "last.safetensors"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path), where],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert gg.load(path)["version"] == 1  # the old checkpoint, intact
    leftovers = [name for name in os.listdir(tmp_path) if name != "last.safetensors"]
    assert len(leftovers) == 1 and is_temp_file(leftovers[0])
    assert leftovers[0].startswith(".last.safetensors.") and leftovers[0].endswith(".tmp")
    # resume_from=<folder> picks the real checkpoint although the leftover is newer
    assert checkpoint_file(tmp_path) == str(path)
    gg.save({"version": 3}, path)
    assert os.listdir(tmp_path) == ["last.safetensors"]
    assert gg.load(path) == {"version": 3}


def test_next_save_removes_only_dead_writers_leftovers_of_that_path(tmp_path):
    target = "ckpt.safetensors"
    other_host = "ffffffff" if _atomic._host_tag() != "ffffffff" else "eeeeeeee"
    dead = _plant(tmp_path, target)
    abandoned = _plant(tmp_path, target, host=other_host, pid=1, age=2 * 3600)
    alive = _plant(tmp_path, target, pid=os.getpid())           # a save in progress
    recent = _plant(tmp_path, target, host=other_host, pid=1, token="12345678")  # maybe live
    other_target = _plant(tmp_path, "best.safetensors")
    user_files = [tmp_path / f".{target}.notes.tmp", tmp_path / f"{target}.bak",
                  tmp_path / f".{target}.0123abcd-12-0123abcd.tmp.keep"]
    for user_file in user_files:
        user_file.write_bytes(b"mine")
    gg.save({"epoch": 1}, tmp_path / target)
    assert not dead.exists() and not abandoned.exists()
    assert alive.exists() and recent.exists() and other_target.exists()
    assert all(user_file.exists() for user_file in user_files)
    assert [is_temp_file(p) for p in (dead, alive, other_target, *user_files)] == \
        [True, True, True, False, False, False]
    assert remove_leftovers(tmp_path / "best.safetensors") == [str(other_target)]


def _trainer(callbacks=()):
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = gg.optim.SGD(model.parameters(), lr=0.05)
    return Trainer(model, opt, F.cross_entropy, seed=0, progress=False,
                   callbacks=list(callbacks))


def _data():
    rng = np.random.default_rng(0)
    return gg.tensor(rng.normal(size=(16, 4)).astype(np.float32)), \
        gg.tensor(rng.integers(0, 3, size=16))


def test_pruning_keeps_the_newest_epochs_and_ignores_temporary_files(tmp_path):
    decoy = _plant(tmp_path, "epoch9.safetensors", pid=os.getpid())  # alive: must stay
    dead_epoch1 = _plant(tmp_path, "epoch1.safetensors")
    checkpoint = ModelCheckpoint(tmp_path, every=1, save_best=False, keep=2)
    _trainer([checkpoint]).fit(_data(), epochs=5, batch_size=8)
    names = sorted(os.listdir(tmp_path))
    assert names == sorted(["epoch4.safetensors", "epoch5.safetensors", "last.safetensors",
                            decoy.name])
    assert not dead_epoch1.exists()
    assert gg.load(tmp_path / "epoch4.safetensors")["epoch"] == 4


def test_pruning_removes_leftovers_of_the_pruned_files(tmp_path, monkeypatch):
    checkpoint = ModelCheckpoint(tmp_path, every=1, save_best=False, keep=1)
    trainer = _trainer([checkpoint])
    trainer.fit(_data(), epochs=1, batch_size=8)
    leftover = _plant(tmp_path, "epoch1.safetensors")  # after epoch 1 was saved
    trainer.fit(_data(), epochs=2, batch_size=8)
    assert sorted(os.listdir(tmp_path)) == ["epoch2.safetensors", "last.safetensors"]
    assert not leftover.exists()


def test_keep_must_be_positive():
    with pytest.raises(ValueError, match="keep"):
        ModelCheckpoint("unused", keep=0)


def test_resume_from_a_folder_ignores_a_newer_temporary_file(tmp_path):
    ahead = tmp_path / "ahead"
    _trainer([ModelCheckpoint(ahead, save_best=False)]).fit(_data(), epochs=5, batch_size=8)
    folder = tmp_path / "run"
    _trainer([ModelCheckpoint(folder, save_best=False)]).fit(_data(), epochs=2, batch_size=8)
    # A complete, newer checkpoint under a temporary name: a save killed before its rename.
    planted = folder / f".last.safetensors.{_atomic._host_tag()}-{os.getpid()}-0badc0de.tmp"
    planted.write_bytes((ahead / "last.safetensors").read_bytes())
    later = time.time() + 60
    os.utime(planted, (later, later))
    resumed = _trainer([ModelCheckpoint(tmp_path / "more", save_best=False)])
    history = resumed.fit(_data(), epochs=3, batch_size=8, resume_from=folder)
    assert resumed.epoch == 3 and len(history["loss"]) == 3  # from epoch 2, not 5


def test_resume_from_a_folder_takes_its_newest_checkpoint(tmp_path):
    _trainer([ModelCheckpoint(tmp_path, every=2, save_best=False)]).fit(_data(), epochs=4,
                                                                        batch_size=8)
    old = time.time() - 100
    os.utime(tmp_path / "epoch4.safetensors", (old, old))
    os.utime(tmp_path / "epoch2.safetensors", (old - 10, old - 10))
    assert checkpoint_file(tmp_path) == str(tmp_path / "last.safetensors")
    os.remove(tmp_path / "last.safetensors")
    assert checkpoint_file(tmp_path) == str(tmp_path / "epoch4.safetensors")
    resumed = _trainer([ModelCheckpoint(tmp_path / "more", save_best=False)])
    resumed.fit(_data(), epochs=5, batch_size=8, resume_from=tmp_path)
    assert resumed.epoch == 5 and len(resumed.history["loss"]) == 5


def test_resume_from_a_folder_without_checkpoints_is_file_not_found(tmp_path):
    _plant(tmp_path, "last.safetensors", pid=os.getpid())
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        _trainer().fit(_data(), epochs=1, batch_size=8, resume_from=tmp_path)
