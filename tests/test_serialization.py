"""gg.save / gg.load: safetensors checkpoints, atomic writes, clear errors on bad files."""
import json
import math
import os
import zipfile

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

import gpugrad as gg
import gpugrad.optim  # noqa: F401  (gpugrad/__init__ may not import it yet)
from gpugrad import serialization


def _checkpoint():
    return {
        "model": {"fc.weight": gg.tensor(np.arange(6.0).reshape(2, 3)),
                  "fc.bias": gg.tensor([1, 2, 3]),
                  "mask": gg.tensor([True, False])},
        "optim": {"state": {0: {"step": 3, "exp_avg": gg.zeros(2)}, 10: {}},
                  "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 10],
                                    "nesterov": False, "name": None}]},
        "epoch": 7,
        "rng": {"bit_generator": "PCG64", "state": {"state": 2 ** 127 + 12345, "inc": 2 ** 100}},
        "history": [0.5, float("inf"), -0.0, 1e-300, [np.float32(2.5), np.int64(-4)]],
        "ndarray": np.arange(4, dtype=np.int32).reshape(2, 2)[:, ::-1],
        "empty": np.zeros((0, 3)),
        "scalar": gg.tensor(2.0),
        "keys": {1.5: "float key", True: "bool key", None: "none key", -3: "int key"},
    }


def _assert_same(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, gg.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b]
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b and str(a) == str(b)  # str tells -0.0 from 0.0


def test_round_trip_keeps_structure_types_and_values(tmp_path):
    obj = _checkpoint()
    gg.save(obj, tmp_path / "ckpt.safetensors")
    _assert_same(gg.load(tmp_path / "ckpt.safetensors"), obj)


def test_round_trip_of_nan_and_top_level_tensor(tmp_path):
    gg.save([float("nan"), gg.ones(2)], str(tmp_path / "a.safetensors"))
    loaded = gg.load(str(tmp_path / "a.safetensors"))
    assert math.isnan(loaded[0]) and loaded[1].tolist() == [1.0, 1.0]


def test_tensors_stored_under_flat_dotted_names(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    gg.save(_checkpoint(), path)
    with safe_open(path, framework="np") as f:
        names = set(f.keys())
    assert {"model.fc.weight", "model.fc.bias", "optim.state.0.exp_avg", "ndarray",
            "history.4.0"} <= names


def test_model_state_dict_names_match_pytorch_convention(tmp_path):
    path = tmp_path / "model.safetensors"
    gg.save({"fc.weight": gg.ones((2, 2)), "fc.bias": gg.zeros(2)}, path)
    assert sorted(load_file(path)) == ["fc.bias", "fc.weight"]


def test_colliding_names_stay_apart(tmp_path):
    obj = {"a.b": gg.ones(1), "a": {"b": gg.zeros(1)}}
    gg.save(obj, tmp_path / "c.safetensors")
    _assert_same(gg.load(tmp_path / "c.safetensors"), obj)


def test_plain_safetensors_file_loads_as_flat_dict(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"encoder.weight": np.ones((2, 3), np.float32),
               "step": np.array(5, dtype=np.int64)}, path)
    loaded = gg.load(path)
    assert sorted(loaded) == ["encoder.weight", "step"]
    assert isinstance(loaded["encoder.weight"], gg.Tensor)
    assert loaded["encoder.weight"].dtype == np.float32 and loaded["step"].item() == 5


