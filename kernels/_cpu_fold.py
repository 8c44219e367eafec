"""Numba loops behind convolution's col2im (``Fold``) and im2col (``Unfold``) on the NumPy
backend; importing this module imports Numba (not CUDA).

NumPy's col2im adds each kernel offset's columns into a strided view of the image: kh * kw
passes over the whole output, each on one thread. The loop here does one pass, one (image,
channel) plane per iteration of a ``prange``, so planes go to Numba's threads
(``NUMBA_NUM_THREADS``; each plane is written by one thread only, so no two race).
im2col copies one plane per iteration of a ``prange`` in the same way (NumPy's copy of the
strided view runs on one thread). Compiled on first call per signature and cached on disk.
"""
import numba


@numba.njit(parallel=True, cache=True)
def col2im(cols, out, dh, dw, sh, sw):
    """``out[n, c, i * dh + y * sh, j * dw + x * sw] += cols[n, c, i, j, y, x]`` for the
    6-d ``cols`` (N, C, kh, kw, OH, OW) into the (padded) 4-d ``out``.

    >>> import numpy as np
    >>> out = np.zeros((1, 1, 3, 3))
    >>> col2im(np.ones((1, 1, 2, 2, 2, 2)), out, 1, 1, 1, 1)
    >>> out[0, 0].tolist()
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    n, c, kh, kw, oh, ow = cols.shape
    for plane in numba.prange(n * c):
        b, ch = plane // c, plane % c
        for i in range(kh):
            for j in range(kw):
                for y in range(oh):
                    row = i * dh + y * sh
                    for x in range(ow):
                        out[b, ch, row, j * dw + x * sw] += cols[b, ch, i, j, y, x]


@numba.njit(parallel=True, cache=True)
def im2col(x, out, dh, dw, sh):
    """``out[n, c, i, j, y, x] = x[n, c, i * dh + y * sh, j * dw + x]`` for the 6-d ``out``
    (N, C, kh, kw, OH, OW) of an unpadded convolution with column stride 1, whose rows are
    contiguous copies (they vectorise). With padding or a column stride, an element loop
    lost to NumPy's copy on one thread: those keep the NumPy path.

    >>> import numpy as np
    >>> out = np.empty((1, 1, 1, 2, 1, 2))
    >>> im2col(np.array([[[[1.0, 2.0, 3.0]]]]), out, 1, 1, 1)
    >>> out.ravel().tolist()
    [1.0, 2.0, 2.0, 3.0]
    """
    n, c, kh, kw, oh, ow = out.shape
    for plane in numba.prange(n * c):
        image, columns = x[plane // c, plane % c], out[plane // c, plane % c]
        for i in range(kh):
            for j in range(kw):
                for y in range(oh):
                    src, dst = image[i * dh + y * sh, j * dw:j * dw + ow], columns[i, j, y]
                    for k in range(ow):
                        dst[k] = src[k]
