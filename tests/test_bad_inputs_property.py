"""Property test: every public op, fed random wrong shapes, dtypes, devices and non-Tensor
arguments, either works or raises a clear gpugrad error: RuntimeError, IndexError, TypeError
or ValueError (PyTorch's kinds), of a builtin or gpugrad class (never NumPy's
``UFuncTypeError`` or ``AxisError``, a ``KeyError``, an ``AttributeError`` about
``_backend``...), whose message names the op.

The ops are enumerated, not listed: the callables of ``gpugrad``, the public methods and
operators of ``Tensor``, and ``gpugrad.nn.functional``; only the non-ops (factories, I/O,
RNG and autograd utilities) are left out by name, so a new op is held to this at once.
"""
import inspect
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.backends.device import CPU, Device

EXAMPLES = 40  # per op; derandomized, so every run tries the same cases

# Callables of ``gg`` that are not ops on tensors.
NOT_OPS = {"arange", "device", "empty", "eye", "from_dlpack", "from_numpy", "full", "grad",
           "gradcheck", "get_rng_state", "is_grad_enabled", "linspace", "load", "manual_seed",
           "ones", "rand", "randint", "randn", "save", "set_rng_state", "tensor", "zeros",
           "detect_anomaly", "enable_grad", "no_grad", "set_grad_enabled",
           "as_tensor", "randperm", "seed", "get_default_dtype", "set_default_dtype",
           "inference_mode", "set_float32_matmul_precision",
           "get_float32_matmul_precision"}
# Tensor methods that are conversions or autograd plumbing, not ops with inputs to check.
NOT_METHODS = {"backward", "register_hook", "retain_grad", "cuda", "numpy", "tolist", "item",
               "size", "dim", "numel", "contiguous", "detach", "detach_", "cpu",
               "__init__", "__repr__", "__hash__", "__array__", "__dlpack__",
               "__dlpack_device__", "__bool__", "__float__", "__int__", "__index__", "__len__",
               "__pos__", "new_tensor", "new_zeros", "new_ones", "new_empty", "new_full"}
OPERATORS = {"__add__": "add", "__radd__": "add", "__sub__": "sub", "__rsub__": "sub",
             "__mul__": "mul", "__rmul__": "mul", "__truediv__": "div", "__rtruediv__": "div",
             "__floordiv__": "floor_divide", "__rfloordiv__": "floor_divide",
             "__mod__": "remainder", "__rmod__": "remainder", "__pow__": "pow",
             "__rpow__": "pow", "__matmul__": "matmul", "__rmatmul__": "matmul",
             "__neg__": "neg", "__abs__": "abs", "__eq__": "equal", "__ne__": "not_equal",
             "__lt__": "less", "__le__": "less_equal", "__gt__": "greater",
             "__ge__": "greater_equal", "__and__": "bitwise_and", "__rand__": "bitwise_and",
             "__or__": "bitwise_or", "__ror__": "bitwise_or", "__xor__": "bitwise_xor",
             "__rxor__": "bitwise_xor", "__invert__": "bitwise_not", "__getitem__": "index",
             "__setitem__": "setitem", "__iadd__": "add_", "__isub__": "sub_",
             "__imul__": "mul_", "__itruediv__": "div_"}
# Other names an op's errors may go by (an alias, or the op that implements a method).
ALIASES = {"clip": ["clamp"], "concat": ["cat"], "view": ["reshape"], "view_as": ["reshape"],
           "reshape_as": ["reshape"],
           "expand_as": ["expand"], "type_as": ["to"], "amax": ["max"], "amin": ["min"],
           "eq": ["equal"], "ne": ["not_equal"], "lt": ["less"], "le": ["less_equal"],
           "gt": ["greater"], "ge": ["greater_equal"], "getitem": ["index"],
           "zero_": ["fill_"], "float": ["to"], "double": ["to"], "half": ["to"],
           "long": ["to"], "int": ["to"], "bool": ["to"], "neg": ["negative"],
           "sign": ["sign"], "logical_not": ["logical_not"]}

# Arguments that take tensors; the rest get small numbers, shapes or their defaults.
TENSOR_ARGS = {"a", "b", "input", "input1", "input2", "x1", "x2", "other", "weight", "bias",
               "target", "index", "src", "mask", "cond", "t", "running_mean", "running_var",
               "pos_weight", "value", "min", "max", "gradient", "self"}
TENSOR_LISTS = {"tensors"}
DIM_ARGS = {"dim", "dim0", "dim1", "dim2", "start_dim", "end_dim", "offset", "diagonal",
            "decimals"}
SIZE_ARGS = {"shape", "dims", "normalized_shape", "output_size", "kernel_size", "stride",
             "padding", "dilation", "pad", "split_size_or_sections", "sections", "size"}
NUMBER_ARGS = {"p", "k", "chunks", "negative_slope", "eps", "momentum", "margin", "beta",
               "delta", "fill_value", "label_smoothing", "correction", "groups",
               "divisor_override", "ignore_index"}

DTYPES = [np.bool_, np.int32, np.int64, np.float16, np.float32, np.float64]
NON_TENSORS = st.sampled_from([0.5, 2, None, "x", [1.0, 2.0], [[1, 2], [3]], (),
                               np.ones((2, 3), np.float32), np.float64(1.5), object()])


