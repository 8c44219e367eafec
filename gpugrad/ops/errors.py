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
import re


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


def check_floating(name, a):
    """Ops whose result is a fraction (softmax, norms, means) have no integer version in
    PyTorch; computing one in the integer dtype would give silent garbage."""
    if a.dtype.kind != "f":
        raise DTypeError(f"{name}: expected a floating point tensor, got {a.dtype}")


def same_dtype(name, a, b):
    """PyTorch's matrix products do not promote: float64 input to float32 weights raises
    instead of silently computing (and then training) in float64."""
    if a.dtype != b.dtype:
        raise DTypeError(f"{name}: expected both operands to have the same dtype, got "
                         f"{a.dtype} and {b.dtype} (cast one with .to(dtype))")


# ---- the op boundary ------------------------------------------------------------------
# Exceptions that are errors of gpugrad's kinds (or builtins raised on purpose) and only
# need the op's name; anything else from NumPy is mapped to the kind below.
_NAMED = (ShapeError, DTypeError, IndexRangeError, IntegerDivisionByZero, TypeError,
          ValueError, IndexError, RuntimeError, NotImplementedError)


def public_op(fn):
    """Make ``fn`` an op boundary: an error escaping it names the op, and is of PyTorch's
    kind: a non-Tensor argument is a TypeError, NumPy's own errors (a broadcasting
    ValueError, a ``UFuncTypeError``, an ``AxisError``) become ShapeError, DTypeError and
    IndexRangeError, and an error of an inner op is prefixed with this op's name.

    The wrapper also runs ``fn`` in the device context of its first argument (see
    ``_device_scope``). It has ``fn``'s exact signature (generated once, at import), so a
    call costs one extra frame and no argument packing; its ``try`` is free until something
    raises.

    >>> @public_op
    ... def rows(a, dim=0):
    ...     return a.shape[dim]
    >>> rows([1.0, 2.0])
    Traceback (most recent call last):
    ...
    TypeError: rows(): argument 'a' must be a Tensor, not list (wrap it with gg.tensor(...))
    >>> rows(gg.ones(2), dim=3)
    Traceback (most recent call last):
    ...
    IndexError: rows: tuple index out of range
    """
    import functools
    import inspect

    params, call, defaults = [], [], {}
    star = False
    for p in inspect.signature(fn).parameters.values():
        text = p.name
        if p.default is not p.empty:
            defaults[p.name] = p.default
            text += f"=_defaults[{p.name!r}]"
        if p.kind is p.VAR_POSITIONAL:
            star = True
            text, arg = "*" + p.name, "*" + p.name
        elif p.kind is p.VAR_KEYWORD:
            text, arg = "**" + p.name, "**" + p.name
        elif p.kind is p.KEYWORD_ONLY:
            if not star:
                params.append("*")
                star = True
            arg = f"{p.name}={p.name}"
        else:
            arg = p.name
        params.append(text)
        call.append(arg)
    name = fn.__name__
    # The device comes from the first argument, or the second (``2 % t``, ``where(c, a, b)``
    # with a Python number first).
    leading = [p.name for p in list(inspect.signature(fn).parameters.values())[:2]
               if p.kind is not p.VAR_KEYWORD] + ["None", "None"]
    subject = ", ".join(leading[:2])
    # Ops that autocast may cast (gpugrad.amp.policy) also read one process-wide flag; the
    # others have no autocast code at all.
    from ..amp import autocast_mode as amp, policy
    autocasts = ""
    if name in policy.NAMES:
        positional = [a for a in call if "=" not in a and not a.startswith("**")]
        keywords = [f"{a.split('=')[0]!r}: {a.split('=')[0]}" for a in call if "=" in a]
        keywords += [a for a in call if a.startswith("**")]
        names = tuple(p.name for p in inspect.signature(fn).parameters.values())
        autocasts = (f"            if _amp[0]:  # some thread is in gg.autocast: see amp.apply\n"
                     f"                _out = _autocast(_self, {name!r}, {names!r}, "
                     f"({''.join(a + ', ' for a in positional)}), "
                     f"{{{', '.join(keywords)}}})\n"
                     f"                if _out is not _skip:\n"
                     f"                    return _out\n")
    # The common case (a CPU tensor first) costs one class check and one attribute read.
    source = (f"def _make(_fn, _defaults, _convert, _scope, _Tensor, _batching, _amp, "
              f"_autocast, _skip):\n"
              f"    def {name}({', '.join(params)}):\n"
              f"        try:\n"
              f"            if _batching[0] is not None:  # inside gg.func.vmap: see BATCHING\n"
              f"                _out = _batching[0]({name!r}, _fn, {', '.join(call)})\n"
              f"                if _out is not NotImplemented:\n"
              f"                    return _out\n"
              + autocasts +
              f"            _first = {leading[0]}\n"
              f"            if _first.__class__ is not _Tensor:\n"
              f"                _within = _scope({subject})\n"
              f"            elif _first._backend.has_device_context:\n"
              f"                _within = _first._backend.device_context(_first._device)\n"
              f"            else:\n"
              f"                return _fn({', '.join(call)})\n"
              f"            if _within is None:\n"
              f"                return _fn({', '.join(call)})\n"
              f"            with _within:\n"
              f"                return _fn({', '.join(call)})\n"
              f"        except Exception as _err:\n"
              f"            _new = _convert(_err, {name!r}, locals())\n"
              f"            if _new is None:\n"
              f"                raise\n"
              f"            raise _new.with_traceback(_err.__traceback__) from None\n"
              f"    _self = {name}\n"
              f"    return {name}\n")
    scope = {}
    # The module's globals, so that doctest and inspect see the wrapper as the module's own.
    exec(compile(source, f"<gpugrad op boundary of {name}>", "exec"), fn.__globals__, scope)
    from ..tensor import Tensor  # defined by now: the op modules import it first
    wrapper = scope["_make"](fn, defaults, _converted, _device_scope, Tensor, BATCHING,
                             amp.ACTIVE, amp.apply, amp.SKIP)
    return functools.update_wrapper(wrapper, fn)


