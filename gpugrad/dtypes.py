"""Data types: ``gpugrad.dtype`` objects under PyTorch's names.

Each dtype is one interned :class:`dtype` object that wraps a NumPy dtype. It prints as
PyTorch's do (``gpugrad.float32``), compares equal to the NumPy dtype and scalar type it
wraps (``gg.float32 == numpy.float32``) and hashes like the NumPy dtype, so dicts keyed by
either find it. NumPy and CuPy take it wherever they take a dtype: ``numpy.dtype(obj)``
accepts any object whose ``.dtype`` attribute is a NumPy dtype.

Tensor dtypes: bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64.
bfloat16 is stored with the ``ml_dtypes`` package's NumPy type (CPU only: CuPy has none);
it is imported on first use, so the package imports without it. Complex dtypes are not
supported.
"""
import numpy as np

_BF16_HELP = ("bfloat16 needs the ml_dtypes package (pip install ml_dtypes, or "
              "pip install gpugrad[bf16])")


def _bfloat16_numpy():
    try:
        import ml_dtypes
    except ImportError:
        raise ImportError(_BF16_HELP) from None
    return np.dtype(ml_dtypes.bfloat16)


class dtype:
    """A tensor element type, as ``torch.dtype``: ``gg.float32``, ``gg.int64``, ...

    Compares equal to the NumPy dtype (and scalar type) it wraps, and NumPy/CuPy accept it
    as a dtype. NumPy's attributes (``kind``, ``itemsize``, ``name``, ``char``, ``type``)
    read through; bfloat16 reports ``kind == "f"`` (ml_dtypes says ``"V"``).

    >>> gg.float32, gg.float32 == np.float32, gg.int == gg.int32
    (gpugrad.float32, True, True)
    >>> gg.bfloat16.is_floating_point, gg.uint8.is_signed, gg.float16.itemsize
    (True, False, 2)
    >>> np.zeros(2, dtype=gg.float64).dtype
    dtype('float64')
    """

    __slots__ = ("name", "kind", "itemsize", "is_floating_point", "is_complex", "is_signed",
                 "_np", "_hash")

    def __init__(self, name, kind, itemsize, np_dtype=None):
        self.name = name
        self.kind = kind
        self.itemsize = itemsize
        self.is_floating_point = kind == "f"
        self.is_complex = kind == "c"
        self.is_signed = kind in "ifc"
        self._np = np_dtype  # None until first needed, for bfloat16
        self._hash = None

    @property
    def dtype(self):
        """The NumPy dtype this wraps (what ``numpy.dtype(obj)`` reads).

        >>> gg.float32.dtype
        dtype('float32')
        """
        if self._np is None:
            self._np = _bfloat16_numpy()
            _BY_NUMPY[self._np] = self
        return self._np

    @property
    def char(self):
        """NumPy's one-character code (``'f'`` for float32).

        >>> gg.float32.char
        'f'
        """
        return self.dtype.char

    @property
    def type(self):
        """NumPy's scalar type (``numpy.float32`` for float32).

        >>> gg.float32.type
        <class 'numpy.float32'>
        """
        return self.dtype.type

    def __getattr__(self, attr):
        # Other NumPy dtype attributes (str, byteorder, alignment, ...) read through.
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self.dtype, attr)

    def __repr__(self):
        return f"gpugrad.{self.name}"

    __str__ = __repr__

    def __eq__(self, other):
        if type(other) is dtype:
            return other is self
        if not isinstance(other, (np.dtype, type)):
            return NotImplemented  # strings, None, numbers: not equal (as PyTorch's)
        try:
            return self.dtype == np.dtype(other)
        except (TypeError, ImportError):
            return False

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        if self._hash is None:
            try:
                self._hash = hash(self.dtype)
            except ImportError:  # bfloat16 without ml_dtypes: no array can hold it anyway
                self._hash = hash(("gpugrad", self.name))
        return self._hash

    def __reduce__(self):
        return _from_name, (self.name,)


def _from_name(name):
    return _BY_NAME[name]


bool_ = dtype("bool", "b", 1, np.dtype(np.bool_))
uint8 = dtype("uint8", "u", 1, np.dtype(np.uint8))
int8 = dtype("int8", "i", 1, np.dtype(np.int8))
int16 = short = dtype("int16", "i", 2, np.dtype(np.int16))
int32 = dtype("int32", "i", 4, np.dtype(np.int32))
int64 = long = dtype("int64", "i", 8, np.dtype(np.int64))
float16 = half = dtype("float16", "f", 2, np.dtype(np.float16))
bfloat16 = dtype("bfloat16", "f", 2)
float32 = dtype("float32", "f", 4, np.dtype(np.float32))
float64 = double = dtype("float64", "f", 8, np.dtype(np.float64))

