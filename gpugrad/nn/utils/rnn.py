"""Variable-length batches: padding, ``PackedSequence`` and the packing functions, with
PyTorch's layouts, so a recurrent layer reads a packed batch as PyTorch's does.

A packed batch holds its sequences sorted longest first, time step by time step: the rows of
step t are the steps t of the ``batch_sizes[t]`` sequences still running. Packing and padding
are each one integer-array index of the tensor, so both are differentiable.
"""
from collections import namedtuple

import numpy as np

from ...creation import arange, full, tensor
from ...ops.errors import ShapeError, not_a_tensor, public_op
from ...ops.join import cat, stack
from ...tensor import Tensor
from ..functional.padding import pad

_SORT_HINT = ("You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
              "pack_sequence to sidestep this requirement if you do not need ONNX "
              "exportability.")


class PackedSequence(namedtuple("PackedSequence_",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A packed batch of sequences: ``data`` (the rows of all time steps, (N, *)),
    ``batch_sizes`` (an int64 CPU tensor: how many sequences run at each step),
    ``sorted_indices`` (the batch order packing sorted the sequences into, or None when they
    came sorted) and ``unsorted_indices`` (its inverse). Made by ``pack_padded_sequence`` and
    ``pack_sequence``; ``RNN``, ``LSTM`` and ``GRU`` take and return it.

    >>> import gpugrad as gg
    >>> from gpugrad.nn.utils.rnn import pack_sequence
    >>> packed = pack_sequence([gg.tensor([1.0]), gg.tensor([2.0, 3.0])], enforce_sorted=False)
    >>> packed.data.tolist(), packed.batch_sizes.tolist(), packed.sorted_indices.tolist()
    ([2.0, 1.0, 3.0], [2, 1], [1, 0])
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:  # PyTorch also takes the pair (data, batch_sizes) as data
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise ValueError("PackedSequence: expected data and batch_sizes, or a pair "
                                 "(data, batch_sizes)")
            data, batch_sizes = data
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """This batch with ``data`` moved or cast as ``Tensor.to`` does (the indices follow
        it to its device; ``batch_sizes`` stays on the CPU). ``self`` when nothing changes.

        >>> import gpugrad as gg
        >>> packed = gg.nn.utils.rnn.pack_sequence([gg.ones(2)])
        >>> packed.to(gg.float64).data.dtype
        gpugrad.float64
        """
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        moved = [None if t is None else t.to(data.device)
                 for t in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(data, self.batch_sizes, *moved)

    def cpu(self):
        """This batch in host memory.

        >>> import gpugrad as gg
        >>> gg.nn.utils.rnn.pack_sequence([gg.ones(2)]).cpu().is_cuda
        False
        """
        return self.to("cpu")

    def cuda(self, device=None):
        """This batch on GPU ``device`` (needs CuPy and a GPU), as ``Tensor.cuda``."""
        data = self.data.cuda(device)
        return self.to(data.device)

    def double(self):
        """``data`` as float64.

        >>> import gpugrad as gg
        >>> gg.nn.utils.rnn.pack_sequence([gg.ones(2)]).double().data.dtype
        gpugrad.float64
        """
        return self.to(dtype=np.float64)

    def float(self):
        """``data`` as float32.

        >>> import gpugrad as gg
        >>> gg.nn.utils.rnn.pack_sequence([gg.ones(2).double()]).float().data.dtype
        gpugrad.float32
        """
        return self.to(dtype=np.float32)

    def half(self):
        """``data`` as float16.

        >>> import gpugrad as gg
        >>> gg.nn.utils.rnn.pack_sequence([gg.ones(2)]).half().data.dtype
        gpugrad.float16
        """
        return self.to(dtype=np.float16)

    @property
    def is_cuda(self):
        """Is ``data`` on a GPU?

        >>> import gpugrad as gg
        >>> gg.nn.utils.rnn.pack_sequence([gg.ones(2)]).is_cuda
        False
        """
        return self.data.is_cuda


@public_op
def invert_permutation(permutation):
    """The inverse of a 1-d permutation tensor (None for None): ``out[permutation[i]] = i``.

    >>> import gpugrad as gg
    >>> gg.nn.utils.rnn.invert_permutation(gg.tensor([2, 0, 1])).tolist()
    [1, 2, 0]
    """
    if permutation is None:
        return None
    return permutation.argsort()


@public_op
def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes (L_i, *) into (L_max, B, *) (or (B, L_max, *)), padding
    the short ones with ``padding_value`` at the end (``padding_side='right'``) or at the
    start (``'left'``). Differentiable.

    >>> import gpugrad as gg
    >>> seqs = [gg.tensor([1.0, 2.0]), gg.tensor([3.0])]
    >>> gg.nn.utils.pad_sequence(seqs, batch_first=True).tolist()
    [[1.0, 2.0], [3.0, 0.0]]
    >>> gg.nn.utils.pad_sequence(seqs, batch_first=True, padding_side="left").tolist()
    [[1.0, 2.0], [0.0, 3.0]]
    """
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"pad_sequence: Expected padding_side to be one of left or right, "
                           f"but got {padding_side!r}")
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: expected a non-empty list of tensors")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise not_a_tensor("pad_sequence", s, f"sequences[{i}]")
    trailing = {tuple(s.shape[1:]) for s in sequences}
    if len(trailing) > 1 or any(s.ndim == 0 for s in sequences):
        raise ValueError(f"pad_sequence: sequences must share their trailing dims, got shapes "
                         f"{[s.shape for s in sequences]}")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        short = longest - s.shape[0]
        # pad's widths start with the last dim; only the first (time) dim grows.
        side = (0, short) if padding_side == "right" else (short, 0)
        padded.append(pad(s, (0, 0) * (s.ndim - 1) + side, value=padding_value))
    return stack(padded, dim=0 if batch_first else 1)


@public_op
def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences ``pad_sequence`` padded: sequence b is the first ``lengths[b]``
    steps of column b. Differentiable.

    >>> import gpugrad as gg
    >>> padded = gg.tensor([[1.0, 2.0], [3.0, 0.0]])
    >>> [s.tolist() for s in gg.nn.utils.rnn.unpad_sequence(padded, [2, 1], batch_first=True)]
    [[1.0, 2.0], [3.0]]
    """
    lengths = _host_lengths("unpad_sequence", lengths)
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    if len(lengths) != padded_sequences.shape[0]:
        raise ShapeError(f"unpad_sequence: got {len(lengths)} lengths for a batch of "
                         f"{padded_sequences.shape[0]}")
    return [padded_sequences[b, :int(n)] for b, n in enumerate(lengths)]


@public_op
def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *)) of sequences with the given lengths
    into a ``PackedSequence``. With ``enforce_sorted`` the lengths must be decreasing;
    otherwise the sequences are sorted longest first (stably) and ``sorted_indices`` says how.

    >>> import gpugrad as gg
    >>> from gpugrad.nn.utils.rnn import pack_padded_sequence
    >>> padded = gg.tensor([[1, 2, 0], [3, 0, 0], [4, 5, 6]])
    >>> packed = pack_padded_sequence(padded, [2, 1, 3], batch_first=True,
    ...                               enforce_sorted=False)
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([4, 1, 3, 5, 2, 6], [3, 2, 1])
    >>> packed.sorted_indices.tolist(), packed.unsorted_indices.tolist()
    ([2, 0, 1], [1, 2, 0])
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("pack_padded_sequence", input)
    lengths = _host_lengths("pack_padded_sequence", lengths)
    if input.ndim < 2:
        raise ShapeError(f"pack_padded_sequence: expected an input of at least 2 dims "
                         f"(time and batch), got shape {input.shape}")
    steps, batch = input.shape[:2][::-1] if batch_first else input.shape[:2]
    if len(lengths) != batch:
        raise ShapeError(f"pack_padded_sequence: Expected `len(lengths)` to be equal to "
                         f"batch_size, but got {len(lengths)} (batch_size={batch})")
    order = None
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise ShapeError(f"pack_padded_sequence: `lengths` array must be sorted in "
                             f"decreasing order when `enforce_sorted` is True. {_SORT_HINT}")
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
    _check_lengths("pack_padded_sequence", lengths, steps)
    batch_sizes = (lengths[None, :] > np.arange(lengths[0])[:, None]).sum(1)
    times, columns = _packed_positions(batch_sizes, order)
    data = input[columns, times] if batch_first else input[times, columns]
    sorted_indices = None if order is None else tensor(order, device=input.device)
    return PackedSequence(data, tensor(batch_sizes.astype(np.int64)), sorted_indices, None)


@public_op
def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Unpack a ``PackedSequence`` into ``(padded, lengths)``: the padded batch (T, B, *)
    (or (B, T, *)) in the original batch order, T the longest length (or ``total_length``),
    and the lengths as an int64 CPU tensor. The inverse of ``pack_padded_sequence``.

    >>> import gpugrad as gg
    >>> from gpugrad.nn.utils.rnn import pack_sequence, pad_packed_sequence
    >>> packed = pack_sequence([gg.tensor([1.0]), gg.tensor([2.0, 3.0])], enforce_sorted=False)
    >>> padded, lengths = pad_packed_sequence(packed, batch_first=True, padding_value=-1.0)
    >>> padded.tolist(), lengths.tolist()
    ([[1.0, -1.0], [2.0, 3.0]], [1, 2])
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got "
                        f"{type(sequence).__name__}")
    data = sequence.data
    batch_sizes = np.asarray(sequence.batch_sizes.tolist(), dtype=np.int64)
    steps = len(batch_sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"pad_packed_sequence: Expected total_length to be at least the "
                             f"length of the longest sequence in input, but got total_length="
                             f"{total_length} and max sequence length being {steps}")
        steps = total_length
    batch = int(batch_sizes[0])
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1)
    columns = np.arange(batch)
    if sequence.unsorted_indices is not None:
        columns = np.asarray(sequence.unsorted_indices.tolist(), dtype=np.int64)
        lengths = lengths[columns]
    rows = _padded_rows(batch_sizes, columns, lengths, steps)
    # Padding positions read one extra row holding padding_value.
    filler = full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype,
                  device=data.device)
    padded = cat([data, filler])[rows.T if batch_first else rows]
    return padded, tensor(lengths.astype(np.int64))


