"""Checkpoints: ``gg.save`` / ``gg.load`` in the safetensors format. Never pickle.

Arrays go in the safetensors body under flat dotted names (a model state dict's
``"fc.weight"`` is stored as exactly ``fc.weight``, so other safetensors readers see the same
names). Everything else, the nesting of dicts, lists and tuples, key types, scalars, which
leaves are Tensors and which NumPy arrays, and a CRC-32 per array, is JSON in the header's
``__metadata__``. Loading a plain safetensors file (no such JSON) gives ``{name: Tensor}``.
"""
import contextlib
import json
import os
import secrets
import zlib

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

import gpugrad as gg

_STRUCTURE_KEY = "gpugrad.structure"
_FORMAT_VERSION = 1


def save(obj, path):
    """Write ``obj`` to ``path`` atomically: the old file stays intact until the new one is
    complete and on disk.

    ``obj`` nests dicts (str, int, float, bool or None keys), lists and tuples of Tensors,
    NumPy arrays, and plain scalars, strings and None. Tensors are copied to the host first,
    so a checkpoint does not depend on the device it was saved from.

    >>> import os, tempfile
    >>> import gpugrad as gg
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> gg.save({"epoch": 3, "model": {"fc.weight": gg.ones(2)}}, path)
    >>> gg.load(path)["model"]["fc.weight"]
    tensor([1., 1.])
    """
    path = os.fspath(path)
    arrays = {}
    root = _encode(obj, "", arrays)
    structure = {"version": _FORMAT_VERSION, "root": root}
    metadata = {_STRUCTURE_KEY: json.dumps(structure, separators=(",", ":"))}
    _write_atomically(arrays, metadata, path)


def load(path, device=None):
    """Read a checkpoint written by ``save`` (or any safetensors file) onto ``device``.

    Tensors come back as plain Tensors (no ``requires_grad``) on ``device`` (default cpu);
    NumPy arrays come back as NumPy arrays. A missing file raises FileNotFoundError; a
    truncated, corrupt or foreign file raises ValueError naming the path.

    >>> import os, tempfile
    >>> import gpugrad as gg
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> gg.save({1: "one", "lrs": (0.1, 0.01)}, path)
    >>> gg.load(path)
    {1: 'one', 'lrs': (0.1, 0.01)}
    """
    path = os.fspath(path)
    device = "cpu" if device is None else device
    # Opening first gives the usual FileNotFoundError / IsADirectoryError / PermissionError.
    with open(path, "rb"):
        pass
    try:
        with safe_open(path, framework="np") as f:
            metadata = f.metadata() or {}
            arrays = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, TypeError) as err:
        raise ValueError(f"{path}: cannot read it as a safetensors file ({err})") from None
    if _STRUCTURE_KEY not in metadata:
        return {name: _to_tensor(array, device) for name, array in arrays.items()}
    return _decode_file(metadata[_STRUCTURE_KEY], arrays, device, path)


class _CorruptError(Exception):
    """The structure JSON does not describe this file's arrays."""


# ---- saving ---------------------------------------------------------------------------


def _encode(obj, name, arrays):
    """The JSON node for ``obj``; arrays found on the way are added to ``arrays``."""
    if isinstance(obj, gg.Tensor):
        return _array_leaf("tensor", obj.detach().cpu().data, name, arrays)
    if isinstance(obj, np.ndarray):
        return _array_leaf("ndarray", obj, name, arrays)
    if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
        return _array_leaf("npscalar", np.asarray(obj), name, arrays)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return _scalar(obj, name)
    if isinstance(obj, dict):
        items = [[_scalar(key, name), _encode(value, _join(name, key), arrays)]
                 for key, value in obj.items()]
        return {"t": "dict", "items": items}
    if isinstance(obj, (list, tuple)):
        items = [_encode(value, _join(name, i), arrays) for i, value in enumerate(obj)]
        return {"t": "tuple" if isinstance(obj, tuple) else "list", "items": items}
    raise TypeError(f"gg.save cannot store a {type(obj).__name__} (at {name or 'top level'}); "
                    "it stores Tensors, NumPy arrays, dicts, lists, tuples, numbers, strings "
                    "and None")