def test_pytorch_safetensors_state_dict_loads_with_same_names(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    model = torch.nn.Linear(3, 2)
    path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file(model.state_dict(), path)
    loaded = gg.load(path)
    assert sorted(loaded) == ["bias", "weight"]
    np.testing.assert_array_equal(loaded["weight"].numpy(), model.weight.detach().numpy())


def test_load_puts_tensors_on_the_requested_device(tmp_path, device):
    path = tmp_path / "d.safetensors"
    gg.save({"w": gg.ones(3, device=device), "n": np.ones(2)}, path)
    loaded = gg.load(path, device=device)
    assert str(loaded["w"].device).startswith(device)
    assert isinstance(loaded["n"], np.ndarray)  # NumPy arrays stay on the host
    assert str(gg.load(path)["w"].device) == "cpu"


def test_requires_grad_is_not_stored(tmp_path):
    p = gg.nn.Parameter(gg.ones(2))
    gg.save({"p": p}, tmp_path / "p.safetensors")
    loaded = gg.load(tmp_path / "p.safetensors")["p"]
    assert type(loaded) is gg.Tensor and not loaded.requires_grad


def test_no_pickle_in_the_file(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    gg.save(_checkpoint(), path)
    with safe_open(path, framework="np") as f:
        structure = json.loads(f.metadata()["gpugrad.structure"])
    assert structure["version"] == 2
    assert b"\x80\x04" not in path.read_bytes()[:16]  # no pickle protocol header


def test_unsupported_objects_raise_type_error(tmp_path):
    with pytest.raises(TypeError, match="cannot store a set"):
        gg.save({"a": {1, 2}}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="dict key of type tuple"):
        gg.save({(1, 2): 3}, tmp_path / "x.safetensors")
    assert not os.listdir(tmp_path)


# ---- atomic writes ----------------------------------------------------------------------


def test_overwrite_replaces_the_old_checkpoint(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    gg.save({"epoch": 1}, path)
    gg.save({"epoch": 2}, path)
    assert gg.load(path) == {"epoch": 2}
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]


def test_crash_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    gg.save({"epoch": 1, "w": gg.ones(3)}, path)
    before = path.read_bytes()

    def write_half_then_fail(f, arrays, metadata):
        f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"__meta")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(serialization, "write", write_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        gg.save({"epoch": 2, "w": gg.zeros(3)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # no temp file left behind
    assert gg.load(path)["epoch"] == 1


def test_crash_before_rename_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    gg.save({"epoch": 1}, path)

    def no_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(serialization.os, "fsync", no_fsync)
    with pytest.raises(OSError, match="Input/output"):
        gg.save({"epoch": 2}, path)
    monkeypatch.undo()
    assert gg.load(path) == {"epoch": 1}
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]


def test_interrupt_mid_write_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"

    def interrupted(f, arrays, metadata):
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        gg.save({"epoch": 2}, path)
    assert os.listdir(tmp_path) == []


# ---- bad files --------------------------------------------------------------------------


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        gg.load(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("cut", [1, 7, 9, 40, -1, -8])
def test_truncated_file_raises_value_error_naming_the_path(tmp_path, cut):
    good = tmp_path / "good.safetensors"
    gg.save(_checkpoint(), good)
    data = good.read_bytes()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(data[:cut] if cut > 0 else data[:cut])
    with pytest.raises(ValueError, match="bad.safetensors"):
        gg.load(bad)


@pytest.mark.parametrize("content", [b"", b"just some text\nnot a checkpoint\n",
                                     bytes(range(256)) * 4, b"\xff" * 8 + b"{}"])
def test_foreign_bytes_raise_value_error(tmp_path, content):
    path = tmp_path / "foreign.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="foreign.bin"):
        gg.load(path)


def test_zip_file_raises_value_error(tmp_path):
    path = tmp_path / "model.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data.pkl", b"not really a pickle")
    with pytest.raises(ValueError, match="model.zip"):
        gg.load(path)


def test_corrupted_tensor_bytes_fail_the_checksum(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    gg.save({"w": gg.tensor(np.arange(100.0))}, path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="tensor 'w' fails its SHA-256"):
        gg.load(path)


def test_corrupt_structure_metadata_raises_value_error(tmp_path):
    path = tmp_path / "bad.safetensors"
    save_file({"w": np.ones(2)}, path, metadata={"gpugrad.structure": "{not json"})
    with pytest.raises(ValueError, match="bad.safetensors"):
        gg.load(path)
    structure = {"version": 1, "root": {"t": "tensor", "name": "missing", "crc32": 0}}
    save_file({"w": np.ones(2)}, path, metadata={"gpugrad.structure": json.dumps(structure)})
    with pytest.raises(ValueError, match="missing"):
        gg.load(path)


def test_optimizer_checkpoint_resumes_on_a_fresh_optimizer(tmp_path):
    w = gg.nn.Parameter(gg.ones(3))
    opt = gg.optim.Adam([w], lr=0.1)
    w.grad = gg.ones(3)
    opt.step()
    gg.save({"opt": opt.state_dict(), "w": w}, tmp_path / "o.safetensors")
    ckpt = gg.load(tmp_path / "o.safetensors")
    assert ckpt["opt"]["state"][0]["step"] == 1
    assert ckpt["opt"]["param_groups"][0]["betas"] == (0.9, 0.999)
