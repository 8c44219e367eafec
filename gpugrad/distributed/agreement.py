"""What the ranks of ``DistributedDataParallel`` must agree on, and how a step checks it.

At construction the ranks exchange their whole layout (``module_layout``) and raise on
every rank at the first difference (``first_difference``). During training each step's
host vector carries a header (``encode_header``): the step number and a CRC of which
parameters require grad, each sent as ``x`` and ``x * x`` so that the *sums* tell every
rank alike whether all ranks sent the same value (equal iff ``W * sum(x*x) == sum(x)**2``),
plus one slot per rank saying whether it contributed gradients and whether its step failed.
It rides in a collective the step makes anyway, so the check costs no extra one.
"""
import zlib

import numpy as np

_FIELD_BITS = 16  # each header field < 2**16: sums of squares stay exact in float64


def module_layout(parameters, buffers, trainable, buckets, bucket_cap_mb, device,
                  check_every):
    """The plain-Python description of a DDP that every rank must share.

    ``parameters``/``buffers``: ``(name, tensor)`` pairs; ``trainable``: the names the
    reducer averages; ``buckets``: lists of positions among them.
    """
    return {
        "parameters": [(name, tuple(t.shape), str(t.dtype), bool(t.requires_grad))
                       for name, t in parameters],
        "buffers": [(name, tuple(t.shape), str(t.dtype)) for name, t in buffers],
        "bucket_cap_mb": float(bucket_cap_mb),
        "buckets": [[trainable[i] for i in bucket] for bucket in buckets],
        "device": device,
        "check_every": check_every,
    }


def first_difference(layout, reference):
    """A phrase naming the first difference of ``layout`` (rank r's) from ``reference``
    (rank 0's), with ``{r}``/``{ref}`` left for the ranks; None if they are equal.

    >>> a = {"parameters": [("w", (2,), "float32", True)], "buffers": []}
    >>> b = {"parameters": [("w", (2,), "float32", False)], "buffers": []}
    >>> first_difference(b, a)
    "parameter 'w' has requires_grad=False on rank {r} but True on rank {ref}"
    """
    for section, fields in (("parameters", ("name", "shape", "dtype", "requires_grad")),
                            ("buffers", ("name", "shape", "dtype"))):
        mine, theirs = layout[section], reference[section]
        noun = section[:-1]
        for i, (a, b) in enumerate(zip(mine, theirs)):
            for field, x, y in zip(fields, a, b):
                if x != y:
                    what = f"{noun} {i}" if field == "name" else f"{noun} {b[0]!r}"
                    return f"{what} has {field}={x!r} on rank {{r}} but {y!r} on rank {{ref}}"
        if len(mine) != len(theirs):
            longer = mine if len(mine) > len(theirs) else theirs
            return (f"rank {{r}} has {len(mine)} {section}, rank {{ref}} {len(theirs)} (the "
                    f"first unmatched: {longer[min(len(mine), len(theirs))][0]!r})")
    for key, label in (("bucket_cap_mb", "bucket_cap_mb"), ("buckets", "bucket assignment"),
                       ("device", "device type"), ("check_every", "check_every")):
        if layout.get(key) != reference.get(key):
            return (f"{label} is {layout.get(key)!r} on rank {{r}} but "
                    f"{reference.get(key)!r} on rank {{ref}}")
    return None


def trainable_crc(parameters):
    """CRC-32 of which of ``parameters`` (tensors, in order) require grad now."""
    return zlib.crc32(bytes(bool(p.requires_grad) for p in parameters))


def encode_header(step, crc, contributed, failed, rank, world):
    """The float64 header this rank adds to the step's host vector.

    >>> encode_header(3, 0x10002, True, False, rank=1, world=2).tolist()
    [3.0, 9.0, 1.0, 1.0, 2.0, 4.0, 0.0, 1.0, 0.0, 0.0]
    """
    mask = (1 << _FIELD_BITS) - 1
    fields = [step & mask, (crc >> _FIELD_BITS) & mask, crc & mask]
    header = np.zeros(2 * len(fields) + 2 * world)
    header[:2 * len(fields)] = [v for f in fields for v in (f, f * f)]
    header[2 * len(fields) + rank] = float(contributed)
    header[2 * len(fields) + world + rank] = float(failed)
    return header


def decode_header(sums, world):
    """``(same_step, same_trainable, contributed, failed)`` from the summed headers: two
    booleans every rank computes alike, and per-rank 0/1 arrays.

    >>> h = encode_header(3, 7, True, False, 0, 2) + encode_header(4, 7, True, False, 1, 2)
    >>> same_step, same_trainable, contributed, failed = decode_header(h, 2)
    >>> same_step, same_trainable, contributed.tolist()
    (False, True, [1.0, 1.0])
    """
    agree = [bool(world * sums[i + 1] == sums[i] ** 2) for i in range(0, 6, 2)]
    return agree[0], agree[1] and agree[2], sums[6:6 + world], sums[6 + world:6 + 2 * world]
