"""Checkpoints: ``gg.save`` / ``gg.load`` in the safetensors format. Never pickle.

Arrays go in the safetensors body under flat dotted names (a model state dict's
``"fc.weight"`` is stored as exactly ``fc.weight``, so other safetensors readers, PyTorch's
included, see the same names and tensors). Everything else, the nesting of dicts, lists and
tuples, key types, scalars, which leaves are Tensors and which NumPy arrays, is JSON in the
header's ``__metadata__``.

Integrity: a SHA-256 covers the header (names, dtypes, shapes, offsets and all metadata)
and one per tensor covers its bytes, so any change to a saved file, a flipped bit or a
truncation, makes ``gg.load`` raise ``ValueError`` naming the file and what failed.
Files written by gpugrad 0.1 (structure version 1) still load, with 0.1's weaker guarantee:
a CRC-32 per tensor, nothing over the header.

A plain safetensors file (no gpugrad metadata) loads as ``{name: Tensor}``; tensors of
dtypes a Tensor cannot hold (uint8, int16, complex64, ...) come back as NumPy arrays.
"""
import json
import os

from ._atomic import is_temp_file, remove_leftovers, write_atomically
from ._format import CHECKSUM_KEY, DIGESTS_KEY, CorruptFile, check_header_checksum, \
    read_header, read_tensors, write
from ._structure import as_tensor, decode, encode

__all__ = ["save", "load", "is_temp_file", "remove_leftovers"]

STRUCTURE_KEY = "gpugrad.structure"
_OUR_KEYS = (CHECKSUM_KEY, DIGESTS_KEY, STRUCTURE_KEY)


def save(obj, path):
    """Write ``obj`` to ``path`` atomically: the old file stays intact until the new one is
    complete and on disk. The temporary files of saves to ``path`` that were killed midway
    are removed first (see ``is_temp_file``).

    ``obj`` nests dicts (str, int, float, bool or None keys), lists and tuples of Tensors,
    NumPy arrays, and plain scalars, strings and None. Tensors are copied to the host first,
    so a checkpoint does not depend on the device it was saved from. The file's mode follows
    the umask (0644 under the usual 022).

    >>> import os, tempfile
    >>> import gpugrad as gg
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> gg.save({"epoch": 3, "model": {"fc.weight": gg.ones(2)}}, path)
    >>> gg.load(path)["model"]["fc.weight"]
    tensor([1., 1.])

    A whole ``Module`` or optimizer is refused with a TypeError (storing it would need
    pickle): save its ``state_dict()``.
    """
    path = os.fspath(path)
    arrays = {}
    metadata = {STRUCTURE_KEY: encode(obj, arrays)}
    write_atomically(path, lambda f: write(f, arrays, metadata))


def load(path, device=None, map_location=None):
    """Read a checkpoint written by ``save`` (or any safetensors file) onto ``device``.

    ``map_location`` is PyTorch's name for ``device``: a device string or ``gg.device``; a
    dict ``{saved location: device}`` (checkpoints are saved from the host, so its ``"cpu"``
    entry applies, if any); or a callable ``fn(tensor, "cpu")`` whose result replaces each
    loaded Tensor (``lambda t, loc: t`` keeps it on the cpu).

    Tensors come back as plain Tensors (no ``requires_grad``) on ``device`` (default cpu);
    NumPy arrays come back as NumPy arrays. Each array is read once, straight into the
    memory it is returned in. A missing file raises FileNotFoundError; a truncated, changed,
    corrupt or foreign file raises ValueError naming the path and what failed.

    >>> import os, tempfile
    >>> import gpugrad as gg
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> gg.save({1: "one", "lrs": (0.1, 0.01)}, path)
    >>> gg.load(path)
    {1: 'one', 'lrs': (0.1, 0.01)}
    >>> gg.load(path, map_location="cpu")["lrs"]
    (0.1, 0.01)
    """
    path = os.fspath(path)
    mapper = None
    if map_location is not None:
        if device is not None:
            raise TypeError("load: pass either device or map_location, not both")
        if callable(map_location):
            mapper = map_location
        elif isinstance(map_location, dict):
            device = map_location.get("cpu")
        else:
            device = map_location
    device = "cpu" if device is None else device
    with open(path, "rb", buffering=0) as f:
        try:
            obj = _load(f, os.fstat(f.fileno()).st_size, device)
        except CorruptFile as err:
            raise ValueError(f"{path}: {err}") from None
    return obj if mapper is None else _map_tensors(obj, mapper)


def _map_tensors(obj, fn):
    """``obj`` with each Tensor ``t`` replaced by ``fn(t, "cpu")`` (or kept, for None)."""
    from ..tensor import Tensor
    if isinstance(obj, Tensor):
        mapped = fn(obj, "cpu")
        return obj if mapped is None else mapped
    if isinstance(obj, dict):
        return {key: _map_tensors(value, fn) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map_tensors(value, fn) for value in obj)
    return obj


def _load(f, size, device):
    metadata, entries, raw = read_header(f, size)
    claimed = [key for key in metadata if _resembles_ours(key)]
    if not claimed:
        arrays = read_tensors(f, entries)
        return {name: as_tensor(arrays[name], device) for name in sorted(arrays)}
    if claimed == [STRUCTURE_KEY]:  # gpugrad 0.1: no checksums
        return decode(metadata[STRUCTURE_KEY], read_tensors(f, entries), device, (1,))
    if CHECKSUM_KEY not in metadata:
        raise CorruptFile(f"metadata keys {claimed} look like gg.save's, but its "
                          f"{CHECKSUM_KEY} is missing or damaged")
    check_header_checksum(raw, metadata)
    if sorted(claimed) != sorted(_OUR_KEYS):
        raise CorruptFile(f"metadata keys {claimed}, expected {list(_OUR_KEYS)}")
    digests = _digests(metadata[DIGESTS_KEY], {entry[0] for entry in entries})
    return decode(metadata[STRUCTURE_KEY], read_tensors(f, entries, digests), device, (2,))


def _resembles_ours(key):
    """True for gpugrad's metadata keys and anything one or two characters off them (so a
    damaged key cannot pass the file off as a foreign one)."""
    if "gpugrad" in key.lower():
        return True
    return any(len(key) == len(ours) and sum(a != b for a, b in zip(key, ours)) <= 2
               for ours in _OUR_KEYS)


def _digests(text, names):
    try:
        digests = json.loads(text)
    except json.JSONDecodeError:
        digests = None
    if not isinstance(digests, dict) or set(digests) != names:
        raise CorruptFile(f"{DIGESTS_KEY} does not list the file's tensors")
    return digests