_ALL = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
_BY_NAME = {d.name: d for d in _ALL}
# PyTorch's alias names; "int" and "float" mean int32 and float32 there, not NumPy's 64 bits.
_ALIASES = {**_BY_NAME, "half": float16, "float": float32, "double": float64, "short": int16,
            "int": int32, "long": int64}
_BY_NUMPY = {d._np: d for d in _ALL if d._np is not None}

default_float = float32  # read through get_default_dtype(): set_default_dtype changes it


def get_default_dtype():
    """The dtype that float factories and Python floats get (float32 unless changed).

    >>> gg.get_default_dtype()
    gpugrad.float32
    """
    return default_float


def set_default_dtype(d):
    """Make ``d`` (a floating dtype) what ``gg.tensor([1.5])``, ``gg.zeros``, ``gg.rand`` and
    integer-with-float promotion give, as ``torch.set_default_dtype``.

    >>> gg.set_default_dtype(gg.float64)
    >>> gg.tensor([1.5]).dtype
    gpugrad.float64
    >>> gg.set_default_dtype(gg.float32)
    """
    global default_float
    dt = as_dtype(d)
    if dt is None or not dt.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the "
                        f"default type, got {dt}")
    default_float = dt


def as_dtype(d):
    """Normalise ``d`` (a string, NumPy dtype or scalar type, Python type, or ``gg.float32``
    style object) to a :class:`dtype`; None stays None.

    >>> as_dtype("float32"), as_dtype(np.int64), as_dtype("int"), as_dtype(float)
    (gpugrad.float32, gpugrad.int64, gpugrad.int32, gpugrad.float64)
    """
    if d is None or type(d) is dtype:
        return d
    if isinstance(d, str):
        name = d.split(".", 1)[1] if d.startswith(("gpugrad.", "torch.")) else d
        if name in _ALIASES:
            return _ALIASES[name]
    if isinstance(d, np.dtype) and d in _BY_NUMPY:
        return _BY_NUMPY[d]
    if isinstance(d, type) and d.__name__ == "bfloat16" and d.__module__.startswith("ml_dtypes"):
        return bfloat16
    if type(getattr(d, "dtype", None)) is dtype:  # a Tensor: its dtype, as numpy.dtype(array)
        return d.dtype
    try:
        dt = np.dtype(d)
    except TypeError:
        raise TypeError(f"unknown dtype {d!r}") from None
    if dt.name == "bfloat16":
        return bfloat16
    if dt not in _BY_NUMPY:
        names = ", ".join(str(x) for x in _ALL)
        raise TypeError(f"unsupported dtype {dt}; gpugrad supports {names}")
    return _BY_NUMPY[dt]


def of_array(arr_dtype):
    """The :class:`dtype` of a backend array's NumPy dtype (what ``Tensor.dtype`` returns).

    >>> of_array(np.zeros(1).dtype)
    gpugrad.float64
    """
    d = _BY_NUMPY.get(arr_dtype)
    if d is None:  # bfloat16 arrays made before gpugrad looked at ml_dtypes, or odd dtypes
        d = as_dtype(arr_dtype) if arr_dtype.name == "bfloat16" else _other(arr_dtype)
        if d is bfloat16:
            bfloat16.dtype  # registers the ml_dtypes dtype in _BY_NUMPY
    return d


def _other(np_dtype):
    # An array dtype gpugrad does not make itself (a big-endian or unsigned 16-bit array
    # wrapped by from_numpy-like paths): interned, so identity comparisons still hold.
    d = dtype(np_dtype.name, np_dtype.kind, np_dtype.itemsize, np_dtype)
    _BY_NUMPY[np_dtype] = d
    return d


def is_floating(d):
    """True for float16, bfloat16, float32 and float64.

    >>> is_floating(gg.bfloat16), is_floating(np.int64)
    (True, False)
    """
    return as_dtype(d).is_floating_point


def check_device(d, device, op="to"):
    """Raise PyTorch's kind of error when dtype ``d`` cannot live on ``device``: the GPU
    backend has no bfloat16 (CuPy 13 and Numba-CUDA lack it), so bfloat16 stays on the CPU.

    >>> check_device(gg.bfloat16, gg.device("cpu"))
    """
    if d is bfloat16 and getattr(device, "type", device) != "cpu":
        raise TypeError(f"{op}: bfloat16 is not supported on {device} (gpugrad's GPU backend, "
                        "CuPy 13 with Numba-CUDA kernels, has no bfloat16 type); use float16 "
                        "on the GPU, or keep bfloat16 tensors on the CPU")
