"""The errors gpugrad raises for bad inputs, typed as PyTorch's so that the ``except
RuntimeError`` blocks of ported PyTorch code catch them.

PyTorch raises ``RuntimeError`` for shapes and dtypes that do not fit and for indices out of
range in gather/scatter; earlier gpugrad releases raised ``ValueError``, ``TypeError`` and
``IndexError`` for the same mistakes. Each class derives from both, so code written against
either keeps working.

>>> import gpugrad as gg
>>> try:
...     gg.ones(3, 4) @ gg.ones(5, 6)
... except RuntimeError as err:
...     print(type(err).__name__, isinstance(err, ValueError))
ShapeError True
"""


class ShapeError(RuntimeError, ValueError):
    """Shapes or size parameters that do not fit: broadcasting, matmul, reshape, a bias of
    the wrong length, a zero stride or kernel, negative padding."""


class DTypeError(RuntimeError, TypeError):
    """A dtype the op does not take (softmax of integers, a non-bool mask), or operands whose
    dtypes must agree and do not (a float64 input to float32 weights)."""


class IndexRangeError(IndexError, RuntimeError):
    """An index outside its dimension (gather, scatter_add, index_select)."""


class IntegerDivisionByZero(RuntimeError, ZeroDivisionError):
    """Integer ``//``, ``%`` or ``fmod`` by zero, which has no integer result."""


def not_a_tensor(name, value, what="input"):
    """The TypeError for a non-Tensor where an op needs one, naming the op and the type."""
    kind = type(value)
    shown = kind.__name__
    if kind.__module__ != "builtins":
        shown = f"{kind.__module__}.{shown}"
    convertible = hasattr(value, "__array__") or isinstance(value, (list, tuple, int, float))
    hint = " (wrap it with gg.tensor(...))" if convertible else ""
    return TypeError(f"{name}(): argument '{what}' must be a Tensor, not {shown}{hint}")
