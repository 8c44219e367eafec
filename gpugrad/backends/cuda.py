"""``gg.backends.cuda``: PyTorch's CUDA matmul switches, accepted so that training scripts
run unchanged. They change nothing: gpugrad's matmuls run in the dtype of their inputs (CuPy
picks its own cuBLAS math mode), so ``allow_tf32`` and ``gg.set_float32_matmul_precision``
are recorded and read back, nothing more.

>>> import gpugrad as gg
>>> gg.backends.cuda.matmul.allow_tf32 = True  # accepted, means nothing
>>> gg.backends.cuda.matmul.allow_tf32
True
>>> gg.backends.cuda.matmul.allow_tf32 = False
"""

_PRECISIONS = ("highest", "high", "medium")
_precision = ["highest"]


class _MatmulFlags:
    """The attributes of ``torch.backends.cuda.matmul``."""

    allow_tf32 = False
    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()


def set_float32_matmul_precision(precision):
    """Record PyTorch's float32 matmul precision (``"highest"``, ``"high"`` or
    ``"medium"``); gpugrad's matmuls ignore it (always full float32).

    >>> gg.set_float32_matmul_precision("high"); gg.get_float32_matmul_precision()
    'high'
    >>> gg.set_float32_matmul_precision("highest")
    """
    if precision not in _PRECISIONS:
        raise ValueError(f"set_float32_matmul_precision: precision must be one of "
                         f"{_PRECISIONS}, got {precision!r}")
    _precision[0] = precision


def get_float32_matmul_precision():
    """The precision last given to ``set_float32_matmul_precision`` (``"highest"`` at first).

    >>> gg.get_float32_matmul_precision() in ("highest", "high", "medium")
    True
    """
    return _precision[0]
