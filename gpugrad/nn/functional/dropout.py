"""``dropout``: zero elements with probability p, scale the rest by 1 / (1 - p).

The keep-mask comes from the counter-based generator in ``kernels/dropout.py``: a pure
function of (seed, element index), so the same seed gives bit-identical masks on NumPy and
CuPy. Each call draws its seed from the CPU generator that ``gg.manual_seed`` seeds: one host
integer, no device sync, and reproducible runs. Backward multiplies by the same mask (it is
the saved constant of the product), so it never redraws.
"""
import numpy as np

from ...backends.device import CPU, backend_for

try:
    from ...kernels.dropout import dropout_mask
except ImportError:  # a build without the kernels package: draw uniforms instead
    dropout_mask = None


def _keep_mask(input, p):
    seed = int(backend_for(CPU).generator(CPU).integers(0, 2**63, dtype=np.int64))
    xp = input._backend.xp
    with input._backend.device_context(input.device):
        if dropout_mask is not None:
            return dropout_mask(seed, 0, input.shape, p, xp=xp)
        return input._backend.generator(input.device).random(input.shape) >= p


def dropout(input, p=0.5, training=True, inplace=False):
    """Randomly zero elements with probability ``p`` while ``training``; identity otherwise.
    ``inplace`` is accepted for ported code; the result is always a new tensor.

    >>> import gpugrad as gg
    >>> import gpugrad.nn.functional as F
    >>> F.dropout(gg.ones(4), p=0.5, training=False).tolist()
    [1.0, 1.0, 1.0, 1.0]
    >>> sorted(set(F.dropout(gg.ones(100), p=0.5).tolist()))
    [0.0, 2.0]
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = _keep_mask(input, p)
    # A product with a constant: its backward and forward-mode rules reuse this very mask.
    return input * input._like((mask * scale).astype(input.dtype))
