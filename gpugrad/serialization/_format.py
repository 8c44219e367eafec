"""The safetensors file layout, written and read by gpugrad itself, with its integrity checks.

A file is an 8-byte little-endian header length, the JSON header (tensor names, dtypes,
shapes, data offsets and a ``__metadata__`` dict of strings) padded with spaces, then the
tensor bytes. gpugrad adds two metadata entries that plain safetensors readers ignore:

* ``gpugrad.checksum``: SHA-256 of the whole header, length prefix and padding included,
  with these 64 hex digits read as zeros. It comes first, at a fixed place in the header.
* ``gpugrad.digests``: JSON ``{tensor name: SHA-256 of its bytes}``.

So every byte of the file is under a SHA-256, and a failure says which part changed.
"""
import hashlib
import json
import re
import struct

import numpy as np

CHECKSUM_KEY = "gpugrad.checksum"
DIGESTS_KEY = "gpugrad.digests"
_PREFIX = b'{"__metadata__":{"' + CHECKSUM_KEY.encode() + b'":"'
_ZEROS = "0" * 64
_HEX = re.compile(rb"[0-9a-f]{64}")
# safetensors refuses longer headers; refusing them too keeps a bad length from allocating.
MAX_HEADER = 100_000_000
# The header gg.save writes nests 3 deep (header, tensor entry, shape).
_MAX_HEADER_DEPTH = 8

# Every dtype safetensors defines: bits per element and the NumPy dtype (None: no NumPy
# equivalent; a str: the ml_dtypes type, usable when ml_dtypes is installed).
_DTYPES = {
    "BOOL": (8, np.dtype(np.bool_)), "U8": (8, np.dtype("u1")), "I8": (8, np.dtype("i1")),
    "U16": (16, np.dtype("<u2")), "I16": (16, np.dtype("<i2")),
    "F16": (16, np.dtype("<f2")), "BF16": (16, "bfloat16"),
    "U32": (32, np.dtype("<u4")), "I32": (32, np.dtype("<i4")), "F32": (32, np.dtype("<f4")),
    "U64": (64, np.dtype("<u8")), "I64": (64, np.dtype("<i8")), "F64": (64, np.dtype("<f8")),
    "C64": (64, np.dtype("<c8")),
    "F8_E4M3": (8, "float8_e4m3fn"), "F8_E5M2": (8, "float8_e5m2"),
    "F8_E4M3FNUZ": (8, "float8_e4m3fnuz"), "F8_E5M2FNUZ": (8, "float8_e5m2fnuz"),
    "F8_E8M0": (8, "float8_e8m0fnu"),
    "F4": (4, None), "F6_E2M3": (6, None), "F6_E3M2": (6, None),
}


class CorruptFile(Exception):
    """What is wrong with a file; the caller adds the path."""


def safetensors_dtype(dtype):
    """The safetensors name of a NumPy dtype, or None if safetensors has none."""
    for name, (_, np_dtype) in _DTYPES.items():
        if isinstance(np_dtype, np.dtype) and np_dtype == dtype.newbyteorder("<"):
            return name
        if isinstance(np_dtype, str) and dtype.name == np_dtype:
            return name
    return None


# ---- writing ---------------------------------------------------------------------------


