"""Fused GPU kernels (Numba-CUDA) with NumPy references and Numba CPU twins.

Ships as ``gpugrad.kernels``. One module per family, each with ``@cuda.jit`` kernels built
and compiled on first launch, and launchers that ops call (never the kernels):

- :mod:`.softmax`: ``softmax_forward``, ``softmax_backward`` (also log-softmax)
- :mod:`.xent`: ``softmax_xent_forward``, ``softmax_xent_backward``
- :mod:`.layernorm`: ``layer_norm_forward``, ``layer_norm_backward``, ``layer_norm_backward_input``
- :mod:`.embedding`: ``embedding_backward``, ``embedding_backward_sparse``
- :mod:`.dropout`: ``dropout_forward``, ``dropout_backward``, ``dropout_mask`` (NumPy/CuPy)
- :mod:`.optim`: ``sgd_update``, ``adam_update``, ``adamw_update``
- :mod:`.bucket`: ``pack_bucket``, ``unpack_bucket``
- :mod:`.rnn`: ``lstm_forward``, ``lstm_backward``, ``gru_forward``, ``gru_backward``
- :mod:`.attention`: ``attention_forward``, ``attention_backward`` (flash style)

:mod:`.reference` holds the vectorised NumPy/CuPy math of each launcher, :mod:`.cpu` the
``numba.njit`` twins for the NumPy backend (``_cpu_gelu``: GELU's ufuncs, ``_cpu_sparse``:
row-sparse gradient coalescing and updates, ``_cpu_rows``: row loops of layer norm, attention
softmax and cross-entropy, ``_cpu_rnn``: LSTM/GRU time steps, ``_cpu_exp``: the vectorisable
float32 ``exp`` they share, ``_cpu_fold``: col2im over Numba's threads), :mod:`.cases` the recurrent and attention kernels
paired with their ops' generic CuPy code (for the benchmark and the selftest). Launchers take NumPy arrays (CUDA simulator,
tests) or CuPy arrays (run on CuPy's current stream and current device). Importing this
package or any of its modules imports neither numba.cuda nor CuPy.
"""
from ._emm import install as install_memory_manager
from ._emm import memory_stats

__all__ = ["install_memory_manager", "memory_stats"]
