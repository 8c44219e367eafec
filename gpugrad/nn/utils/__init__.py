"""Training utilities: gradient clipping, flat parameter vectors, variable-length batches,
parametrizations (``parametrize``, ``parametrizations.weight_norm``) and the legacy
``weight_norm`` / ``remove_weight_norm``."""
from . import parametrizations, parametrize
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .rnn import lengths_to_mask, pad_sequence
from .rnn import (PackedSequence, invert_permutation, pack_padded_sequence, pack_sequence,
                  pad_packed_sequence, unpack_sequence, unpad_sequence)

__all__ = ["clip_grad_norm_", "clip_grad_value_", "lengths_to_mask", "pad_sequence",
           "parameters_to_vector", "vector_to_parameters"]
__all__ += ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pack_sequence",
            "pad_packed_sequence", "unpack_sequence", "unpad_sequence"]

from .weight_norm import remove_weight_norm, weight_norm  # noqa: E402

__all__ += ["parametrizations", "parametrize", "remove_weight_norm", "weight_norm"]