def write(f, arrays, metadata):
    """Write ``arrays`` ({name: C-contiguous little-endian ndarray}) and ``metadata``
    ({str: str}) to the binary file ``f``, one pass over the data."""
    # Widest items first, as safetensors itself does: each tensor is then aligned to its
    # item size, since the header is padded to a multiple of 8.
    names = sorted(arrays, key=lambda name: -arrays[name].dtype.itemsize)
    entries, offset = {}, 0
    for name in names:
        array = arrays[name]
        entries[name] = {"dtype": safetensors_dtype(array.dtype), "shape": list(array.shape),
                         "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    draft = _header(entries, metadata, {name: _ZEROS for name in names})
    f.write(draft)
    digests = {}
    for name in names:
        data = _bytes_of(arrays[name])
        digests[name] = hashlib.sha256(data).hexdigest()
        f.write(data)
    final = _header(entries, metadata, digests)
    assert len(final) == len(draft), "digests have a fixed width"
    f.seek(0)
    f.write(final)


def _header(entries, metadata, digests):
    """Length prefix + header JSON + padding, with the checksum filled in."""
    meta = {CHECKSUM_KEY: _ZEROS,
            DIGESTS_KEY: json.dumps(digests, separators=(",", ":")), **metadata}
    text = json.dumps({"__metadata__": meta, **entries}, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    if len(text) > MAX_HEADER:
        raise ValueError(f"gg.save: the header would be {len(text)} bytes, more than the "
                         f"{MAX_HEADER} safetensors reads (store long lists as arrays)")
    blob = struct.pack("<Q", len(text)) + text
    checksum = hashlib.sha256(blob).hexdigest().encode()
    start = 8 + len(_PREFIX)
    return blob[:start] + checksum + blob[start + 64:]


def _bytes_of(array):
    return array.reshape(-1).view(np.uint8)


# ---- reading ---------------------------------------------------------------------------


def read_header(f, size):
    """Parse and check the header of the open file ``f`` of ``size`` bytes.

    Returns ``(metadata, entries, raw)``: entries ``[(name, dtype name, shape, begin, end)]``
    in file order, validated to tile the data exactly, and the raw prefix + header bytes.
    """
    if size < 8:
        raise CorruptFile(f"the file is {size} bytes, too short for a safetensors header")
    prefix = f.read(8)
    length = struct.unpack("<Q", prefix)[0]
    if length > min(size - 8, MAX_HEADER):
        raise CorruptFile(f"the header length {length} does not fit (the file is {size} "
                          f"bytes; safetensors allows at most {MAX_HEADER})")
    text = f.read(length)
    header = _parse_json(text, _MAX_HEADER_DEPTH, "the header")
    if not isinstance(header, dict):
        raise CorruptFile("the header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise CorruptFile("__metadata__ is not a dict of strings")
    entries = sorted((_entry(name, info) for name, info in header.items()),
                     key=lambda e: (e[3], e[4]))
    end = 0
    for name, _, _, begin, stop in entries:
        if begin != end:
            raise CorruptFile(f"tensor {name!r} starts at data byte {begin}, expected {end} "
                              "(overlapping or missing bytes)")
        end = stop
    if end != size - 8 - length:
        raise CorruptFile(f"the tensors cover {end} data bytes, the file has "
                          f"{size - 8 - length} (truncated or extended)")
    return metadata, entries, prefix + text


def _entry(name, info):
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
        raise CorruptFile(f"tensor {name!r} lacks a dtype, shape or data_offsets")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in _DTYPES:
        raise CorruptFile(f"tensor {name!r} has an unknown dtype {str(dtype)[:20]!r}")
    if not _ints(shape) or not (_ints(offsets) and len(offsets) == 2):
        raise CorruptFile(f"tensor {name!r} has a malformed shape or data_offsets")
    begin, end = offsets
    bits = _DTYPES[dtype][0] * int(np.prod(shape, dtype=object))
    if end < begin or bits != 8 * (end - begin):
        raise CorruptFile(f"tensor {name!r}: {dtype} {shape} needs {bits / 8:g} bytes, "
                          f"data_offsets {offsets} hold {end - begin}")
    return name, dtype, tuple(shape), begin, end


def _ints(values):
    return isinstance(values, list) and all(
        type(v) is int and 0 <= v < 2 ** 63 for v in values)


def _parse_json(text, max_depth, what):
    """``json.loads`` that rejects duplicate keys and deep nesting (no RecursionError)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptFile(f"{what} is not UTF-8") from None
    depth = nesting_depth(text)
    if depth > max_depth:
        raise CorruptFile(f"{what} nests {depth} levels deep, more than gg.save writes "
                          f"({max_depth})")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except (json.JSONDecodeError, RecursionError) as err:
        raise CorruptFile(f"{what} is not valid JSON ({str(err)[:80]})") from None


def _unique_keys(pairs):
    result = dict(pairs)
    if len(result) != len(pairs):
        raise json.JSONDecodeError("duplicate key", "", 0)
    return result


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')


def nesting_depth(text):
    """Deepest ``[``/``{`` nesting of JSON ``text``, outside strings, without recursion."""
    codes = np.frombuffer(_STRINGS.sub("", text).encode(), dtype=np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int64)
    steps -= np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def check_header_checksum(raw, metadata):
    """Raise CorruptFile unless the header's SHA-256 is the one stored in it."""
    start = 8 + len(_PREFIX)
    stored = raw[start:start + 64]
    if not raw[8:start] == _PREFIX or not _HEX.fullmatch(stored) \
            or raw[start + 64:start + 65] != b'"' or metadata.get(CHECKSUM_KEY) != stored.decode():
        raise CorruptFile(f"the {CHECKSUM_KEY} entry is damaged or not where gg.save puts it")
    actual = hashlib.sha256(raw[:start] + _ZEROS.encode() + raw[start + 64:]).hexdigest()
    if actual != stored.decode():
        raise CorruptFile("the header (names, dtypes, shapes, offsets or metadata) fails its "
                          "SHA-256 check: it changed after gg.save wrote it")


def read_tensors(f, entries, digests=None):
    """The tensors of ``entries`` as NumPy arrays, each read straight into its own buffer
    (one copy in memory). With ``digests`` ({name: hex}), each is checked against its own."""
    arrays = {}
    for name, dtype, shape, begin, end in entries:
        buf = np.empty(end - begin, dtype=np.uint8)
        view, done = memoryview(buf), 0
        while done < len(buf):
            n = f.readinto(view[done:])
            if not n:
                raise CorruptFile(f"the file ends inside tensor {name!r}")
            done += n
        if digests is not None and hashlib.sha256(buf).hexdigest() != digests.get(name):
            raise CorruptFile(f"tensor {name!r} fails its SHA-256 check: its bytes changed "
                              "after gg.save wrote them")
        arrays[name] = _as_array(name, dtype, shape, buf)
    return arrays


def _as_array(name, dtype, shape, buf):
    np_dtype = _DTYPES[dtype][1]
    if np_dtype is None:
        raise CorruptFile(f"tensor {name!r} has dtype {dtype}, which packs several values "
                          "in a byte: NumPy cannot hold it")
    if isinstance(np_dtype, str):
        try:
            import ml_dtypes
        except ImportError:
            # The file is fine: say what to install, not that it cannot be read.
            raise ImportError(f"tensor {name!r} has dtype {dtype}, which NumPy can only hold "
                              "with the ml_dtypes package (pip install ml_dtypes, or "
                              "pip install gpugrad[bf16])") from None
        np_dtype = np.dtype(getattr(ml_dtypes, np_dtype))
    if dtype == "BOOL" and buf.size and buf.max() > 1:
        raise CorruptFile(f"tensor {name!r} is BOOL but holds bytes other than 0 and 1")
    return buf.view(np_dtype).reshape(shape)
