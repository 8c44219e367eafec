"""gg.save / gg.load integrity: every byte is checksummed, edits that keep a file well-formed
are caught, odd but valid safetensors files load, and loading keeps one copy in memory."""
import json
import os
import re
import struct
import tracemalloc

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad import serialization
from gpugrad.serialization import _format
from gpugrad.train import ModelCheckpoint, Trainer


def _raises_naming(path, what=""):
    """pytest.raises(ValueError) whose message names ``path`` (and matches ``what``)."""
    return pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + what)


def _edit(path, old, new):
    """Replace the one occurrence of ``old`` in the file by ``new`` (same length)."""
    data = path.read_bytes()
    assert data.count(old) == 1 and len(old) == len(new), (old, data.count(old))
    path.write_bytes(data.replace(old, new))


def _header_length(path):
    return struct.unpack("<Q", path.read_bytes()[:8])[0]


# ---- plain safetensors readers see our tensors ----------------------------------------


def test_plain_safetensors_reads_our_checkpoint(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    weight = np.arange(12, dtype=np.float32).reshape(3, 4)
    obj = {"model": {"fc.weight": gg.tensor(weight), "fc.bias": gg.zeros(3, dtype="float64"),
                     "steps": gg.tensor(7)},
           "mask": np.array([True, False]), "codes": np.arange(5, dtype=np.uint8), "lr": 0.1}
    gg.save(obj, path)
    plain = load_file(path)
    assert sorted(plain) == ["codes", "mask", "model.fc.bias", "model.fc.weight",
                             "model.steps"]
    np.testing.assert_array_equal(plain["model.fc.weight"], weight)
    assert plain["model.fc.bias"].dtype == np.float64 and plain["codes"].dtype == np.uint8
    with safe_open(path, framework="np") as f:
        assert f.get_tensor("model.steps") == 7
        np.testing.assert_array_equal(f.get_tensor("mask"), [True, False])
        assert set(f.metadata()) == {"gpugrad.checksum", "gpugrad.digests",
                                     "gpugrad.structure"}


def test_pytorch_reads_our_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    path = tmp_path / "model.safetensors"
    model = nn.Linear(3, 2)
    gg.save(model.state_dict(), path)
    state = safetensors_torch.load_file(path)
    torch_model = torch.nn.Linear(3, 2)
    torch_model.load_state_dict(state)
    np.testing.assert_array_equal(torch_model.weight.detach().numpy(), model.weight.numpy())


def test_header_is_padded_and_tensors_aligned(tmp_path):
    path = tmp_path / "a.safetensors"
    gg.save({"b": np.ones(3, np.uint8), "d": np.ones(2), "f": gg.ones(5)}, path)
    with open(path, "rb") as f:
        _, entries, _ = _format.read_header(f, os.path.getsize(path))
    assert (8 + _header_length(path)) % 8 == 0
    for name, dtype, _, begin, _ in entries:
        assert begin % {"F64": 8, "F32": 4, "U8": 1}[dtype] == 0, name


# ---- any change is caught ---------------------------------------------------------------


def _small(path):
    gg.save({"w": gg.tensor(np.arange(512, dtype=np.float32).reshape(32, 16)), "lr": 0.1,
             "step": 3, "note": "abc"}, path)


@pytest.mark.parametrize("old, new, what", [
    (b'"dtype":"F32"', b'"dtype":"I32"', "header"),
    (b'"shape":[32,16]', b'"shape":[16,32]', "header"),
    (b'\\"v\\":\\"0.1\\"', b'\\"v\\":\\"0.2\\"', "header"),
    (b'\\"v\\":\\"3\\"', b'\\"v\\":\\"4\\"', "header"),
    (b'\\"v\\":\\"abc\\"', b'\\"v\\":\\"abd\\"', "header"),
    (b'\\"name\\":\\"w\\"', b'\\"name\\":\\"x\\"', "header"),
], ids=["dtype_F32_to_I32", "shape_transposed", "float", "int", "str", "leaf_name"])
def test_header_edits_that_keep_the_file_well_formed_fail(tmp_path, old, new, what):
    path = tmp_path / "ckpt.safetensors"
    _small(path)
    _edit(path, old, new)
    with _raises_naming(path, what):
        gg.load(path)


@pytest.mark.parametrize("key", ["gpugrad.structure", "gpugrad.checksum", "gpugrad.digests"])
@pytest.mark.parametrize("position", [0, 5, -1])
def test_one_character_edit_of_a_gpugrad_key_fails(tmp_path, key, position):
    """Not a flat dict without error, as if the file were someone else's."""
    path = tmp_path / "ckpt.safetensors"
    _small(path)
    damaged = list(key)
    damaged[position] = "X"
    _edit(path, f'"{key}"'.encode(), f'"{"".join(damaged)}"'.encode())
    with _raises_naming(path):
        gg.load(path)


def test_rewritten_by_another_writer_with_edited_metadata_fails(tmp_path):
    """A well-formed safetensors file, laid out by safetensors itself, with the stored
    checksums copied over but one value changed."""
    path = tmp_path / "ckpt.safetensors"
    _small(path)
    with safe_open(path, framework="np") as f:
        metadata = f.metadata()
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    metadata["gpugrad.structure"] = metadata["gpugrad.structure"].replace('"0.1"', '"0.5"')
    save_file(tensors, path, metadata=metadata)
    with _raises_naming(path):
        gg.load(path)
    save_file({"w": tensors["w"].view(np.int32)}, path, metadata=metadata)  # F32 -> I32
    with _raises_naming(path):
        gg.load(path)


def test_flipped_tensor_byte_names_the_tensor(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    gg.save({"a": gg.ones(100), "b": gg.zeros(100)}, path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # in the last tensor written
    path.write_bytes(bytes(data))
    with _raises_naming(path, "tensor '[ab]' fails its SHA-256 check"):
        gg.load(path)


def _tiny_trainer(callbacks=()):
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = gg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return Trainer(model, opt, F.cross_entropy, seed=0, progress=False,
                   callbacks=list(callbacks))


def _data():
    rng = np.random.default_rng(0)
    return gg.tensor(rng.normal(size=(32, 4)).astype(np.float32)), \
        gg.tensor(rng.integers(0, 3, size=32))


def _digit_after(path, marker):
    """Change the digit right after ``marker`` (its first occurrence)."""
    data = bytearray(path.read_bytes())
    at = data.index(marker) + len(marker)
    assert chr(data[at]).isdigit()
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("marker", [
    b'\\"lr\\"},{\\"t\\":\\"float\\",\\"v\\":\\"0.0',  # lr 0.05 -> 0.01
    b'\\"state\\"},{\\"t\\":\\"int\\",\\"v\\":\\"',     # the PCG64 state
    b'\\"epoch\\"},{\\"t\\":\\"int\\",\\"v\\":\\"',
], ids=["lr", "rng_state", "epoch"])
def test_resume_from_an_edited_trainer_checkpoint_fails(tmp_path, marker):
    _tiny_trainer([ModelCheckpoint(tmp_path, save_best=False)]).fit(_data(), epochs=1,
                                                                      batch_size=8)
    path = tmp_path / "last.safetensors"
    _digit_after(path, marker)
    resumed = _tiny_trainer([ModelCheckpoint(tmp_path / "more", save_best=False)])
    with _raises_naming(path, "header"):
        resumed.fit(_data(), epochs=2, batch_size=8, resume_from=path)
    assert resumed.epoch == 0


# ---- deep nesting: a ValueError with the file name, never RecursionError ---------------


def _deep(n):
    return "[" * n + "]" * n


def test_deeply_nested_plain_header_is_a_value_error(tmp_path):
    path = tmp_path / "deep.safetensors"
    header = ('{"x":{"dtype":"F32","shape":' + _deep(100_000) +
              ',"data_offsets":[0,0]}}').encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with _raises_naming(path, "nests"):
        gg.load(path)


def test_deeply_nested_structure_is_a_value_error(tmp_path):
    path = tmp_path / "deep.safetensors"
    save_file({}, path, metadata={"gpugrad.structure": _deep(100_000)})  # 0.1's layout
    with _raises_naming(path, "nests"):
        gg.load(path)
    with open(path, "wb") as f:  # with valid checksums: the depth limit still holds
        _format.write(f, {}, {"gpugrad.structure": _deep(100_000)})
    with _raises_naming(path, "nests"):
        gg.load(path)


def test_save_refuses_nesting_it_could_not_load(tmp_path):
    obj = deep = []
    for _ in range(150):
        deep.append([])
        deep = deep[0]
    with pytest.raises(ValueError, match="nest deeper than 100"):
        gg.save(obj, tmp_path / "x.safetensors")
    obj = deep = {}
    for _ in range(99):
        deep["k"] = {}
        deep = deep["k"]
    gg.save(obj, tmp_path / "ok.safetensors")
    assert gg.load(tmp_path / "ok.safetensors") == obj


# ---- every dtype safetensors defines that NumPy can hold --------------------------------

_NUMPY_DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.float16, np.uint32,
                 np.int32, np.float32, np.uint64, np.int64, np.float64, np.complex64]


@pytest.mark.parametrize("dtype", _NUMPY_DTYPES, ids=lambda d: np.dtype(d).name)
def test_plain_file_of_any_numpy_dtype_loads(tmp_path, dtype):
    path = tmp_path / "plain.safetensors"
    values = (np.arange(6) % 2 if dtype is np.bool_ else np.arange(6)).astype(dtype)
    save_file({"x": values.reshape(2, 3), "y": values[:0]}, path)
    loaded = gg.load(path)
    for name, expected in (("x", values.reshape(2, 3)), ("y", values[:0])):
        got = loaded[name]
        if dtype in (np.bool_, np.uint8, np.int8, np.int16, np.float16, np.float32,
                     np.float64, np.int32, np.int64):
            assert isinstance(got, gg.Tensor)
            got = got.numpy()
        else:  # a Tensor cannot hold it: the array itself, unchanged
            assert isinstance(got, np.ndarray)
        assert got.dtype == dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", _NUMPY_DTYPES, ids=lambda d: np.dtype(d).name)
def test_ndarrays_of_any_numpy_dtype_round_trip(tmp_path, dtype):
    path = tmp_path / "a.safetensors"
    values = (np.arange(7) % 2).astype(dtype)[::2]  # not contiguous
    gg.save({"a": values, "s": values[0]}, path)
    loaded = gg.load(path)
    assert loaded["a"].dtype == dtype and type(loaded["s"]) is type(values[0])
    np.testing.assert_array_equal(loaded["a"], values)


def test_unstorable_dtype_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="dtype complex128"):
        gg.save({"z": np.ones(2, np.complex128)}, tmp_path / "z.safetensors")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("torch_dtype, name", [("bfloat16", "BF16"),
                                               ("float8_e4m3fn", "F8_E4M3")])
def test_ml_dtypes_only_dtypes_are_a_clear_error_or_load(tmp_path, torch_dtype, name):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    path = tmp_path / "low.safetensors"
    safetensors_torch.save_file({"x": torch.ones(3).to(getattr(torch, torch_dtype))}, path)
    try:
        import ml_dtypes  # noqa: F401
    except ImportError:  # the file is fine: an ImportError saying what to install
        with pytest.raises(ImportError, match=f"tensor 'x' has dtype {name}.*ml_dtypes"):
            gg.load(path)
    else:
        got = gg.load(path)["x"]  # bfloat16: a Tensor; float8: the ml_dtypes array
        assert isinstance(got, gg.Tensor) == (name == "BF16")
        got = got.numpy() if name == "BF16" else got
        assert got.astype(np.float32).tolist() == [1.0, 1.0, 1.0]


def _raw_file(path, entries, data=b"", metadata=None):
    header = dict(entries)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def test_sub_byte_and_unknown_dtypes_are_clear_errors(tmp_path):
    path = tmp_path / "odd.safetensors"
    _raw_file(path, {"x": {"dtype": "F4", "shape": [4], "data_offsets": [0, 2]}}, b"\0\0")
    with _raises_naming(path, "tensor 'x' has dtype F4"):
        gg.load(path)
    _raw_file(path, {"x": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4)
    with _raises_naming(path, "unknown dtype 'F33'"):
        gg.load(path)


@pytest.mark.parametrize("metadata", [[], 0, "", {"k": 1}])
def test_malformed_metadata_is_rejected(tmp_path, metadata):
    path = tmp_path / "m.safetensors"
    _raw_file(path, {"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, b"\1",
              metadata=metadata)
    with _raises_naming(path, "__metadata__"):
        gg.load(path)


def test_plain_bool_tensor_with_other_bytes_is_rejected(tmp_path):
    path = tmp_path / "b.safetensors"
    _raw_file(path, {"x": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\1\7")
    with _raises_naming(path, "BOOL"):
        gg.load(path)


# ---- file mode ---------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_file_mode_follows_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        gg.save({"w": gg.ones(2)}, tmp_path / "c.safetensors")
        gg.save({"w": gg.ones(3)}, tmp_path / "c.safetensors")  # overwriting too
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "c.safetensors").st_mode & 0o777 == mode


# ---- memory --------------------------------------------------------------------------


def test_load_peak_memory_is_one_copy_of_the_arrays(tmp_path):
    path = tmp_path / "big.safetensors"
    rng = np.random.default_rng(0)
    gg.save({"model": {f"l{i}.weight": gg.tensor(rng.standard_normal((256, 2048),
                                                                     dtype=np.float32))
                       for i in range(8)}, "epoch": 3}, path)  # 16 MiB
    size = os.path.getsize(path)
    tracemalloc.start()
    try:
        loaded = gg.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert loaded["epoch"] == 3
    assert peak < 1.1 * size, f"peak {peak / size:.2f}x the file size"


# ---- gpugrad 0.1 files ---------------------------------------------------------------


def _v1_file(path, values):
    import zlib
    crc = zlib.crc32(values.tobytes())
    root = {"t": "dict", "items": [[{"t": "str", "v": "w"},
                                    {"t": "tensor", "name": "w", "crc32": crc}],
                                   [{"t": "str", "v": "epoch"}, {"t": "int", "v": "4"}]]}
    save_file({"w": values}, path, metadata={
        "gpugrad.structure": json.dumps({"version": 1, "root": root})})


def test_version_1_files_still_load_with_their_crc_check(tmp_path):
    path = tmp_path / "old.safetensors"
    values = np.arange(10, dtype=np.float32)
    _v1_file(path, values)
    loaded = gg.load(path)
    assert loaded["epoch"] == 4 and loaded["w"].tolist() == values.tolist()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x40
    path.write_bytes(bytes(data))
    with _raises_naming(path, "CRC-32"):
        gg.load(path)


def test_version_2_structure_without_checksum_is_rejected(tmp_path):
    path = tmp_path / "v2.safetensors"
    save_file({}, path, metadata={"gpugrad.structure": json.dumps(
        {"version": 2, "root": {"t": "none"}})})
    with _raises_naming(path, "version 2"):
        gg.load(path)


def test_unknown_gpugrad_metadata_key_is_rejected(tmp_path):
    path = tmp_path / "x.safetensors"
    save_file({"w": np.ones(2)}, path, metadata={"gpugrad.structurf": "{}"})
    with _raises_naming(path, "look like gg.save's"):
        gg.load(path)
    save_file({"w": np.ones(2)}, path, metadata={"format": "pt"})  # someone else's: fine
    assert gg.load(path)["w"].tolist() == [1.0, 1.0]


# ---- header length -------------------------------------------------------------------


@pytest.mark.parametrize("length", [2 ** 64 - 1, 2 ** 63, 100_000_001, 10 ** 9, 0, 1])
def test_bad_header_length_is_a_value_error(tmp_path, length):
    path = tmp_path / "ckpt.safetensors"
    _small(path)
    path.write_bytes(struct.pack("<Q", length) + path.read_bytes()[8:])
    with _raises_naming(path):
        gg.load(path)


def test_is_temp_file_and_serialization_exports():
    assert serialization.is_temp_file("/x/.a.safetensors.0123abcd-1-0123abcd.tmp")
    assert not serialization.is_temp_file("/x/a.safetensors")
    assert not serialization.is_temp_file("/x/.a.safetensors.notes.tmp")
