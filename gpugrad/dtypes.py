"""Data types: NumPy dtypes under PyTorch-style names.

gpugrad stores dtypes as ``numpy.dtype`` objects (CuPy uses the same ones), so
``gg.float32 == numpy.float32`` and a tensor's ``.dtype`` compares equal to both.
"""
import numpy as np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

_SUPPORTED = (float16, float32, float64, int32, int64, bool_)
_ALIASES = {"half": float16, "float": float32, "double": float64, "long": int64, "int": int64,
            "bool": bool_}

default_float = float32  # read through get_default_dtype(): set_default_dtype changes it


def get_default_dtype():
    """The dtype that float factories and Python floats get (float32 unless changed).

    >>> gg.get_default_dtype()
    dtype('float32')
    """
    return default_float


def set_default_dtype(d):
    """Make ``d`` (a floating dtype) what ``gg.tensor([1.5])``, ``gg.zeros``, ``gg.rand`` and
    integer-with-float promotion give, as ``torch.set_default_dtype``.

    >>> gg.set_default_dtype(gg.float64)
    >>> gg.tensor([1.5]).dtype
    dtype('float64')
    >>> gg.set_default_dtype(gg.float32)
    """
    global default_float
    dt = as_dtype(d)
    if dt is None or dt.kind != "f":
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the "
                        f"default type, got {dt}")
    default_float = dt


def as_dtype(dtype):
    """Normalise ``dtype`` (a string, NumPy dtype or ``gg.float32``-style constant).

    >>> as_dtype("float32") == float32
    True
    """
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype in _ALIASES:
        return _ALIASES[dtype]
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}") from None
    if dt not in _SUPPORTED:
        names = ", ".join(str(d) for d in _SUPPORTED)
        raise TypeError(f"unsupported dtype {dt}; gpugrad supports {names}")
    return dt


def is_floating(dtype):
    """True for float16/32/64."""
    return dtype.kind == "f"