@public_op
def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences of shapes (L_i, *) into a ``PackedSequence``; with
    ``enforce_sorted`` they must come longest first.

    >>> import gpugrad as gg
    >>> packed = gg.nn.utils.rnn.pack_sequence([gg.tensor([1, 2, 3]), gg.tensor([4, 5])])
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([1, 4, 2, 5, 3], [2, 2, 1])
    """
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pack_sequence: received an empty list of sequences")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise not_a_tensor("pack_sequence", s, f"sequences[{i}]")
        if s.ndim == 0:
            raise ShapeError(f"pack_sequence: sequences[{i}] is 0-d; expected (L, *)")
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


@public_op
def unpack_sequence(packed_sequences):
    """The list of sequences packed in a ``PackedSequence``, in their original order.

    >>> import gpugrad as gg
    >>> from gpugrad.nn.utils.rnn import pack_sequence, unpack_sequence
    >>> packed = pack_sequence([gg.tensor([1, 2]), gg.tensor([3, 4, 5])], enforce_sorted=False)
    >>> [s.tolist() for s in unpack_sequence(packed)]
    [[1, 2], [3, 4, 5]]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def lengths_to_mask(lengths, max_len=None):
    """(B, max_len) bool mask, True at the valid positions t < lengths[b].

    >>> import gpugrad as gg
    >>> gg.nn.utils.lengths_to_mask([2, 0, 3]).tolist()
    [[True, True, False], [False, False, False], [True, True, True]]
    """
    if not isinstance(lengths, Tensor):
        lengths = tensor(lengths)
    if lengths.ndim != 1 or lengths.dtype.kind not in "iu":
        raise ValueError(f"lengths_to_mask: expected a 1-d integer tensor of lengths, got "
                         f"shape {lengths.shape} and dtype {lengths.dtype}")
    if max_len is None:
        max_len = int(lengths.max().item()) if lengths.numel() else 0
    positions = arange(max_len, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def _host_lengths(name, lengths):
    """Lengths (a list or 1-d integer tensor) as a NumPy int64 array: the packed layout is
    planned on the host, as PyTorch does with its CPU ``lengths``."""
    values = lengths.tolist() if isinstance(lengths, Tensor) else lengths
    try:
        array = np.asarray(values)
    except ValueError:
        array = np.asarray(values, dtype=object)
    if array.ndim != 1 or not (array.dtype.kind in "iuf" or array.size == 0):
        raise ValueError(f"{name}: expected `lengths` as a 1-d list or tensor of integers, "
                         f"got {values!r}")
    return array.astype(np.int64)


def _check_lengths(name, lengths, steps):
    if len(lengths) == 0:
        raise ShapeError(f"{name}: expected a non-empty batch")
    if lengths[-1] <= 0:
        raise ShapeError(f"{name}: Length of all samples has to be greater than 0, but found "
                         f"an element in 'lengths' that is <= 0")
    if lengths[0] > steps:
        raise ShapeError(f"{name}: a length of {lengths[0]} is longer than the input's "
                         f"{steps} time steps")


def _padded_rows(batch_sizes, columns, lengths, steps):
    """(steps, B) packed row of each padded position; ``batch_sizes.sum()`` (one past the
    last row) where a sequence has ended. ``columns[b]``: batch b's place in sorted order."""
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
    rows = np.full((steps, len(columns)), offsets[-1], dtype=np.int64)
    valid = np.arange(steps)[:, None] < lengths[None, :]
    times = np.nonzero(valid)[0]
    rows[valid] = offsets[times] + np.broadcast_to(columns, valid.shape)[valid]
    return rows


def _packed_positions(batch_sizes, order):
    """(time step, batch column of the padded input) of each packed row, in packed order;
    ``order`` (or None when sorted) lists the columns longest first."""
    times = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
    starts = np.repeat(np.cumsum(batch_sizes) - batch_sizes, batch_sizes)
    columns = np.arange(len(times)) - starts
    return times, columns if order is None else order[columns]
