"""Numba ``prange`` loops behind relu's forward and backward on the NumPy backend, for
large float32/float64 arrays; importing this module imports Numba (not CUDA).

NumPy's ufuncs run on one thread; these split a flat, C-contiguous array into blocks, one
per Numba thread (``gg.set_num_threads``). Each element's result is exactly NumPy's
``maximum(x, 0)`` (NaN kept, -0.0 becomes 0.0) and ``where(out > 0, g, 0)``. Compiled on
first call per signature and cached on disk.
"""
import numba
import numpy as np


@numba.njit(parallel=True, cache=True)
def relu(x, out):
    """``out = maximum(x, 0)`` for the 1-d ``x``; NaN stays NaN.

    >>> import numpy as np
    >>> out = np.empty(3)
    >>> relu(np.array([-1.0, 2.0, np.nan]), out)
    >>> out.tolist()
    [0.0, 2.0, nan]
    """
    zero = np.zeros(1, x.dtype)[0]  # 0 in x's dtype: float32 stays float32
    for i in numba.prange(x.size):
        v = x[i]
        out[i] = v if v > zero or v != v else zero


@numba.njit(parallel=True, cache=True)
def relu_backward(g, out, grad):
    """``grad = where(out > 0, g, 0)`` for the 1-d ``g`` and relu output ``out``: the
    subgradient 0 at 0, and an inf or NaN of ``g`` passed only where ``out > 0``.

    >>> import numpy as np
    >>> grad = np.empty(3)
    >>> relu_backward(np.array([5.0, np.inf, -2.0]), np.array([0.0, 1.0, 3.0]), grad)
    >>> grad.tolist()
    [0.0, inf, -2.0]
    """
    zero = np.zeros(1, g.dtype)[0]
    for i in numba.prange(g.size):
        grad[i] = g[i] if out[i] > 0 else zero
