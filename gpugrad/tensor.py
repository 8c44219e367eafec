"""``Tensor``: an array on a device, plus what reverse-mode autodiff needs.

The array lives in ``._data`` (a NumPy or CuPy array, public as ``.array``); ``.grad_fn`` is
the node that made it (None for leaves); ``.grad`` collects gradients on leaves that require
them. Every method
that computes something goes through an op in ``gpugrad.ops``, so it is recorded in the
graph and differentiable.
"""
import numbers

import numpy as np

from .autograd.grad_mode import state
from .backends.device import CPU, backend_for, device as as_device
from . import dtypes as _dtypes
from .dtypes import as_dtype, check_device, get_default_dtype, of_array


_new = object.__new__  # bound once: looking ``object.__new__`` up costs as much as the call


class Tensor:
    """An n-dimensional array with autograd. Make one with ``gg.tensor`` or a factory.

    >>> import gpugrad as gg
    >>> x = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4.])
    """

    # Class-level defaults keep construction cheap: a new tensor sets only what differs.
    requires_grad = False
    _grad = None
    grad_fn = None
    _version = None
    _hooks = None
    _tangent = None
    _retains_grad_fn = None
    __array_priority__ = 1000  # numpy scalars and arrays defer to our reflected operators

    def __init__(self, data=(), *sizes, requires_grad=False):
        if _is_size(data) and all(_is_size(n) for n in sizes):
            # PyTorch's legacy constructor: gg.Tensor(2, 3) is an uninitialised 2 x 3
            # float tensor, as torch.Tensor(2, 3) is.
            data = np.empty((data,) + sizes, dtype=get_default_dtype())
        elif sizes:
            raise TypeError(f"Tensor(): expected sizes (ints) or one sequence or array, got "
                            f"{(data,) + sizes!r}")
        elif isinstance(data, (list, tuple)):
            # PyTorch's legacy constructor: gg.Tensor([1, 2]) holds the default float dtype.
            data = np.array(data, dtype=get_default_dtype())
        backend, device = _backend_of_array(data)
        self._data = data
        self._backend = backend
        self._device = device
        self.requires_grad, self.grad_fn, self._version = False, None, None  # as in _wrap
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data, backend, device):
        t = _new(Tensor)
        t._data = data
        t._backend = backend
        t._device = device
        # Ops read these: Python 3.11 reads them faster from the instance than the class.
        t.requires_grad, t.grad_fn, t._version = False, None, None
        return t

    @property
    def grad(self):
        """The gradient backward accumulated here (None until then), as in PyTorch.

        >>> x = gg.tensor([3.0], requires_grad=True)
        >>> x.grad is None
        True
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([6.])
        """
        return self._grad

    @grad.setter
    def grad(self, value):
        if state.tracer is not None:  # gg.compile replays the assignment (zero_grad, say)
            state.tracer.set_grad(self, value)
        self._grad = value

    def _like(self, data):
        """A new tensor (no graph) holding ``data`` on this tensor's device."""
        return Tensor._wrap(data, self._backend, self._device)

    # ---- metadata -------------------------------------------------------------------
    @property
    def shape(self):
        """The size of each dimension, as a tuple of ints (PyTorch's ``torch.Size`` is a tuple too).

        >>> gg.zeros(2, 3).shape
        (2, 3)
        """
        return tuple(self._data.shape)

    @property
    def dtype(self):
        """The element type, a :class:`gpugrad.dtype` (``gg.float32``, ...). It compares equal
        to the NumPy dtype it wraps, so ``x.dtype == numpy.float32`` holds too.

        >>> gg.tensor([1.0]).dtype
        gpugrad.float32
        >>> gg.tensor([1]).dtype == gg.int64, gg.tensor([1]).dtype == np.int64
        (True, True)
        """
        found = _dtypes._BY_NUMPY.get(self._data.dtype)  # read often: the fast path inline
        return found if found is not None else of_array(self._data.dtype)

    @property
    def ndim(self):
        """The number of dimensions.

        >>> gg.zeros(2, 3).ndim
        2
        """
        return self._data.ndim

    @property
    def device(self):
        """The device the data lives on: ``cpu`` or ``cuda:N``.

        >>> gg.zeros(2).device
        device('cpu')
        """
        return self._device

    @property
    def is_leaf(self):
        """True for tensors made by the user (no ``grad_fn``); only leaves keep ``.grad``.

        >>> w = gg.tensor([1.0], requires_grad=True)
        >>> w.is_leaf, (w * 2).is_leaf
        (True, False)
        """
        return self.grad_fn is None

    @property
    def is_cuda(self):
        """True when the data lives on a GPU.

        >>> gg.zeros(2).is_cuda
        False
        """
        return self._device.type == "cuda"

    def size(self, dim=None):
        """The shape, or the size of dimension ``dim``.

        >>> gg.zeros(2, 3).size()
        (2, 3)
        >>> gg.zeros(2, 3).size(-1)
        3
        """
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        """The number of dimensions (same as ``ndim``).

        >>> gg.zeros(2, 3).dim()
        2
        """
        return self._data.ndim

    def numel(self):
        """The number of elements.

        >>> gg.zeros(2, 3).numel()
        6
        """
        return int(self._data.size)

    def element_size(self):
        """The size of one element in bytes.

        >>> gg.zeros(2).element_size(), gg.zeros(2, dtype=gg.int64).element_size()
        (4, 8)
        """
        return int(self._data.itemsize)

    @property
    def nbytes(self):
        """The number of bytes the elements take (``numel() * element_size()``).

        >>> gg.zeros(2, 3).nbytes
        24
        """
        return int(self._data.nbytes)

    def stride(self, dim=None):
        """The step in elements between neighbours along each dim (or along ``dim``); 0 along
        broadcast dims, as in PyTorch.

        >>> gg.zeros(2, 3).stride(), gg.zeros(2, 3).T.stride(0)
        ((3, 1), 1)
        """
        steps = tuple(st // self._data.itemsize for st in self._data.strides)
        if dim is None:
            return steps
        if not isinstance(dim, numbers.Integral):
            raise TypeError(f"stride(): argument 'dim' must be int, not {type(dim).__name__}")
        if not -len(steps) <= dim < len(steps):
            raise IndexError(f"stride: dimension {dim} out of range for a tensor of "
                             f"{len(steps)} dims")
        return steps[dim]

    def data_ptr(self):
        """The address of the first element in (host or device) memory, as an int.

        >>> x = gg.arange(4)
        >>> x[1:].data_ptr() - x.data_ptr() == x.element_size()
        True
        """
        interface = getattr(self._data, "__cuda_array_interface__", None)
        if interface is None:
            interface = self._data.__array_interface__
        return int(interface["data"][0])

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        # The slices along dim 0, as PyTorch's iteration gives (views, in the graph).
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(_join.unbind(self, 0))

    def __format__(self, format_spec):
        # f"{loss:.4f}" formats the value of a 0-d tensor; other tensors take only "".
        if self._data.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __hash__(self):
        return id(self)

    def __repr__(self):
        host = self._host()
        if host.dtype.name == "bfloat16":
            # NumPy formats ml_dtypes' type as an object ("3" for 3.0): print its float32
            # values, with the 4 decimals its 8-bit significand supports (as PyTorch does).
            body = np.array2string(host.astype(np.float32), precision=4, separator=", ",
                                   prefix="tensor(")
        else:
            body = np.array2string(host, separator=", ", prefix="tensor(")
        extra = ""
        if self._device is not CPU:
            extra += f", device='{self._device}'"
        if self._data.dtype not in _REPR_IMPLIED:
            extra += f", dtype={self.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn={self.grad_fn!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- conversion -----------------------------------------------------------------
    def _host(self):
        return self._backend.to_host(self._data)

    def numpy(self):
        """The values as a NumPy array (shared memory on the CPU).

        Reading values is not an autograd operation, so this works on tensors that require
        grad too. GPU tensors must be copied with ``.cpu()`` first.

        >>> gg.tensor([1.0, 2.0], requires_grad=True).numpy()
        array([1., 2.], dtype=float32)
        """
        if self._device is not CPU:
            raise TypeError(f"can't convert a tensor on {self._device} to NumPy; "
                            "call .cpu() first to copy it to host memory")
        if state.tracer is not None:
            state.tracer.host(self, "numpy", self._data)
        return self._data

    def item(self):
        """The value of a one-element tensor as a Python number.

        >>> gg.tensor([[2.5]]).item()
        2.5
        """
        if self._data.size != 1:
            raise ValueError(f"item(): tensor with {self._data.size} elements cannot be "
                             "converted to a Python scalar")
        value = self._host().reshape(()).item()
        if state.tracer is not None:  # gg.compile: the replay reads it again
            state.tracer.host(self, "item", value)
        return value

    def tolist(self):
        """The values as (nested) Python lists of Python numbers.

        >>> gg.tensor([[1, 2], [3, 4]]).tolist()
        [[1, 2], [3, 4]]
        """
        value = self._host().tolist()
        if state.tracer is not None:
            state.tracer.host(self, "tolist", value)
        return value

    def __array__(self, dtype=None, copy=None):
        # NumPy 2 passes copy=True for np.array(t) and None for np.asarray(t): only the
        # latter may share memory, as with PyTorch's CPU tensors.
        if self._device is not CPU:
            raise TypeError(f"can't convert a tensor on {self._device} to NumPy; "
                            "call .cpu() first")
        if state.tracer is not None:
            state.tracer.host(self, "numpy", self._data)
        if copy:
            return self._data.astype(dtype or self._data.dtype, copy=True)
        if copy is False and dtype is not None and np.dtype(dtype) != self._data.dtype:
            raise ValueError(f"__array__: converting {self._data.dtype} to {np.dtype(dtype)} "
                             "needs a copy, and copy=False was asked for")
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def __dlpack__(self, **kwargs):
        return self._data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    @property
    def __cuda_array_interface__(self):
        if self._device is CPU:
            raise AttributeError("__cuda_array_interface__ exists only for GPU tensors")
        return self._data.__cuda_array_interface__

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"bool() of a tensor with {self._data.size} elements is "
                               "ambiguous; use .any() or .all()")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self.item())

    def to(self, device=None, dtype=None):
        """Copy to another device and/or dtype (returns ``self`` when nothing changes).

        ``t.to("cuda:1")``, ``t.to(gg.float64)``, ``t.to("cpu", "float16")`` and
        ``t.to(other)`` (``other``'s dtype and device) all work.

        >>> gg.tensor([1.5, 2.5]).to(gg.float64)
        tensor([1.5, 2.5], dtype=gpugrad.float64)
        >>> gg.tensor([1.5]).to('cpu', 'float16').dtype
        gpugrad.float16
        """
        if isinstance(device, Tensor):  # t.to(other): other's dtype and device
            device, dtype = device._device, device.dtype
        elif device is not None and not _looks_like_device(device):
            device, dtype = None, device
        dtype = as_dtype(dtype)
        target = self._device if device is None else as_device(device)
        if dtype is not None or target is not self._device:
            check_device(self.dtype if dtype is None else dtype, target)
        out = self
        if dtype is not None and dtype is not self.dtype:
            out = _shape.cast(out, dtype)
        if target is not self._device:
            out = _shape.to_device(out, target)
        return out

    def cpu(self):
        """A copy in host memory (``self`` when already there).

        >>> x = gg.ones(2)
        >>> x.cpu() is x
        True
        """
        return self.to(CPU)

    def cuda(self, device=None):
        """A copy on GPU ``device`` (an index; default: the current GPU). Needs CuPy and a GPU.

        >>> x = gg.ones(2)
        >>> y = x.cuda() if gg.cuda.is_available() else x
        >>> y.tolist()
        [1.0, 1.0]
        """
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def type_as(self, other):
        """This tensor cast to ``other``'s dtype.

        >>> gg.tensor([1, 2]).type_as(gg.zeros(1))
        tensor([1., 2.])
        """
        return self.to(dtype=_tensor_arg("type_as", other).dtype)

    def float(self):
        """Cast to float32.

        >>> gg.tensor([1, 2]).float()
        tensor([1., 2.])
        """
        return self.to(dtype=np.float32)

    def double(self):
        """Cast to float64.

        >>> gg.tensor([1, 2]).double()
        tensor([1., 2.], dtype=gpugrad.float64)
        """
        return self.to(dtype=np.float64)

    def half(self):
        """Cast to float16.

        >>> gg.tensor([1, 2]).half()
        tensor([1., 2.], dtype=gpugrad.float16)
        """
        return self.to(dtype=np.float16)

    def bfloat16(self):
        """Cast to bfloat16 (CPU only; needs the ml_dtypes package).

        >>> gg.tensor([1.0, 1.00390625]).bfloat16()
        tensor([1., 1.], dtype=gpugrad.bfloat16)
        """
        return self.to(dtype=_dtypes.bfloat16)

    def byte(self):
        """Cast to uint8 (floats truncate toward zero).

        >>> gg.tensor([1.7, 200.0]).byte()
        tensor([  1, 200], dtype=gpugrad.uint8)
        """
        return self.to(dtype=_dtypes.uint8)

    def short(self):
        """Cast to int16 (floats truncate toward zero).

        >>> gg.tensor([1.7, -1.7]).short()
        tensor([ 1, -1], dtype=gpugrad.int16)
        """
        return self.to(dtype=_dtypes.int16)

    def long(self):
        """Cast to int64 (floats truncate toward zero).

        >>> gg.tensor([1.7, -1.7]).long()
        tensor([ 1, -1])
        """
        return self.to(dtype=np.int64)

    def int(self):
        """Cast to int32 (floats truncate toward zero).

        >>> gg.tensor([1.7, -1.7]).int()
        tensor([ 1, -1], dtype=gpugrad.int32)
        """
        return self.to(dtype=np.int32)

    def bool(self):
        """Cast to bool (nonzero is True).

        >>> gg.tensor([0.0, 2.0]).bool()
        tensor([False,  True])
        """
        return self.to(dtype=np.bool_)

    def type(self, dtype=None, non_blocking=False, **kwargs):
        """Without ``dtype``, the type's name: ``'gpugrad.FloatTensor'``,
        ``'gpugrad.cuda.LongTensor'``, ... (PyTorch says ``'torch.FloatTensor'``). With a
        dtype, or such a name (``'torch.'`` names are accepted too), a cast (and a move
        between the CPU and the GPU, for a name saying so).

        >>> x = gg.tensor([1, 2])
        >>> x.type()
        'gpugrad.LongTensor'
        >>> x.type(gg.float32), x.type("torch.DoubleTensor").dtype
        (tensor([1., 2.]), gpugrad.float64)
        """
        if dtype is None:
            where = "gpugrad." if self._device is CPU else "gpugrad.cuda."
            return where + _TYPE_NAMES[self.dtype]
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            *prefix, name = dtype.split(".")
            wanted = [dt for dt, n in _TYPE_NAMES.items() if n == name]
            if not wanted or prefix[:1] not in ([], ["torch"], ["gpugrad"]):
                raise TypeError(f"type: invalid type {dtype!r}")
            out = self.to(dtype=wanted[0])
            if "cuda" in prefix and self._device is CPU:
                return out.cuda()
            return out.cpu() if "cuda" not in prefix else out
        return self.to(dtype=dtype)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        """A new tensor (a copy) of ``data``, with this tensor's dtype and device unless given.

        >>> gg.zeros(2, dtype=gg.float64).new_tensor([1, 2])
        tensor([1., 2.], dtype=gpugrad.float64)
        """
        if isinstance(data, Tensor):
            data = data._data
        return _creation.tensor(data, dtype=dtype or self.dtype, device=device or self._device,
                                requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        """Zeros of ``size`` (ints or one tuple) with this tensor's dtype and device unless
        given.

        >>> gg.zeros(1, dtype=gg.int64).new_zeros(2, 2)
        tensor([[0, 0],
                [0, 0]])
        """
        return _creation.zeros(*size, dtype=dtype or self.dtype, device=device or self._device,
                               requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        """Ones of ``size`` (ints or one tuple) with this tensor's dtype and device unless given.

        >>> gg.zeros(1, dtype=gg.float64).new_ones(2)
        tensor([1., 1.], dtype=gpugrad.float64)
        """
        return _creation.ones(*size, dtype=dtype or self.dtype, device=device or self._device,
                              requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        """An uninitialised tensor of ``size`` with this tensor's dtype and device unless given.

        >>> gg.zeros(1).new_empty(2, 3).shape
        (2, 3)
        """
        return _creation.empty(*size, dtype=dtype or self.dtype, device=device or self._device,
                               requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        """``fill_value`` in ``size`` with this tensor's dtype and device unless given.

        >>> gg.zeros(1).new_full((2,), 7)
        tensor([7., 7.])
        """
        return _creation.full(size, fill_value, dtype=dtype or self.dtype,
                              device=device or self._device, requires_grad=requires_grad)

    # ---- autograd -------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (only into the ``.grad`` of
        ``inputs``, a tensor or a sequence of them, when given).

        >>> x = gg.tensor([1.0, 2.0], requires_grad=True)
        >>> (x ** 2).sum().backward()
        >>> x.grad
        tensor([2., 4.])
        >>> y = x * 3
        >>> y.backward(gg.tensor([1.0, 0.0]))  # non-scalar: pass d(loss)/dy
        >>> x.grad  # accumulated
        tensor([5., 4.])
        >>> w = gg.tensor(2.0, requires_grad=True)
        >>> (x * w).sum().backward(inputs=[w])  # x.grad is left alone
        >>> w.grad, x.grad
        (tensor(3.), tensor([5., 4.]))
        """
        from .autograd import api
        api.backward(self, gradient, retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a handle whose ``remove()`` undoes the registration.

        >>> x = gg.tensor([1.0, 2.0], requires_grad=True)
        >>> handle = x.register_hook(lambda g: g * 10)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([20., 40.])
        >>> handle.remove()
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: tensor does not require grad")
        owner = self if self.grad_fn is None else self.grad_fn
        if owner._hooks is None:
            owner._hooks = []
        hooks = owner._hooks
        if hooks and getattr(hooks[-1], "_retains_grad", False):
            hooks.insert(len(hooks) - 1, hook)  # retain_grad sees what every hook made
        else:
            hooks.append(hook)
        return _HookHandle(hooks, hook)

    def retain_grad(self):
        """Keep ``.grad`` on a non-leaf tensor after backward: the gradient after all its
        hooks, whenever they were registered (as in PyTorch). Calling it again is a no-op.

        >>> x = gg.tensor([1.0, 2.0], requires_grad=True)
        >>> h = x * 3
        >>> h.retain_grad()
        >>> h.sum().backward()
        >>> h.grad
        tensor([1., 1.])
        """
        if self.grad_fn is None or self.retains_grad:
            return

        def keep(grad):
            self._accumulate_grad(grad, shared=True)  # the array also flows on backward
        keep._retains_grad = True
        self.register_hook(keep)
        self._retains_grad_fn = self.grad_fn

    @property
    def retains_grad(self):
        """True for a non-leaf tensor on which ``retain_grad()`` was called.

        >>> h = gg.tensor([1.0], requires_grad=True) * 2
        >>> h.retain_grad()
        >>> h.retains_grad
        True
        """
        return self.grad_fn is not None and self._retains_grad_fn is self.grad_fn

    def _accumulate_grad(self, grad, shared=False):
        """Add ``grad`` into ``.grad``. ``shared`` says the gradient's array is also held
        elsewhere (another leaf's grad, the caller's seed): ``.grad`` then gets its own copy,
        so that in-place updates of one ``.grad`` (clipping, say) stay local."""
        if state.tracer is not None:  # gg.compile records the engine's own calls only
            state.tracer.accumulated(self, grad)
        if self.grad is None:
            if isinstance(grad, Tensor) and not state.flags.grad_enabled:
                if shared or not _owns(grad._data):
                    # CuPy's copy() allocates on the current device, not the array's.
                    with grad._backend.device_context(grad._device):
                        grad = grad._like(grad._data.copy())
            self.grad = grad
        else:
            self.grad = self.grad + grad

    @property
    def data(self):
        """The values as a new tensor cut from the graph that shares this one's memory
        (PyTorch's ``.data``): in-place writes through it (``p.data.normal_(0, 0.02)``,
        ``p.data -= lr * p.grad``) change this tensor and are not recorded by autograd.
        ``p.data = t`` makes ``p`` share ``t``'s values (same shape, dtype and device). New
        code should prefer ``detach()`` and ``no_grad()``; the backend array itself is
        ``.array``.

        Unlike PyTorch, such writes count as in-place changes of ``self``: a backward that
        needs the old values raises instead of silently using the new ones, and
        DataParallel replicas see the change.

        >>> w = gg.zeros(3, requires_grad=True)
        >>> w.data.fill_(2.0)
        tensor([2., 2., 2.])
        >>> w.data.requires_grad, w
        (False, tensor([2., 2., 2.], requires_grad=True))
        """
        return self.detach()

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor to assign, not {type(value).__name__}")
        if (value.shape, value.dtype) != (self.shape, self.dtype):
            raise RuntimeError(f"data: cannot assign a {value.dtype} tensor of shape "
                               f"{value.shape} to a {self.dtype} tensor of shape {self.shape}")
        if value._device is not self._device:
            raise RuntimeError(f"data: cannot assign a tensor on {value._device} to a tensor "
                               f"on {self._device}")
        self._data = value._data

    @property
    def array(self):
        """The backend array holding the values, shared, not copied: a NumPy array on the
        CPU, a CuPy array on a GPU. Writing into it bypasses autograd.

        >>> type(gg.zeros(2).array).__name__
        'ndarray'
        """
        return self._data

    def detach(self):
        """A tensor sharing this one's data, cut from the graph.

        >>> x = gg.tensor([1.0, 2.0], requires_grad=True)
        >>> y = (x * 2).detach()
        >>> y.requires_grad, y.grad_fn is None
        (False, True)
        """
        out = Tensor._wrap(self._data, self._backend, self._device)
        out._version = self._version_counter()
        return out

    def detach_(self):
        """Cut this tensor from the graph in place; returns ``self``.

        >>> y = gg.tensor([1.0], requires_grad=True) * 2
        >>> y.detach_().requires_grad
        False
        """
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place (floating-point leaves only); returns ``self``.

        >>> w = gg.zeros(2).requires_grad_()
        >>> w.requires_grad
        True
        """
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("requires_grad_: you can only change requires_grad of leaf "
                               "tensors; use detach() for a non-leaf")
        if requires_grad and self.dtype.kind != "f":
            raise _errors.DTypeError(f"requires_grad_: only floating point tensors can "
                                     f"require gradients, got {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def _version_counter(self):
        """The (shared with views) version counter, created on first need."""
        if self._version is None:
            self._version = [0]
        return self._version

    def _bump_version(self):
        # No counter yet means no change so far and no view sharing one (a view, detach or
        # saved output makes it first): the graph saved such a tensor at version 0.
        if state.tracer is not None:  # gg.compile: was this write recorded?
            state.tracer.wrote(self)
        if self._version is None:
            self._version = [1]
        else:
            self._version[0] += 1

    def _alias(self):
        """A graph-less tensor sharing data and version counter (how outputs are saved)."""
        out = Tensor._wrap(self._data, self._backend, self._device)
        out._version = self._version_counter()
        return out

    def _relinked(self, node):
        out = self._alias()
        out.requires_grad = True
        out.grad_fn = node
        return out

    @property
    def _version_value(self):
        return 0 if self._version is None else self._version[0]

    # ---- arithmetic -----------------------------------------------------------------
    def __add__(self, other):
        if other.__class__ is Tensor and other._data.dtype is self._data.dtype:
            return _add(self, other)  # skips the lifting and promotion layer
        if isinstance(other, RowSparseGrad):
            return NotImplemented  # its __radd__ knows how to add itself to a dense tensor
        return _ew.add(self, other)

    def __radd__(self, other):
        return _ew.add(other, self)

    def __sub__(self, other):
        return _ew.sub(self, other)

    def __rsub__(self, other):
        return _ew.sub(other, self)

    def __mul__(self, other):
        if other.__class__ is Tensor and other._data.dtype is self._data.dtype:
            return _mul(self, other)  # skips the lifting and promotion layer
        return _ew.mul(self, other)

    def __rmul__(self, other):
        return _ew.mul(other, self)

    def __truediv__(self, other):
        return _ew.div(self, other)

    def __rtruediv__(self, other):
        return _ew.div(other, self)

    def __pow__(self, other):
        return _ew.pow(self, other)

    def __rpow__(self, other):
        return _ew.pow(other, self)

    def __floordiv__(self, other):
        return _ew.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ew.floor_divide(other, self)

    def __mod__(self, other):
        return _ew.remainder(self, other)

    def __rmod__(self, other):
        return _ew.remainder(other, self)

    def __matmul__(self, other):
        return _linalg.matmul(self, other)

    def __rmatmul__(self, other):
        return _linalg.matmul(other, self)

    def __neg__(self):
        return _ew.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ew.abs(self)

    def __eq__(self, other):
        if not isinstance(other, _COMPARABLE):
            return NotImplemented
        return _cmp.eq(self, other)

    def __ne__(self, other):
        if not isinstance(other, _COMPARABLE):
            return NotImplemented
        return _cmp.ne(self, other)

    def __lt__(self, other):
        if not isinstance(other, _COMPARABLE):
            return NotImplemented
        return _cmp.lt(self, other)

    def __le__(self, other):
        if not isinstance(other, _COMPARABLE):
            return NotImplemented
        return _cmp.le(self, other)

    def __gt__(self, other):
        if not isinstance(other, _COMPARABLE):
            return NotImplemented
        return _cmp.gt(self, other)

    def __ge__(self, other):
        if not isinstance(other, _COMPARABLE):
            return NotImplemented
        return _cmp.ge(self, other)

    def __invert__(self):
        return _cmp.bitwise_not(self)

    def __and__(self, other):
        return _cmp.bitwise_and(self, other)

    def __rand__(self, other):
        return _cmp.bitwise_and(other, self)

    def __or__(self, other):
        return _cmp.bitwise_or(self, other)

    def __ror__(self, other):
        return _cmp.bitwise_or(other, self)

    def __xor__(self, other):
        return _cmp.bitwise_xor(self, other)

    def __rxor__(self, other):
        return _cmp.bitwise_xor(other, self)

    def __getitem__(self, index):
        return _index.getitem(self, index)

    def __setitem__(self, index, value):
        _index.setitem(self, index, value)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    # ---- elementwise ----------------------------------------------------------------
    def add(self, other):
        """``self + other``, broadcasting; see ``gg.add``.

        >>> gg.tensor([1.0, 2.0]).add(10)
        tensor([11., 12.])
        """
        return _ew.add(self, other)

    def sub(self, other):
        """``self - other``, broadcasting; see ``gg.sub``.

        >>> gg.tensor([1.0, 2.0]).sub(gg.tensor([0.5]))
        tensor([0.5, 1.5])
        """
        return _ew.sub(self, other)

    def mul(self, other):
        """``self * other``, broadcasting; see ``gg.mul``.

        >>> gg.tensor([1.0, 2.0]).mul(3)
        tensor([3., 6.])
        """
        return _ew.mul(self, other)

    def div(self, other, *, rounding_mode=None):
        """``self / other`` (true division: integers give float32), or rounded toward zero
        or down with ``rounding_mode='trunc'``/``'floor'``; see ``gg.div``.

        >>> gg.tensor([1, 3]).div(2)
        tensor([0.5, 1.5])
        >>> gg.tensor([-7.0]).div(2, rounding_mode="floor")
        tensor([-4.])
        """
        return _ew.div(self, other, rounding_mode=rounding_mode)

    def pow(self, other):
        """``self ** other``; see ``gg.pow``.

        >>> gg.tensor([2.0, 3.0]).pow(2)
        tensor([4., 9.])
        """
        return _ew.pow(self, other)

    def floor_divide(self, other):
        """``self // other``, rounding toward minus infinity as Python does; see
        ``gg.floor_divide``.

        >>> gg.tensor([7, -7]).floor_divide(2)
        tensor([ 3, -4])
        """
        return _ew.floor_divide(self, other)

    def remainder(self, other):
        """``self % other``, with the sign of the divisor (Python's ``%``); see ``gg.remainder``.

        >>> gg.tensor([5, -5]).remainder(3)
        tensor([2, 1])
        """
        return _ew.remainder(self, other)

    def fmod(self, other):
        """C's ``fmod``: the remainder with the sign of the dividend; see ``gg.fmod``.

        >>> gg.tensor([5.0, -5.0]).fmod(3)
        tensor([ 2., -2.])
        """
        return _ew.fmod(self, other)

    def neg(self):
        """``-self``.

        >>> gg.tensor([1.0, -2.0]).neg()
        tensor([-1.,  2.])
        """
        return _ew.neg(self)

    def abs(self):
        """Absolute value (gradient 0 at 0, as in PyTorch).

        >>> gg.tensor([-1.5, 2.0]).abs()
        tensor([1.5, 2. ])
        """
        return _ew.abs(self)

    def exp(self):
        """Elementwise ``e ** x``.

        >>> gg.tensor([0.0, 1.0]).exp()
        tensor([1.      , 2.718282])
        """
        return _ew.exp(self)

    def log(self):
        """Natural logarithm.

        >>> gg.tensor([1.0, 100.0]).log().round(decimals=4)
        tensor([0.    , 4.6052])
        """
        return _ew.log(self)

    def log1p(self):
        """``log(1 + x)``, accurate for small ``x``.

        >>> gg.tensor([0.0, 1e-8], dtype=gg.float64).log1p()
        tensor([0.00000000e+00, 9.99999995e-09], dtype=gpugrad.float64)
        """
        return _ew.log1p(self)

    def sqrt(self):
        """Square root.

        >>> gg.tensor([4.0, 9.0]).sqrt()
        tensor([2., 3.])
        """
        return _ew.sqrt(self)

    def exp2(self):
        """Elementwise ``2 ** x``.

        >>> gg.tensor([0.0, 3.0]).exp2()
        tensor([1., 8.])
        """
        return _ew.exp2(self)

    def expm1(self):
        """``exp(x) - 1``, accurate for small ``x``.

        >>> gg.tensor([0.0, 1e-10], dtype=gg.float64).expm1()
        tensor([0.e+00, 1.e-10], dtype=gpugrad.float64)
        """
        return _ew.expm1(self)

    def log2(self):
        """Base-2 logarithm.

        >>> gg.tensor([1.0, 8.0]).log2()
        tensor([0., 3.])
        """
        return _ew.log2(self)

    def log10(self):
        """Base-10 logarithm.

        >>> gg.tensor([1.0, 1000.0]).log10().round(decimals=4)
        tensor([0., 3.])
        """
        return _ew.log10(self)

    def rsqrt(self):
        """``1 / sqrt(x)``.

        >>> gg.tensor([4.0, 16.0]).rsqrt()
        tensor([0.5 , 0.25])
        """
        return _ew.rsqrt(self)

    def square(self):
        """``x * x``.

        >>> gg.tensor([-3, 2]).square()
        tensor([9, 4])
        """
        return _ew.square(self)

    def reciprocal(self):
        """``1 / x`` (integers give float32).

        >>> gg.tensor([2.0, 4.0]).reciprocal()
        tensor([0.5 , 0.25])
        """
        return _ew.reciprocal(self)

    def erf(self):
        """The error function; see ``gg.erf``.

        >>> gg.tensor([0.0, 0.5]).erf().round(decimals=4)
        tensor([0.    , 0.5205])
        """
        return _ew.erf(self)

    def floor(self):
        """Round down (gradient 0).

        >>> gg.tensor([1.5, -1.5]).floor()
        tensor([ 1., -2.])
        """
        return _ew.floor(self)

    def ceil(self):
        """Round up (gradient 0).

        >>> gg.tensor([1.5, -1.5]).ceil()
        tensor([ 2., -1.])
        """
        return _ew.ceil(self)

    def round(self, decimals=0):
        """Round half to even, to ``decimals`` decimal places (gradient 0).

        >>> gg.tensor([0.5, 1.5, 2.567]).round()
        tensor([0., 2., 3.])
        >>> gg.tensor([2.567]).round(decimals=1)
        tensor([2.6])
        """
        return _ew.round(self, decimals)

    def trunc(self):
        """Round toward zero (gradient 0).

        >>> gg.tensor([1.7, -1.7]).trunc()
        tensor([ 1., -1.])
        """
        return _ew.trunc(self)

    def sin(self):
        """Sine.

        >>> gg.tensor([0.0]).sin()
        tensor([0.])
        """
        return _ew.sin(self)

    def cos(self):
        """Cosine.

        >>> gg.tensor([0.0]).cos()
        tensor([1.])
        """
        return _ew.cos(self)

    def tanh(self):
        """Hyperbolic tangent.

        >>> gg.tensor([0.0, 100.0]).tanh()
        tensor([0., 1.])
        """
        return _ew.tanh(self)

    def sigmoid(self):
        """The logistic function ``1 / (1 + exp(-x))``, stable for large ``|x|``.

        >>> gg.tensor([0.0, -1000.0, 1000.0]).sigmoid()
        tensor([0.5, 0. , 1. ])
        """
        return _ew.sigmoid(self)

    def relu(self):
        """``max(x, 0)``; the gradient at 0 is 0, as in PyTorch.

        >>> gg.tensor([-1.0, 0.0, 2.0]).relu()
        tensor([0., 0., 2.])
        """
        return _ew.relu(self)

    def sign(self):
        """-1, 0 or 1 by the sign of each element.

        >>> gg.tensor([-2.0, 0.0, 3.0]).sign()
        tensor([-1.,  0.,  1.])
        """
        return _cmp.sign(self)

    def clamp(self, min=None, max=None):
        """Limit the values to ``[min, max]`` (either may be None); the gradient passes at the
        bounds.

        >>> gg.tensor([-2.0, 0.5, 3.0]).clamp(min=0, max=1)
        tensor([0. , 0.5, 1. ])
        """
        return _ew.clamp(self, min, max)

    clip = clamp

    def maximum(self, other):
        """The elementwise larger of ``self`` and ``other`` (ties split the gradient).

        >>> gg.tensor([1.0, 5.0]).maximum(gg.tensor([3.0, 2.0]))
        tensor([3., 5.])
        """
        return _ew.maximum(self, other)

    def minimum(self, other):
        """The elementwise smaller of ``self`` and ``other`` (ties split the gradient).

        >>> gg.tensor([1.0, 5.0]).minimum(gg.tensor([3.0, 2.0]))
        tensor([1., 2.])
        """
        return _ew.minimum(self, other)

    def isfinite(self):
        """True where the value is neither infinite nor NaN.

        >>> gg.tensor([1.0, float('inf'), float('nan')]).isfinite()
        tensor([ True, False, False])
        """
        return _cmp.isfinite(self)

    def isnan(self):
        """True where the value is NaN.

        >>> gg.tensor([1.0, float('nan')]).isnan()
        tensor([False,  True])
        """
        return _cmp.isnan(self)

    def eq(self, other):
        """Elementwise ``self == other`` as a bool tensor; see ``gg.eq``.

        >>> gg.tensor([1, 2]).eq(2)
        tensor([False,  True])
        """
        return _cmp.eq(self, other)

    def ne(self, other):
        """Elementwise ``self != other`` as a bool tensor.

        >>> gg.tensor([1, 2]).ne(2)
        tensor([ True, False])
        """
        return _cmp.ne(self, other)

    def lt(self, other):
        """Elementwise ``self < other`` as a bool tensor.

        >>> gg.tensor([1, 2]).lt(2)
        tensor([ True, False])
        """
        return _cmp.lt(self, other)

    def le(self, other):
        """Elementwise ``self <= other`` as a bool tensor.

        >>> gg.tensor([1, 3]).le(2)
        tensor([ True, False])
        """
        return _cmp.le(self, other)

    def gt(self, other):
        """Elementwise ``self > other`` as a bool tensor.

        >>> gg.tensor([1, 3]).gt(2)
        tensor([False,  True])
        """
        return _cmp.gt(self, other)

    def ge(self, other):
        """Elementwise ``self >= other`` as a bool tensor.

        >>> gg.tensor([1, 2]).ge(2)
        tensor([False,  True])
        """
        return _cmp.ge(self, other)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """True (a Python bool) if every element is close to ``other``'s; see ``gg.isclose``.

        >>> gg.tensor([1.0]).allclose(gg.tensor([1.0 + 1e-7]))
        True
        """
        return _cmp.allclose(self, other, rtol, atol, equal_nan)

    def where(self, condition, y):
        """``self`` where ``condition`` holds, else ``y``: ``gg.where(condition, self, y)``.

        >>> gg.tensor([1.0, 2.0]).where(gg.tensor([True, False]), 0.0)
        tensor([1., 0.])
        """
        return _ew.where(condition, self, y)

    def lerp(self, end, weight):
        """``self + weight * (end - self)``; see ``gg.lerp``.

        >>> gg.tensor([0.0, 10.0]).lerp(gg.tensor([10.0, 20.0]), 0.25)
        tensor([ 2.5, 12.5])
        """
        return _pw.lerp(self, end, weight)

    # ---- reductions -----------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, *, dtype=None):
        """Sum of all elements, or along ``dim`` (an int or a tuple), after casting to
        ``dtype`` if given; see ``gg.sum``.

        >>> x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> x.sum()
        tensor(21.)
        >>> x.sum(dim=0)
        tensor([5., 7., 9.])
        >>> x.sum(1, keepdim=True)
        tensor([[ 6.],
                [15.]])
        >>> gg.tensor([1, 2]).sum(dtype=gg.float32)
        tensor(3.)
        """
        return _red.sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        """Mean of all elements, or along ``dim`` (of the input cast to ``dtype``, if given).

        >>> x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> x.mean()
        tensor(3.5)
        >>> x.mean(dim=1)
        tensor([2., 5.])
        >>> gg.tensor([1, 2]).mean(dtype=gg.float64)
        tensor(1.5, dtype=gpugrad.float64)
        """
        return _red.mean(self, dim, keepdim, dtype=dtype)

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        """Product of all elements, or along ``dim`` (of the input cast to ``dtype``, if
        given).

        >>> x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> x.prod()
        tensor(720.)
        >>> x.prod(dim=0)
        tensor([ 4., 10., 18.])
        """
        return _red.prod(self, dim, keepdim, dtype=dtype)

    def cumsum(self, dim, *, dtype=None):
        """Running sum along ``dim`` (of the input cast to ``dtype``, if given).

        >>> gg.tensor([1, 2, 3]).cumsum(0)
        tensor([1, 3, 6])
        """
        return _scan.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim, *, dtype=None):
        """Running product along ``dim`` (of the input cast to ``dtype``, if given).

        >>> gg.tensor([1, 2, 3]).cumprod(0)
        tensor([1, 2, 6])
        >>> gg.tensor([1, 2, 3]).cumprod(0, dtype=gg.float32)
        tensor([1., 2., 6.])
        """
        return _scan.cumprod(self, dim, dtype=dtype)

    def count_nonzero(self, dim=None):
        """The number of nonzero elements, in all or along ``dim``.

        >>> gg.tensor([[0, 1], [2, 3]]).count_nonzero()
        tensor(3)
        >>> gg.tensor([[0, 1], [2, 3]]).count_nonzero(dim=0)
        tensor([1, 2])
        """
        return _red.count_nonzero(self, dim)

    def var(self, dim=None, keepdim=False, correction=1, unbiased=None):
        """Variance with ``correction`` (1: Bessel's, unbiased; 0: population), as ``torch.var``.

        >>> gg.tensor([1.0, 2.0, 3.0, 4.0]).var()
        tensor(1.6666666)
        >>> gg.tensor([1.0, 2.0, 3.0, 4.0]).var(correction=0)
        tensor(1.25)
        """
        return _red.var(self, dim, keepdim, correction, unbiased)

    def std(self, dim=None, keepdim=False, correction=1, unbiased=None):
        """Standard deviation with ``correction``, as ``torch.std``.

        >>> gg.tensor([1.0, 3.0]).std()
        tensor(1.4142135)
        """
        return _red.std(self, dim, keepdim, correction, unbiased)

    def max(self, dim=None, keepdim=False):
        """The maximum of all elements; with ``dim``, the pair ``(values, indices)`` along it.

        >>> x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> x.max()
        tensor(6.)
        >>> values, indices = x.max(dim=1)
        >>> values, indices
        (tensor([3., 6.]), tensor([2, 2]))
        """
        return _red.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        """The minimum of all elements; with ``dim``, the pair ``(values, indices)`` along it.

        >>> x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> x.min()
        tensor(1.)
        >>> x.min(dim=0)[1]
        tensor([0, 0, 0])
        """
        return _red.min(self, dim, keepdim)

    def logsumexp(self, dim, keepdim=False):
        """``log(sum(exp(x)))`` along ``dim``, without overflow.

        >>> (gg.tensor([1000.0, 1000.0]).logsumexp(0) - 1000).round(decimals=4)
        tensor(0.6932)
        """
        return _red.logsumexp(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        """The index of the maximum, of the flattened tensor or along ``dim``.

        >>> x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> x.argmax()
        tensor(5)
        >>> x.argmax(dim=1)
        tensor([2, 2])
        """
        return _red.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        """The index of the minimum, of the flattened tensor or along ``dim``.

        >>> x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        >>> x.argmin()
        tensor(0)
        >>> x.argmin(dim=0)
        tensor([0, 0, 0])
        """
        return _red.argmin(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        """True if any element is nonzero (in all, or along ``dim``).

        >>> gg.tensor([0, 0, 1]).any()
        tensor(True)
        """
        return _red.any(self, dim, keepdim)

    def all(self, dim=None, keepdim=False):
        """True if every element is nonzero (in all, or along ``dim``).

        >>> gg.tensor([[1, 0], [1, 1]]).all(dim=1)
        tensor([False,  True])
        """
        return _red.all(self, dim, keepdim)

    def sum_to_size(self, *shape):
        """Sum broadcast dimensions away until the shape is ``shape`` (the reverse of ``expand``).

        >>> gg.ones(2, 3).sum_to_size(1, 3)
        tensor([[2., 2., 2.]])
        """
        return _red.sum_to_size(self, _shape_arg(shape))

    def norm(self, p=2, dim=None, keepdim=False, dtype=None):
        """The ``p``-norm of all elements, or along ``dim`` (computed in ``dtype`` if given).

        >>> gg.tensor([3.0, 4.0]).norm()
        tensor(5.)
        >>> gg.tensor([3.0, -4.0]).norm(p=1, dtype=gg.float64)
        tensor(7., dtype=gpugrad.float64)
        """
        return _red.norm(self, p, dim, keepdim, dtype=dtype)

    # ---- sorting and selection ------------------------------------------------------
    def sort(self, dim=-1, descending=False, stable=False):
        """The pair ``(values, indices)`` sorted along ``dim``.

        >>> gg.tensor([3.0, 1.0, 2.0]).sort()
        values_indices(values=tensor([1., 2., 3.]), indices=tensor([1, 2, 0]))
        >>> gg.tensor([3.0, 1.0, 2.0]).sort(descending=True).indices
        tensor([0, 2, 1])
        """
        return _sort.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        """The indices that sort the tensor along ``dim``.

        >>> gg.tensor([3.0, 1.0, 2.0]).argsort()
        tensor([1, 2, 0])
        """
        return _sort.argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The ``k`` largest (or smallest) values along ``dim`` and their indices.

        >>> values, indices = gg.tensor([1.0, 5.0, 3.0, 4.0]).topk(2)
        >>> values, indices
        (tensor([5., 4.]), tensor([1, 3]))
        """
        return _sort.topk(self, k, dim, largest, sorted)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct values, optionally with inverse indices and counts; see ``gg.unique``.

        >>> gg.tensor([2, 1, 2]).unique(return_counts=True)
        (tensor([1, 2]), tensor([1, 2]))
        """
        return _sort.unique(self, sorted, return_inverse, return_counts, dim)

    def nonzero(self, *, as_tuple=False):
        """The indices of the nonzero elements, one row each (or one tensor per dim with
        ``as_tuple=True``); see ``gg.nonzero``.

        >>> gg.tensor([0, 3, 0, 4]).nonzero()
        tensor([[1],
                [3]])
        """
        return _scatter.nonzero(self, as_tuple=as_tuple)

    def gather(self, dim, index):
        """Values picked along ``dim`` by ``index``: for ``dim=1``, ``out[i][j] =
        self[i][index[i][j]]``.

        >>> gg.tensor([[1, 2], [3, 4]]).gather(1, gg.tensor([[1], [0]]))
        tensor([[2],
                [3]])
        """
        return _index.gather(self, dim, index)

    def scatter_add(self, dim, index, src):
        """A copy with ``src`` added at ``index`` along ``dim`` (the reverse of ``gather``).

        >>> gg.zeros(3).scatter_add(0, gg.tensor([0, 2, 0]), gg.tensor([1.0, 2.0, 3.0]))
        tensor([4., 0., 2.])
        """
        return _index.scatter_add(self, dim, index, src)

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        """A copy with ``src`` (a tensor, or a number as ``src`` or ``value``) written at
        ``index`` along ``dim``; see ``gg.scatter``.

        >>> gg.zeros(3).scatter(0, gg.tensor([2]), 1.0)
        tensor([0., 0., 1.])
        """
        return _scatter.scatter(self, dim, index, src, value, reduce=reduce)

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
        """In place ``scatter``: write ``src`` (or ``value``) at ``index`` along ``dim``;
        returns ``self``.

        >>> gg.zeros(2, 3).scatter_(1, gg.tensor([[2], [0]]), 1.0)
        tensor([[0., 0., 1.],
                [1., 0., 0.]])
        """
        return _inplace.apply_(self, _scatter.scatter, dim, index, src, value, reduce=reduce)

    def scatter_add_(self, dim, index, src):
        """In place ``scatter_add``: add ``src`` at ``index`` along ``dim``; returns ``self``.

        >>> gg.zeros(3).scatter_add_(0, gg.tensor([0, 0, 2]), gg.tensor([1.0, 2.0, 3.0]))
        tensor([3., 0., 3.])
        """
        return _inplace.apply_(self, _index.scatter_add, dim, index, src)

    def index_add_(self, dim, index, source, *, alpha=1):
        """Add ``alpha * source`` in place at the entries ``index`` (a 1-d integer tensor)
        along ``dim``; repeated indices accumulate. Returns ``self``.

        >>> gg.zeros(2, 3).index_add_(1, gg.tensor([0, 0]), gg.ones(2, 2), alpha=2)
        tensor([[4., 0., 0.],
                [4., 0., 0.]])
        """
        return _inplace.apply_(self, _scatter.index_add, dim, index, source, alpha=alpha)

    def index_select(self, dim, index):
        """The slices at ``index`` (a 1-d integer tensor) along ``dim``.

        >>> gg.tensor([[1, 2], [3, 4], [5, 6]]).index_select(0, gg.tensor([2, 0]))
        tensor([[5, 6],
                [1, 2]])
        """
        return _index.index_select(self, dim, index)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        """The diagonal ``offset`` above the main one, of the planes ``(dim1, dim2)``. Unlike
        PyTorch's view, it is a copy.

        >>> gg.tensor([[1, 2], [3, 4]]).diagonal()
        tensor([1, 4])
        >>> gg.tensor([[1, 2], [3, 4]]).diagonal(offset=1)
        tensor([2])
        """
        return _index.diagonal(self, offset, dim1, dim2)

    def tril(self, diagonal=0):
        """The lower triangle (elements on and below diagonal ``diagonal``); the rest is 0.

        >>> gg.ones(2, 2).tril()
        tensor([[1., 0.],
                [1., 1.]])
        """
        return _ew.tril(self, diagonal)

    def triu(self, diagonal=0):
        """The upper triangle (elements on and above diagonal ``diagonal``); the rest is 0.

        >>> gg.ones(2, 2).triu()
        tensor([[1., 1.],
                [0., 1.]])
        """
        return _ew.triu(self, diagonal)

    # ---- shape ----------------------------------------------------------------------
    def reshape(self, *shape):
        """The same elements in a new shape (one dimension may be -1); ``t.reshape(2, 3)`` or
        ``t.reshape((2, 3))``.

        >>> gg.arange(6).reshape(2, -1)
        tensor([[0, 1, 2],
                [3, 4, 5]])
        """
        return _shape.reshape(self, _shape_arg(shape))

    def view(self, *shape):
        """The same memory seen with another shape, never a copy (PyTorch's rule: where the
        strides do not allow it, an error says to use ``reshape``).

        >>> gg.arange(4).view(2, 2)
        tensor([[0, 1],
                [2, 3]])
        """
        return _shape.view(self, _shape_arg(shape))

    def reshape_as(self, other):
        """``reshape`` to ``other``'s shape.

        >>> gg.arange(4).reshape_as(gg.zeros(2, 2)).shape
        (2, 2)
        """
        return _shape.reshape(self, _tensor_arg("reshape_as", other).shape)

    def unflatten(self, dim, sizes):
        """Split dim ``dim`` into the dims ``sizes`` (one may be -1).

        >>> gg.zeros(2, 6).unflatten(1, (3, -1)).shape
        (2, 3, 2)
        """
        return _views.unflatten(self, dim, sizes)

    def t(self):
        """The transpose of a matrix (0-d and 1-d tensors unchanged); see ``gg.t``.

        >>> gg.tensor([[1, 2]]).t().shape
        (2, 1)
        """
        return _views.t(self)

    def repeat(self, *sizes):
        """The tensor tiled ``sizes[i]`` times along each dim: ``t.repeat(2, 3)`` or
        ``t.repeat((2, 3))``; extra leading sizes add dims.

        >>> gg.tensor([1, 2]).repeat(2)
        tensor([1, 2, 1, 2])
        >>> gg.tensor([1, 2]).repeat(2, 1)
        tensor([[1, 2],
                [1, 2]])
        """
        return _rearr.repeat(self, _shape_arg(sizes))

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Each element (or slice along ``dim``) repeated ``repeats`` times in place; see
        ``gg.repeat_interleave``.

        >>> gg.tensor([1, 2]).repeat_interleave(2)
        tensor([1, 1, 2, 2])
        """
        return _rearr.repeat_interleave(self, repeats, dim, output_size=output_size)

    def narrow(self, dim, start, length):
        """The view of ``length`` entries from ``start`` along ``dim``.

        >>> gg.arange(5).narrow(0, 1, 3)
        tensor([1, 2, 3])
        """
        return _views.narrow(self, dim, start, length)

    def flip(self, *dims):
        """A copy reversed along ``dims``: ``t.flip(0)``, ``t.flip(0, 1)`` or ``t.flip((0, 1))``.

        >>> gg.tensor([1, 2, 3]).flip(0)
        tensor([3, 2, 1])
        """
        return _rearr.flip(self, _shape_arg(dims))

    def roll(self, shifts, dims=None):
        """The elements shifted by ``shifts`` along ``dims``, wrapping around; see
        ``gg.roll``.

        >>> gg.tensor([1, 2, 3]).roll(1)
        tensor([3, 1, 2])
        """
        return _rearr.roll(self, shifts, dims)

    def unbind(self, dim=0):
        """The slices along ``dim`` as a tuple of tensors.

        >>> gg.tensor([[1, 2], [3, 4]]).unbind()
        (tensor([1, 2]), tensor([3, 4]))
        """
        return _join.unbind(self, dim)

    def view_as(self, other):
        """``view`` with ``other``'s shape.

        >>> gg.arange(4).view_as(gg.zeros(2, 2)).shape
        (2, 2)
        """
        return _shape.view(self, _tensor_arg("view_as", other).shape)

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dimensions ``start_dim`` to ``end_dim`` into one.

        >>> gg.zeros(2, 3, 4).flatten().shape
        (24,)
        >>> gg.zeros(2, 3, 4).flatten(1).shape
        (2, 12)
        """
        return _shape.flatten(self, start_dim, end_dim)

    def transpose(self, dim0, dim1):
        """Swap dimensions ``dim0`` and ``dim1``.

        >>> gg.zeros(2, 3, 4).transpose(0, 2).shape
        (4, 3, 2)
        """
        return _shape.transpose(self, dim0, dim1)

    def permute(self, *dims):
        """Reorder the dimensions: ``t.permute(2, 0, 1)`` or ``t.permute((2, 0, 1))``.

        >>> gg.zeros(2, 3, 4).permute(2, 0, 1).shape
        (4, 2, 3)
        """
        return _shape.permute(self, _shape_arg(dims))

    @property
    def T(self):
        """All dimensions reversed (the transpose of a matrix).

        >>> gg.tensor([[1, 2, 3]]).T
        tensor([[1],
                [2],
                [3]])
        """
        return _shape.permute(self, tuple(reversed(range(self.ndim))))

    @property
    def mT(self):
        """The last two dimensions swapped (a batch of transposed matrices).

        >>> gg.zeros(5, 2, 3).mT.shape
        (5, 3, 2)
        """
        return _shape.transpose(self, -2, -1)

    def unsqueeze(self, dim):
        """Insert a dimension of size 1 at ``dim``.

        >>> gg.zeros(3).unsqueeze(0).shape
        (1, 3)
        >>> gg.zeros(3).unsqueeze(-1).shape
        (3, 1)
        """
        return _shape.unsqueeze(self, dim)

    def squeeze(self, dim=None):
        """Remove dimensions of size 1 (all, or only ``dim``).

        >>> gg.zeros(1, 3, 1).squeeze().shape
        (3,)
        >>> gg.zeros(1, 3, 1).squeeze(0).shape
        (3, 1)
        """
        return _shape.squeeze(self, dim)

    def expand(self, *shape):
        """Broadcast to a larger shape (-1 keeps a dimension); the gradient sums back.

        >>> gg.tensor([[1], [2]]).expand(2, 3)
        tensor([[1, 1, 1],
                [2, 2, 2]])
        """
        return _shape.expand(self, _shape_arg(shape))

    def expand_as(self, other):
        """Broadcast to ``other``'s shape.

        >>> gg.tensor([1, 2]).expand_as(gg.zeros(2, 2))
        tensor([[1, 2],
                [1, 2]])
        """
        return _shape.expand(self, _tensor_arg("expand_as", other).shape)

    def contiguous(self):
        """``self`` if its memory is in row-major order, else a row-major copy that stays in
        the graph, so that ``x.transpose(1, 2).contiguous().view(b, t, c)`` works as in
        PyTorch.

        >>> x = gg.zeros(2, 3)
        >>> x.contiguous() is x, x.T.contiguous().is_contiguous()
        (True, True)
        """
        if self._data.flags.c_contiguous:
            return self
        return _shape.clone(self)

    def is_contiguous(self):
        """Whether the memory is in row-major (C) order, the layout ``view`` needs least.

        >>> gg.zeros(2, 3).is_contiguous(), gg.zeros(2, 3).T.is_contiguous()
        (True, False)
        """
        return bool(self._data.flags.c_contiguous)

    def split(self, split_size_or_sections, dim=0):
        """Split into pieces of ``split_size_or_sections`` (an int, or a list of sizes) along
        ``dim``.

        >>> [p.tolist() for p in gg.arange(5).split(2)]
        [[0, 1], [2, 3], [4]]
        >>> [p.tolist() for p in gg.arange(5).split([1, 4])]
        [[0], [1, 2, 3, 4]]
        """
        return _join.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        """Split into ``chunks`` pieces of (nearly) equal size along ``dim``.

        >>> [p.tolist() for p in gg.arange(5).chunk(2)]
        [[0, 1, 2], [3, 4]]
        """
        return _join.chunk(self, chunks, dim)

    def matmul(self, other):
        """Matrix product, ``self @ other``, batched and broadcast as ``torch.matmul``; see
        ``gg.matmul``.

        >>> gg.tensor([[1.0, 2.0]]).matmul(gg.tensor([[3.0], [4.0]]))
        tensor([[11.]])
        """
        return _linalg.matmul(self, other)

    def mm(self, mat2):
        """The product of two matrices; see ``gg.mm``.

        >>> gg.eye(2).mm(gg.tensor([[1.0], [2.0]]))
        tensor([[1.],
                [2.]])
        """
        return _linalg.mm(self, mat2)

    def bmm(self, mat2):
        """Batched matrix product of 3-d tensors; see ``gg.bmm``.

        >>> gg.ones(4, 2, 3).bmm(gg.ones(4, 3, 5)).shape
        (4, 2, 5)
        """
        return _linalg.bmm(self, mat2)

    def softmax(self, dim, dtype=None):
        """Softmax along ``dim``; see ``gg.nn.functional.softmax``.

        >>> gg.tensor([0.0, 0.0]).softmax(0)
        tensor([0.5, 0.5])
        """
        return _pw.softmax(self, dim, dtype)

    def log_softmax(self, dim, dtype=None):
        """Log-softmax along ``dim``; see ``gg.nn.functional.log_softmax``.

        >>> gg.tensor([0.0, 0.0]).log_softmax(0).exp()
        tensor([0.5, 0.5])
        """
        return _pw.log_softmax(self, dim, dtype)

    def outer(self, other):
        """The outer product of two vectors.

        >>> gg.tensor([1, 2]).outer(gg.tensor([1, 10, 100]))
        tensor([[  1,  10, 100],
                [  2,  20, 200]])
        """
        return _linalg.outer(self, other)

    def clone(self):
        """A copy that stays in the graph (the gradient flows back to ``self``).

        >>> x = gg.tensor([1.0], requires_grad=True)
        >>> x.clone()
        tensor([1.], grad_fn=<CloneBackward>)
        """
        return _shape.clone(self)

    def masked_fill(self, mask, value):
        """A copy with ``value`` where the boolean ``mask`` (broadcast) is True.

        >>> gg.zeros(3).masked_fill(gg.tensor([True, False, True]), -1.0)
        tensor([-1.,  0., -1.])
        """
        return _ew.masked_fill(self, mask, value)

    # ---- in place -------------------------------------------------------------------
    def add_(self, other, alpha=1):
        """In place: ``self += alpha * other``; returns ``self``.

        >>> x = gg.ones(2)
        >>> x.add_(gg.tensor([1.0, 2.0]), alpha=10)
        tensor([11., 21.])
        """
        return _inplace.apply_(self, _ew.add, other if alpha == 1 else other * alpha)

    def sub_(self, other, alpha=1):
        """In place: ``self -= alpha * other``; returns ``self``.

        >>> x = gg.ones(2)
        >>> x.sub_(0.5)
        tensor([0.5, 0.5])
        """
        return _inplace.apply_(self, _ew.sub, other if alpha == 1 else other * alpha)

    def mul_(self, other):
        """In place: ``self *= other``; returns ``self``.

        >>> x = gg.ones(2)
        >>> x.mul_(3)
        tensor([3., 3.])
        """
        return _inplace.apply_(self, _ew.mul, other)

    def div_(self, other, *, rounding_mode=None):
        """In place: ``self /= other`` (rounded with ``rounding_mode='trunc'`` or
        ``'floor'``, which integer tensors need); returns ``self``.

        >>> x = gg.ones(2)
        >>> x.div_(4)
        tensor([0.25, 0.25])
        >>> gg.tensor([7, -7]).div_(2, rounding_mode="floor")
        tensor([ 3, -4])
        """
        return _inplace.apply_(self, _ew.div, other, rounding_mode=rounding_mode)

    def masked_fill_(self, mask, value):
        """In place ``masked_fill``: ``value`` where ``mask`` is True; returns ``self``.

        >>> gg.zeros(3).masked_fill_(gg.tensor([True, False, True]), 2.0)
        tensor([2., 0., 2.])
        """
        return _inplace.apply_(self, _ew.masked_fill, mask, value)

    def clamp_(self, min=None, max=None):
        """In place ``clamp``; returns ``self``.

        >>> x = gg.tensor([-1.0, 2.0])
        >>> x.clamp_(min=0)
        tensor([0., 2.])
        """
        return _inplace.apply_(self, _ew.clamp, min, max)

    def zero_(self):
        """Fill with zeros in place; returns ``self``.

        >>> gg.ones(2).zero_()
        tensor([0., 0.])
        """
        return _inplace.fill_(self, 0)

    def fill_(self, value):
        """Fill with ``value`` in place; returns ``self``.

        >>> gg.zeros(2).fill_(7)
        tensor([7., 7.])
        """
        return _inplace.fill_(self, value)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Fill with samples of N(mean, std^2) in place (``generator``, a ``gg.Generator``, or
        the global one); returns
        ``self``. Used as ``p.data.normal_(0, 0.02)`` in PyTorch model code.

        >>> _ = gg.manual_seed(0)
        >>> gg.zeros(2000).normal_(1.0, 0.5).std().item() > 0.45
        True
        """
        _fill_args("normal_", self, mean=mean, std=std)
        from .nn import init
        return init.normal_(self, mean, std, generator)

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        """Fill with samples of U(a, b) in place (``generator``, a ``gg.Generator``, or the
        global one); returns ``self``.

        >>> bool((gg.zeros(100).uniform_(-1, 1).abs() <= 1).all())
        True
        """
        _fill_args("uniform_", self, a=a, b=b)
        from .nn import init
        return init.uniform_(self, a, b, generator)

    def copy_(self, src):
        """Copy ``src``'s values (broadcast, cast to this dtype) into ``self``; returns ``self``.

        >>> x = gg.zeros(2, 2)
        >>> x.copy_(gg.tensor([1, 2]))
        tensor([[1., 2.],
                [1., 2.]])
        """
        return _inplace.copy_(self, src)


class _HookHandle:
    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _owns(array):
    flags = array.flags
    # CuPy's flags carry only c_contiguous, f_contiguous and owndata: its arrays are writable.
    return flags.owndata and getattr(flags, "writeable", True)


def _looks_like_device(spec):
    from .backends.device import Device
    if isinstance(spec, Device):
        return True
    return isinstance(spec, str) and (spec == "cpu" or spec.startswith("cuda"))


def _shape_arg(shape):
    """Accept both ``t.reshape(2, 3)`` and ``t.reshape((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _fill_args(name, t, **values):
    """The checks of the random in-place fills, named after the method (nn.init's own
    message names ``init``, which a user of ``t.normal_`` never called)."""
    if t.dtype.kind != "f":
        raise _errors.DTypeError(f"{name}: expected a floating point tensor, got {t.dtype}")
    for arg, v in values.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name}(): argument '{arg}' must be a number, not "
                            f"{type(v).__name__}")


def _tensor_arg(name, value, what="other"):
    """``value``, which method ``name`` reads as a Tensor (its shape, its dtype)."""
    if not isinstance(value, Tensor):
        raise _errors.not_a_tensor(name, value, what)
    return value


def _backend_of_array(data):
    from .backends.device import backend_of_array
    return backend_of_array(data)


# Tensor.type()'s names, PyTorch's legacy tensor type names.
_TYPE_NAMES = {_dtypes.float32: "FloatTensor", _dtypes.float64: "DoubleTensor",
               _dtypes.float16: "HalfTensor", _dtypes.bfloat16: "BFloat16Tensor",
               _dtypes.uint8: "ByteTensor", _dtypes.int8: "CharTensor",
               _dtypes.int16: "ShortTensor", _dtypes.int32: "IntTensor",
               _dtypes.int64: "LongTensor", _dtypes.bool_: "BoolTensor"}
# The dtypes a tensor's repr leaves out, as PyTorch's (with the default float32).
_REPR_IMPLIED = (np.dtype(np.float32), np.dtype(np.int64), np.dtype(np.bool_))

# PyTorch's comparison operators take Tensors and numbers; for anything else they return
# NotImplemented, so ``t == None`` is False and ``t < None`` is Python's TypeError.
_COMPARABLE = (Tensor, numbers.Number)

# The ops import this module for ``Tensor``; importing them last closes the cycle.
from . import creation as _creation  # noqa: E402
from .ops import compare as _cmp  # noqa: E402
from .ops import errors as _errors  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
_add, _mul = _ew.Add.apply, _ew.Mul.apply  # bound once: the operators' fast path
from .ops import indexing as _index  # noqa: E402
from .ops import inplace as _inplace  # noqa: E402
from .ops import join as _join  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import pointwise as _pw  # noqa: E402
from .ops import rearrange as _rearr  # noqa: E402
from .ops import reduction as _red  # noqa: E402
from .ops import scan as _scan  # noqa: E402
from .ops import scatter as _scatter  # noqa: E402
from .ops import views as _views  # noqa: E402
from .ops import shape as _shape  # noqa: E402
from .ops import sorting as _sort  # noqa: E402
from .sparse import RowSparseGrad  # noqa: E402

__all__ = ["Tensor", "backend_for"]


def _is_size(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
