"""Variable-length batches: ``pad_sequence`` and ``lengths_to_mask``."""
from ...creation import arange, tensor
from ...ops.join import stack
from ...tensor import Tensor
from ..functional.padding import pad


def pad_sequence(sequences, batch_first=False, padding_value=0.0):
    """Stack sequences of shapes (L_i, *) into (L_max, B, *) (or (B, L_max, *)), padding
    the short ones at the end with ``padding_value``. Differentiable.

    >>> import gpugrad as gg
    >>> seqs = [gg.tensor([1.0, 2.0]), gg.tensor([3.0])]
    >>> gg.nn.utils.pad_sequence(seqs, batch_first=True).tolist()
    [[1.0, 2.0], [3.0, 0.0]]
    """
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: expected a non-empty list of tensors")
    trailing = {tuple(s.shape[1:]) for s in sequences}
    if len(trailing) > 1 or any(s.ndim == 0 for s in sequences):
        raise ValueError(f"pad_sequence: sequences must share their trailing dims, got shapes "
                         f"{[s.shape for s in sequences]}")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        # pad's widths start with the last dim; only the first (time) dim grows.
        widths = (0, 0) * (s.ndim - 1) + (0, longest - s.shape[0])
        padded.append(pad(s, widths, value=padding_value))
    return stack(padded, dim=0 if batch_first else 1)


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
