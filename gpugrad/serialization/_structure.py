"""What ``gg.save`` stores beside the arrays: the nesting of dicts, lists and tuples, key
types, scalars, and which leaves are Tensors and which NumPy arrays, as one JSON document.

Version 2 (this one) leaves integrity to the file layer, which checksums every byte.
Version 1 (gpugrad 0.1) carried a CRC-32 per array, checked when such a file is loaded.
"""
import json
import zlib

import numpy as np

import gpugrad as gg

from ._format import CorruptFile, nesting_depth, safetensors_dtype

VERSION = 2
# Containers inside containers that gg.save accepts; each takes at most 3 JSON levels.
MAX_NESTING = 100
_MAX_JSON_DEPTH = 3 * MAX_NESTING + 2


# ---- saving ---------------------------------------------------------------------------


def encode(obj, arrays):
    """The structure JSON text for ``obj``; its arrays are added to ``arrays``."""
    root = _encode(obj, "", arrays, 0)
    return json.dumps({"version": VERSION, "root": root}, separators=(",", ":"))


def _encode(obj, name, arrays, depth):
    if isinstance(obj, gg.Tensor):
        return _array_leaf("tensor", obj.detach().cpu()._data, name, arrays)
    if isinstance(obj, np.ndarray):
        return _array_leaf("ndarray", obj, name, arrays)
    if isinstance(obj, np.generic) and safetensors_dtype(obj.dtype) is not None:
        return _array_leaf("npscalar", np.asarray(obj), name, arrays)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return _scalar(obj, name)
    if isinstance(obj, (dict, list, tuple)) and depth >= MAX_NESTING:
        raise ValueError(f"gg.save: containers nest deeper than {MAX_NESTING} levels "
                         f"(at {name or 'top level'})")
    if isinstance(obj, dict):
        items = [[_scalar(key, name), _encode(value, _join(name, key), arrays, depth + 1)]
                 for key, value in obj.items()]
        return {"t": "dict", "items": items}
    if isinstance(obj, (list, tuple)):
        items = [_encode(value, _join(name, i), arrays, depth + 1)
                 for i, value in enumerate(obj)]
        return {"t": "tuple" if isinstance(obj, tuple) else "list", "items": items}
    if callable(getattr(obj, "state_dict", None)):  # a Module or an optimizer
        raise TypeError(f"gg.save cannot store a {type(obj).__name__} (at "
                        f"{name or 'top level'}); gpugrad never pickles objects: save its "
                        f"state_dict() instead (gg.save(module.state_dict(), path)) and load "
                        f"it with load_state_dict(gg.load(path))")
    raise TypeError(f"gg.save cannot store a {type(obj).__name__} (at {name or 'top level'}); "
                    "it stores Tensors, NumPy arrays, dicts, lists, tuples, numbers, strings "
                    "and None")


def _array_leaf(kind, array, name, arrays):
    if safetensors_dtype(array.dtype) is None:
        raise TypeError(f"gg.save cannot store an array of dtype {array.dtype} "
                        f"(at {name or 'top level'}): safetensors has no such dtype")
    # Little-endian, C order, as safetensors stores it. Not np.ascontiguousarray: it turns
    # 0-d arrays into 1-d ones.
    little = array.dtype.newbyteorder("<")
    if array.dtype != little:
        array = array.astype(little)
    if not array.flags.c_contiguous:
        array = array.copy(order="C")
    name = _unique_name(name or kind, arrays)
    arrays[name] = array
    return {"t": kind, "name": name}


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


# ---- loading --------------------------------------------------------------------------


def decode(text, arrays, device, versions):
    """The object that structure ``text`` describes, built from ``arrays``. ``versions``:
    the structure versions this file may carry."""
    depth = nesting_depth(text)
    if depth > _MAX_JSON_DEPTH:
        raise CorruptFile(f"the structure nests {depth} levels deep, more than gg.save "
                          f"writes ({_MAX_JSON_DEPTH})")
    try:
        structure = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise CorruptFile(f"the structure is not valid JSON ({str(err)[:80]})") from None
    version = structure.get("version") if isinstance(structure, dict) else None
    if type(version) is not int or version not in versions:
        raise CorruptFile(f"structure version {str(version)[:20]} where this file can only "
                          f"carry {' or '.join(map(str, versions))}")
    used = set()
    obj = _decode(structure.get("root"), arrays, device, used, version)
    unused = sorted(set(arrays) - used)
    if unused:
        raise CorruptFile(f"arrays {unused[:3]} are not in the structure")
    return obj


def _decode(node, arrays, device, used, version):
    kind = node.get("t") if isinstance(node, dict) else None
    if kind in ("tensor", "ndarray", "npscalar"):
        array = _checked_array(node, arrays, used, version)
        if kind == "tensor":
            return as_tensor(array, device, strict=True)
        return array if kind == "ndarray" else array[()]
    if kind == "dict":
        return {_decode_scalar(key): _decode(value, arrays, device, used, version)
                for key, value in _items(node, pairs=True)}
    if kind in ("list", "tuple"):
        items = [_decode(value, arrays, device, used, version) for value in _items(node)]
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
    raise CorruptFile(f"malformed node {str(node)[:80]}")


def _items(node, pairs=False):
    items = node.get("items")
    if not isinstance(items, list) or (pairs and not all(
            isinstance(pair, list) and len(pair) == 2 for pair in items)):
        raise CorruptFile(f"malformed {node.get('t')} node")
    return items


def _checked_array(node, arrays, used, version):
    name = node.get("name")
    if not isinstance(name, str) or name not in arrays:
        raise CorruptFile(f"array {str(name)[:80]!r} is missing")
    if name in used:
        raise CorruptFile(f"array {name!r} appears twice in the structure")
    array = arrays[name]
    if version == 1 and _crc32(array) != node.get("crc32"):
        raise CorruptFile(f"array {name!r} fails its CRC-32 check")
    used.add(name)
    return array


def _crc32(array):
    return zlib.crc32(array.reshape(-1).view(np.uint8)) if array.size else 0


def as_tensor(array, device, strict=False):
    """A Tensor on ``device`` sharing ``array`` where it can (no second copy on the host).
    Dtypes Tensors cannot hold stay NumPy arrays, unless ``strict``."""
    try:
        tensor = gg.from_numpy(array)
    except TypeError:
        if strict:
            raise CorruptFile(f"a Tensor cannot have dtype {array.dtype}") from None
        return array
    return tensor.to(device)