def _other_device():
    """A second device: the GPU where there is one, else a stand-in CPU tensor whose device
    is not the CPU's (what ops compare), enough to exercise every device check."""
    try:
        return gg.device("cuda")
    except RuntimeError:
        return Device("cuda", 99)


OTHER = _other_device()


def _on(device, array):
    if device is CPU:
        return gg.Tensor(array)
    if isinstance(device, Device) and device.index == 99:
        return gg.Tensor._wrap(array, CPU.backend, device)
    return gg.tensor(array, device=device)


@st.composite
def tensors(draw):
    shape = draw(st.lists(st.integers(0, 3), max_size=4).map(tuple))
    dtype = draw(st.sampled_from(DTYPES))
    values = np.random.default_rng(draw(st.integers(0, 2**16))).normal(size=shape) * 3
    array = values.astype(dtype) if dtype is not np.bool_ else values > 0
    t = _on(draw(st.sampled_from([CPU, CPU, CPU, OTHER])), np.asarray(array))
    if t.dtype.kind == "f" and draw(st.booleans()):
        t.requires_grad_(True)
    return t


def _tensor_arg():
    return st.one_of(tensors(), tensors(), tensors(), NON_TENSORS)


def _value_for(name, param):
    if name in TENSOR_ARGS:
        return _tensor_arg()
    if name in TENSOR_LISTS:
        return st.one_of(st.lists(tensors(), max_size=3), NON_TENSORS)
    if name in DIM_ARGS:
        return st.one_of(st.integers(-4, 4), st.none(), st.just(1.5))
    if name in SIZE_ARGS:
        small = st.integers(-2, 4)
        return st.one_of(small, st.lists(small, max_size=4).map(tuple), st.just("same"))
    if name in NUMBER_ARGS:
        return st.one_of(st.integers(-2, 4), st.floats(-2, 2), st.just("0.1"), st.none())
    if param.default is not inspect.Parameter.empty:
        return st.just(param.default)
    return st.one_of(st.integers(-2, 4), st.none(), _tensor_arg())


def _ops():
    found = []
    for name in dir(gg):
        fn = getattr(gg, name)
        if (name.startswith("_") or name in NOT_OPS or not callable(fn)
                or inspect.isclass(fn) or inspect.ismodule(fn)):
            continue
        if name.endswith("_like"):
            continue  # factories
        found.append((f"gg.{name}", fn, name))
    for name, fn in vars(gg.Tensor).items():
        if not callable(fn) or name in NOT_METHODS:
            continue
        if name.startswith("_") and name not in OPERATORS:
            continue
        found.append((f"Tensor.{name}", fn, OPERATORS.get(name, name)))
    for name in F.__all__:
        found.append((f"F.{name}", getattr(F, name), name))
    return found


OPS = _ops()


def _squash(text):
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _names_the_op(message, op):
    names = [op] + ALIASES.get(op, [])
    if op.endswith("_"):
        names.append(op[:-1])  # an in-place op's errors may come from its out-of-place op
    return any(_squash(n) in _squash(message) for n in names)


def _check_error(label, op, err):
    kind = type(err)
    assert isinstance(err, (RuntimeError, IndexError, TypeError, ValueError)), \
        f"{label} raised {kind.__name__}: {err}"
    assert kind.__module__ in ("builtins",) or kind.__module__.startswith("gpugrad"), \
        f"{label} let an internal {kind.__module__}.{kind.__name__} escape: {err}"
    assert not isinstance(err, (RecursionError, KeyError, AttributeError)), \
        f"{label} raised {kind.__name__}: {err}"
    assert _names_the_op(str(err), op), f"{label}: the {kind.__name__} does not name the op: {err}"


def _arguments(draw, fn):
    params = list(inspect.signature(fn).parameters.items())
    args, kwargs = [], {}
    for name, param in params:
        if param.kind is param.VAR_POSITIONAL:
            args.extend(draw(st.lists(st.integers(-1, 3), max_size=3)))
            continue
        if param.kind is param.VAR_KEYWORD:
            continue
        value = draw(_value_for(name, param))
        if param.kind is param.KEYWORD_ONLY:
            kwargs[name] = value
        else:
            args.append(value)
    return args, kwargs


CASES = {"count": 0}


@pytest.mark.parametrize("label, fn, op", OPS, ids=[label for label, _, _ in OPS])
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_bad_inputs_raise_clear_errors(label, fn, op, data):
    args, kwargs = _arguments(data.draw, fn)
    if label.startswith("Tensor.") and not isinstance(args[0] if args else None, gg.Tensor):
        args = [data.draw(tensors())] + args[1:]  # a method's self is always a Tensor
    CASES["count"] += 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            try:
                fn(*args, **kwargs)
            except Exception as err:  # noqa: BLE001  (what escapes is what is checked)
                _check_error(label, op, err)


def test_the_property_covers_the_api():
    """The enumeration finds the whole API: a sample of ops from each namespace."""
    labels = {label for label, _, _ in OPS}
    for label in ("gg.round", "gg.gather", "gg.where", "Tensor.masked_fill", "Tensor.__add__",
                  "Tensor.reshape", "F.softmax", "F.conv2d", "F.cross_entropy"):
        assert label in labels
    assert len(OPS) > 250
