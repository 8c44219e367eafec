"""Numba loops behind the optimizers' dense updates on the NumPy backend; importing this
module imports Numba (not CUDA).

NumPy's SGD step with momentum makes six passes over the parameter's size and two temporary
arrays (``buf *= m``, ``d * grad``, ``buf += ...``, ``lr * buf``, ``param -= ...``); the
loop here makes one, element by element, with each operation rounded in the parameter's
dtype exactly as NumPy rounds it (no fused multiply-add: Numba does not contract without
``fastmath``), so both paths give the same bits. Large parameters go to a ``prange`` over
Numba's threads (``NUMBA_NUM_THREADS``, ``gg.set_num_threads``). Compiled on first call per
signature and cached on disk.
"""
import numba
import numpy as np

PARALLEL_SIZE = 1 << 17  # below this, waking Numba's threads costs more than they save


@numba.njit(cache=True, inline="always")
def _sgd_at(i, p, g, buf, lr, momentum, damp, nesterov, wd, maximize, first):
    x = g[i]
    if maximize:
        x = -x
    if wd != 0:
        x = x + wd * p[i]  # weight_decayed_grad: grad + weight_decay * param
    if momentum != 0:
        b = x if first else buf[i] * momentum + damp * x
        buf[i] = b
        x = x + momentum * b if nesterov else b
    p[i] = p[i] - lr * x


@numba.njit(cache=True)
def _sgd_serial(p, g, buf, lr, momentum, damp, nesterov, wd, maximize, first):
    for i in range(p.size):
        _sgd_at(i, p, g, buf, lr, momentum, damp, nesterov, wd, maximize, first)


@numba.njit(parallel=True, cache=True)
def _sgd_parallel(p, g, buf, lr, momentum, damp, nesterov, wd, maximize, first):
    for i in numba.prange(p.size):
        _sgd_at(i, p, g, buf, lr, momentum, damp, nesterov, wd, maximize, first)


def sgd_update(param, grad, buf, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
               weight_decay=0.0, maximize=False, first=False):
    """One SGD step of ``param`` in place, as ``gpugrad.optim.sgd`` computes it on arrays;
    ``buf`` is the momentum buffer (ignored without momentum), seeded from the gradient
    when ``first``. All arrays C-contiguous, of one dtype and size.

    >>> import numpy as np
    >>> p, buf = np.ones(3, np.float32), np.empty(3, np.float32)
    >>> sgd_update(p, np.full(3, 2.0, np.float32), buf, lr=0.5, momentum=0.9, first=True)
    >>> p.tolist(), buf.tolist()
    ([0.0, 0.0, 0.0], [2.0, 2.0, 2.0])
    """
    from gpugrad.threads import apply_to_numba
    apply_to_numba()  # gg.set_num_threads's count (one thread unless it asked for more)
    cast = param.dtype.type  # Python numbers enter NumPy's arithmetic in the array's dtype
    flat = param.reshape(-1)
    loop = _sgd_parallel if flat.size >= PARALLEL_SIZE and numba.get_num_threads() > 1 \
        else _sgd_serial
    loop(flat, grad.reshape(-1), buf.reshape(-1), cast(lr), cast(momentum),
         cast(1 - dampening), nesterov, cast(weight_decay), maximize, first)


def takes(param, grad, buf=None):
    """Does ``sgd_update`` take these arrays: NumPy float32/float64 of one dtype and shape,
    C-contiguous?

    >>> import numpy as np
    >>> takes(np.zeros(2), np.zeros(2)), takes(np.zeros(2), np.zeros(2, np.float32))
    (True, False)
    """
    arrays = (param, grad) if buf is None else (param, grad, buf)
    return (param.dtype in (np.float32, np.float64)
            and all(type(a) is np.ndarray and a.dtype == param.dtype and a.shape == param.shape
                    and a.flags.c_contiguous for a in arrays))
