"""Fuzz gg.load with damaged copies of a Trainer-like checkpoint: truncations, bit flips in
the header and the data, edited offsets, dtypes and shapes, bad header lengths.

Each variant must either raise ValueError naming the file or load exactly the saved
contents: 0 silent loads of changed contents, and no other exception escapes.
"""
import json
import math
import re
import struct
import time

import numpy as np

import gpugrad as gg

_SEED = 1234


def _checkpoint():
    rng = np.random.default_rng(0)
    return {
        "epoch": 3, "global_step": 120,
        "model": {"fc1.weight": gg.tensor(rng.standard_normal((8, 4), dtype=np.float32)),
                  "fc1.bias": gg.tensor(rng.standard_normal(8, dtype=np.float32)),
                  "fc2.weight": gg.tensor(rng.standard_normal((3, 8))),
                  "fc2.bias": gg.zeros(3, dtype="float64"),
                  "bn.num_batches_tracked": gg.tensor(120),
                  "mask": gg.tensor([True, False, True])},
        "optimizer": {"state": {0: {"momentum_buffer": gg.ones((8, 4))}, 1: {}},
                      "param_groups": [{"lr": 0.05, "momentum": 0.9, "params": [0, 1],
                                        "nesterov": False}]},
        "scheduler": {"last_epoch": 3, "base_lrs": [0.1], "gamma": 0.5},
        "rng": {"bit_generator": "PCG64", "state": {"state": 2 ** 127 + 5, "inc": 2 ** 90}},
        "history": {"loss": [1.5, 0.75, 0.5], "val_loss": [float("inf"), 0.8, 0.6]},
        "codes": np.arange(6, dtype=np.uint8),
    }


def _same(a, b):
    if isinstance(a, gg.Tensor):
        return isinstance(b, gg.Tensor) and a.dtype == b.dtype and a.shape == b.shape \
            and np.array_equal(a.numpy(), b.numpy())
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape \
            and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(
            type(k) is type(j) and _same(a[k], b[j]) for k, j in zip(a, b))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


def _variants(data):
    """(label, bytes) pairs: damaged copies of the file ``data``."""
    rng = np.random.default_rng(_SEED)
    length = struct.unpack("<Q", data[:8])[0]
    end_of_header = 8 + length
    for k in range(64):
        yield f"truncated at {k}/64", data[:len(data) * k // 64]
    yield "last byte cut", data[:-1]
    yield "one byte added", data + b"\0"
    for at in [*range(8), *rng.integers(8, end_of_header, 400)]:
        yield f"header bit flip at {at}", _flip(data, at, 1 << int(rng.integers(8)))
    for at in rng.integers(end_of_header, len(data), 150):
        yield f"data bit flip at {at}", _flip(data, at, 1 << int(rng.integers(8)))
    for at in rng.integers(0, len(data), 50):
        yield f"byte set at {at}", _flip(data, at, int(rng.integers(1, 256)))
    for n in (2 ** 64 - 1, 2 ** 63, 10 ** 8 + 1, len(data), length + 8, length - 8, 0, 2):
        yield f"header length {n}", struct.pack("<Q", n) + data[8:]
    yield from _header_edits(data, length, rng)


def _flip(data, at, mask):
    out = bytearray(data)
    out[at] ^= mask
    return bytes(out)


def _header_edits(data, length, rng):
    """Edits of the parsed header written back as valid JSON: offsets, dtypes, shapes."""
    header = json.loads(data[8:8 + length])
    names = [name for name in header if name != "__metadata__"]
    same_size = {"F32": "I32", "I32": "F32", "F64": "I64", "I64": "F64", "U8": "BOOL",
                 "BOOL": "I8"}
    for name in names:
        info = header[name]
        begin, end = info["data_offsets"]
        edits = {
            "dtype": dict(info, dtype=same_size.get(info["dtype"], "F16")),
            "shape reversed": dict(info, shape=info["shape"][::-1]),
            "shape flattened": dict(info, shape=[math.prod(info["shape"])]),
            "shape with a 1": dict(info, shape=[1, *info["shape"]]),
            "offsets shifted": dict(info, data_offsets=[begin + 4, end + 4]),
            "offsets shrunk": dict(info, data_offsets=[begin, max(begin, end - 4)]),
        }
        other = names[int(rng.integers(len(names)))]
        edits["offsets swapped"] = dict(info, data_offsets=header[other]["data_offsets"])
        for label, new in edits.items():
            yield f"{label} of {name}", _with_header(data, length, {**header, name: new})
    renamed = {("x" + name if name == names[0] else name): header[name] for name in header}
    yield "tensor renamed", _with_header(data, length, renamed)
    metadata = header["__metadata__"]
    for key in metadata:
        edited = dict(metadata, **{key: metadata[key].replace("0", "1", 1)})
        yield f"metadata {key} edited", _with_header(data, length,
                                                      {**header, "__metadata__": edited})


def _with_header(data, length, header):
    """``data`` with its header replaced: same length (space padded) when it fits, else a
    longer one with a new length prefix."""
    text = json.dumps(header, separators=(",", ":")).encode()
    if len(text) <= length:
        text += b" " * (length - len(text))
    return struct.pack("<Q", len(text)) + text + data[8 + length:]


def test_fuzzed_checkpoints_never_load_silently(tmp_path):
    obj = _checkpoint()
    good = tmp_path / "good.safetensors"
    gg.save(obj, good)
    assert _same(obj, gg.load(good))
    data = good.read_bytes()
    path = tmp_path / "fuzzed.safetensors"
    started = time.perf_counter()
    counts = {"rejected": 0, "loaded equal": 0}
    silent, unclear = [], []
    for label, variant in _variants(data):
        path.write_bytes(variant)
        try:
            loaded = gg.load(path)
        except ValueError as err:
            if not re.search(re.escape(str(path)), str(err)):
                unclear.append((label, str(err)[:200]))
            counts["rejected"] += 1
            continue
        except Exception as err:  # anything else is a bug too
            unclear.append((label, f"{type(err).__name__}: {str(err)[:200]}"))
            continue
        if variant != data and not _same(obj, loaded):
            silent.append(label)
        else:
            counts["loaded equal"] += 1
    assert silent == [], f"{len(silent)} silent loads: {silent[:10]}"
    assert unclear == [], f"{len(unclear)} unclear errors: {unclear[:5]}"
    assert sum(counts.values()) > 700, counts
    assert time.perf_counter() - started < 20