# ---- gg.func.vmap's hook ---------------------------------------------------------------
# While a vmap is active anywhere, BATCHING[0] is its dispatcher (gpugrad/func/batching.py):
# every public op first offers it the op's name, its undecorated function and its arguments;
# it runs the op's batching rule when an argument is a batched tensor and returns
# NotImplemented otherwise. Outside vmap the whole cost is this one test of BATCHING[0].
BATCHING = [None]


_Tensor = []  # gpugrad.tensor.Tensor, looked up on first use (that module imports this one)


def _device_scope(subject, second=None):
    """The device context of the op's first argument (a Tensor, or a sequence of them; else
    the second), or None on the CPU. Every array an op creates outside ``Function.apply``
    (a lifted scalar, an index, a comparison) then lands on its tensors' GPU, not on the
    current one."""
    if not _Tensor:
        from ..tensor import Tensor
        _Tensor.append(Tensor)
    if subject.__class__ in (list, tuple) and subject:
        subject = subject[0]
    if subject.__class__ is not _Tensor[0]:
        if second.__class__ is not _Tensor[0]:
            return None
        subject = second
    backend = subject._backend
    return backend.device_context(subject._device) if backend.has_device_context else None


def _converted(err, name, arguments):
    """The error to raise in place of ``err`` escaping op ``name``, or None to re-raise it."""
    arguments = {k: v for k, v in arguments.items() if not k.startswith("_")}
    text = str(err)
    if isinstance(err, AttributeError):
        return _attribute_error(err, name, arguments)
    kind = type(err)
    if kind.__module__.startswith("numpy"):  # UFuncTypeError, AxisError, ...
        if isinstance(err, IndexError):
            kind = IndexRangeError
        elif isinstance(err, TypeError):
            kind = DTypeError
        elif isinstance(err, ValueError):
            kind = ShapeError
        else:
            return None
    elif kind is ZeroDivisionError:
        kind = ShapeError  # a zero where a size or a parameter must not be one
    elif kind not in _NAMED:
        return None  # a subclass of its own (RecursionError, KeyError: a bug) stays itself
    if _names(text, name):
        return None if kind is type(err) else kind(text)
    return kind(f"{name}: {text}")


def _names(text, name):
    """Does ``text`` name the op, as a word (``floor_divide`` or ``floordivide``)?"""
    text = text.lower()
    return any(re.search(rf"\b{re.escape(n)}\b", text)
               for n in {name.lower(), name.lower().replace("_", "")})


def _attribute_error(err, name, arguments):
    """A Tensor's attribute read on something else: the TypeError PyTorch's argument parser
    raises. An attribute missing on a Tensor is a bug and is left alone."""
    from ..tensor import Tensor
    obj = getattr(err, "obj", None)
    if obj is None and "NoneType" not in str(err) or isinstance(obj, Tensor):
        return None
    for arg, value in arguments.items():
        if value is obj:
            return not_a_tensor(name, obj, arg)
        if isinstance(value, (list, tuple)) and any(v is obj for v in value):
            return TypeError(f"{name}(): argument '{arg}' must be a sequence of Tensors, but "
                             f"it holds a {type(obj).__name__}")
    return TypeError(f"{name}(): expected a Tensor, got {type(obj).__name__}")