def _array_leaf(kind, array, name, arrays):
    array = _contiguous(array)
    name = _unique_name(name or kind, arrays)
    arrays[name] = array
    return {"t": kind, "name": name, "crc32": _crc32(array)}


def _scalar(value, name):
    """JSON node for a scalar. Ints and floats travel as strings: JSON readers may round big
    ints (RNG states) and have no NaN or infinity."""
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(int(value))}
    if isinstance(value, float):
        return {"t": "float", "v": repr(float(value))}
    if isinstance(value, str):
        return {"t": "str", "v": str(value)}
    raise TypeError(f"gg.save cannot store a dict key of type {type(value).__name__} "
                    f"(at {name or 'top level'})")


def _join(prefix, key):
    return f"{prefix}.{key}" if prefix else str(key)


def _unique_name(name, arrays):
    # {"a.b": x, "a": {"b": y}} flatten to the same name; the JSON records which is which.
    candidate, n = name, 1
    while candidate in arrays:
        candidate, n = f"{name}#{n}", n + 1
    return candidate


def _contiguous(array):
    # Not np.ascontiguousarray: it turns 0-d arrays into 1-d ones.
    return array if array.flags.c_contiguous else array.copy(order="C")


def _crc32(array):
    return zlib.crc32(memoryview(array).cast("B")) if array.size else 0


def _write_atomically(arrays, metadata, path):
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    try:
        # O_EXCL: never write through a file someone else put there; 0o666 lets umask decide.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        save_file(arrays, tmp, metadata=metadata)
        with open(tmp, "rb+") as f:
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(folder)


def _fsync_directory(folder):
    """Make the rename durable too; POSIX only (elsewhere os.replace is all there is)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- loading --------------------------------------------------------------------------


def _decode_file(text, arrays, device, path):
    try:
        structure = json.loads(text)
        if not isinstance(structure, dict) or structure.get("version") != _FORMAT_VERSION:
            raise _CorruptError(f"unknown structure version in {_STRUCTURE_KEY}")
        used = set()
        obj = _decode(structure.get("root"), arrays, device, used)
        unused = sorted(set(arrays) - used)
        if unused:
            raise _CorruptError(f"arrays {unused[:3]} are not in the structure")
        return obj
    except (_CorruptError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: corrupt gpugrad checkpoint ({err})") from None


def _decode(node, arrays, device, used):
    kind = node.get("t") if isinstance(node, dict) else None
    if kind in ("tensor", "ndarray", "npscalar"):
        array = _checked_array(node, arrays, used)
        if kind == "tensor":
            return _to_tensor(array, device)
        return array if kind == "ndarray" else array[()]
    if kind == "dict":
        return {_decode_scalar(key): _decode(value, arrays, device, used)
                for key, value in _items(node, pairs=True)}
    if kind in ("list", "tuple"):
        items = [_decode(value, arrays, device, used) for value in _items(node)]
        return tuple(items) if kind == "tuple" else items
    return _decode_scalar(node)


def _decode_scalar(node):
    kind = node.get("t") if isinstance(node, dict) else None
    try:
        if kind == "none":
            return None
        if kind == "bool" and isinstance(node["v"], bool):
            return node["v"]
        if kind == "int":
            return int(node["v"])
        if kind == "float":
            return float(node["v"])
        if kind == "str" and isinstance(node["v"], str):
            return node["v"]
    except (KeyError, TypeError, ValueError):
        pass
    raise _CorruptError(f"malformed node {str(node)[:80]}")


def _items(node, pairs=False):
    items = node.get("items")
    if not isinstance(items, list) or (pairs and not all(
            isinstance(pair, list) and len(pair) == 2 for pair in items)):
        raise _CorruptError(f"malformed {node.get('t')} node")
    return items


def _checked_array(node, arrays, used):
    name = node.get("name")
    if name not in arrays:
        raise _CorruptError(f"array {name!r} is missing")
    array = arrays[name]
    if _crc32(_contiguous(array)) != node.get("crc32"):
        raise _CorruptError(f"array {name!r} fails its CRC-32 check")
    used.add(name)
    return array


def _to_tensor(array, device):
    return gg.tensor(array, dtype=array.dtype, device=device)
