"""Turning examples into batches: ``default_collate``, ``default_convert``, ``to_device``."""
import collections.abc
import numbers

import numpy as np

import gpugrad as gg


def default_collate(batch):
    """Stack a list of examples field by field into one batch, as PyTorch does.

    Tensors are stacked along a new dim 0; NumPy arrays and scalars become stacked tensors;
    Python floats a float64 tensor, ints an int64 tensor, bools a bool tensor; strings stay
    a list. Dicts (per key), namedtuples (per field, same type), lists and tuples (per
    position; a list, as in PyTorch) are collated recursively.

    >>> import gpugrad as gg
    >>> x, y = default_collate([(gg.tensor([1.0]), 0), (gg.tensor([2.0]), 1)])
    >>> x.shape, y.tolist(), y.dtype
    ((2, 1), [0, 1], gpugrad.int64)
    >>> default_collate([{"a": 1.5, "s": "x"}, {"a": 2.5, "s": "y"}])
    {'a': tensor([1.5, 2.5], dtype=gpugrad.float64), 's': ['x', 'y']}
    """
    first = batch[0]
    if isinstance(first, gg.Tensor):
        with gg.no_grad():
            return gg.stack(list(batch))
    if isinstance(first, np.ndarray):
        if first.dtype.kind in "SUO":
            raise TypeError(f"default_collate: don't know how to batch arrays of {first.dtype}")
        return gg.tensor(np.stack(batch))
    if isinstance(first, np.generic):
        return gg.tensor(np.array(batch))
    if isinstance(first, bool):
        return gg.tensor(np.array(batch, dtype=np.bool_))
    if isinstance(first, numbers.Integral):
        return gg.tensor(np.array(batch, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return gg.tensor(np.array(batch, dtype=np.float64))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, collections.abc.Mapping):
        collated = {key: default_collate([ex[key] for ex in batch]) for key in first}
        try:
            return type(first)(collated)
        except TypeError:  # a mapping type without a dict constructor
            return collated
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # namedtuple
        return type(first)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(first, collections.abc.Sequence):
        if any(len(ex) != len(first) for ex in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError(f"default_collate: don't know how to batch {type(first).__name__}")


def default_convert(data):
    """NumPy arrays and scalars in ``data`` (nested in dicts, lists, tuples) as tensors;
    the ``collate_fn`` of a loader with ``batch_size=None``.

    >>> default_convert({"x": np.arange(2), "n": 3})
    {'x': tensor([0, 1]), 'n': 3}
    """
    if isinstance(data, np.ndarray) and data.dtype.kind not in "SUO":
        return gg.tensor(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return gg.tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return type(data)({key: default_convert(value) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(value) for value in data))
    if isinstance(data, (tuple, list)):
        return type(data)(default_convert(value) for value in data)
    return data


def to_device(batch, device):
    """``batch`` (tensors, nested in tuples, lists and dicts) with every tensor on ``device``.

    >>> import gpugrad as gg
    >>> to_device({"x": (gg.ones(1),)}, "cpu")
    {'x': (tensor([1.]),)}
    """
    if isinstance(batch, gg.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_device(value, device) for value in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(value, device) for value in batch)
    return batch
