"""``Tensor``: an array on a device, plus what reverse-mode autodiff needs.

The array lives in ``.data`` (a NumPy or CuPy array); ``.grad_fn`` is the node that made it
(None for leaves); ``.grad`` collects gradients on leaves that require them. Every method
that computes something goes through an op in ``gpugrad.ops``, so it is recorded in the
graph and differentiable.
"""
import numpy as np

from .autograd.grad_mode import state
from .backends.device import CPU, backend_for, device as as_device
from .dtypes import as_dtype


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
    grad = None
    grad_fn = None
    _version = None
    _hooks = None
    _tangent = None
    _retains_grad_fn = None
    __array_priority__ = 1000  # numpy scalars and arrays defer to our reflected operators

    def __init__(self, data, requires_grad=False):
        backend, device = _backend_of_array(data)
        self.data = data
        self._backend = backend
        self._device = device
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data, backend, device):
        t = object.__new__(Tensor)
        t.data = data
        t._backend = backend
        t._device = device
        return t

    def _like(self, data):
        """A new tensor (no graph) holding ``data`` on this tensor's device."""
        return Tensor._wrap(data, self._backend, self._device)

    # ---- metadata -------------------------------------------------------------------
    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def device(self):
        return self._device

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def is_cuda(self):
        return self._device.type == "cuda"

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        return self.data.ndim

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __hash__(self):
        return id(self)

    def __repr__(self):
        body = np.array2string(self._host(), separator=", ", prefix="tensor(")
        extra = ""
        if self._device is not CPU:
            extra += f", device='{self._device}'"
        if self.dtype not in (np.float32, np.int64, np.bool_):
            extra += f", dtype={self.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn={self.grad_fn!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- conversion -----------------------------------------------------------------
    def _host(self):
        return self._backend.to_host(self.data)

    def numpy(self):
        """The values as a NumPy array (shared memory on the CPU).

        Reading values is not an autograd operation, so this works on tensors that require
        grad too. GPU tensors must be copied with ``.cpu()`` first.
        """
        if self._device is not CPU:
            raise TypeError(f"can't convert a tensor on {self._device} to NumPy; "
                            "call .cpu() first to copy it to host memory")
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): tensor with {self.data.size} elements cannot be "
                             "converted to a Python scalar")
        return self._host().reshape(()).item()

    def tolist(self):
        return self._host().tolist()

    def __array__(self, dtype=None, copy=None):
        if self._device is not CPU:
            raise TypeError(f"can't convert a tensor on {self._device} to NumPy; "
                            "call .cpu() first")
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def __dlpack__(self, **kwargs):
        return self.data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()

    @property
    def __cuda_array_interface__(self):
        if self._device is CPU:
            raise AttributeError("__cuda_array_interface__ exists only for GPU tensors")
        return self.data.__cuda_array_interface__

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"bool() of a tensor with {self.data.size} elements is "
                               "ambiguous; use .any() or .all()")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self.item())

    def to(self, device=None, dtype=None):
        """Copy to another device and/or dtype (returns ``self`` when nothing changes).

        ``t.to("cuda:1")``, ``t.to(gg.float64)`` and ``t.to("cpu", "float16")`` all work.
        """
        if device is not None and not _looks_like_device(device):
            device, dtype = None, device
        out = self
        if dtype is not None and as_dtype(dtype) != self.dtype:
            out = _shape.cast(out, as_dtype(dtype))
        if device is not None and as_device(device) is not self._device:
            out = _shape.to_device(out, as_device(device))
        return out

    def cpu(self):
        return self.to(CPU)

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def type_as(self, other):
        return self.to(dtype=other.dtype)

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    def half(self):
        return self.to(dtype=np.float16)

    def long(self):
        return self.to(dtype=np.int64)

    def int(self):
        return self.to(dtype=np.int32)

    def bool(self):
        return self.to(dtype=np.bool_)

    # ---- autograd -------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``."""
        from .autograd import api
        api.backward(self, gradient, retain_graph, create_graph)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a handle whose ``remove()`` undoes the registration."""
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
        hooks, whenever they were registered (as in PyTorch). Calling it again is a no-op."""
        if self.grad_fn is None or self.retains_grad:
            return

        def keep(grad):
            self._accumulate_grad(grad, shared=True)  # the array also flows on backward
        keep._retains_grad = True
        self.register_hook(keep)
        self._retains_grad_fn = self.grad_fn

    @property
    def retains_grad(self):
        """True for a non-leaf tensor on which ``retain_grad()`` was called."""
        return self.grad_fn is not None and self._retains_grad_fn is self.grad_fn

    def _accumulate_grad(self, grad, shared=False):
        """Add ``grad`` into ``.grad``. ``shared`` says the gradient's array is also held
        elsewhere (another leaf's grad, the caller's seed): ``.grad`` then gets its own copy,
        so that in-place updates of one ``.grad`` (clipping, say) stay local."""
        if self.grad is None:
            if isinstance(grad, Tensor) and not state.grad_enabled:
                if shared or not _owns(grad.data):
                    grad = grad._like(grad.data.copy())
            self.grad = grad
        else:
            self.grad = self.grad + grad

    def detach(self):
        """A tensor sharing this one's data, cut from the graph."""
        out = Tensor._wrap(self.data, self._backend, self._device)
        out._version = self._version_counter()
        return out

    def detach_(self):
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("requires_grad_: you can only change requires_grad of leaf "
                               "tensors; use detach() for a non-leaf")
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(f"only floating point tensors can require gradients, "
                            f"got {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def _version_counter(self):
        """The (shared with views) version counter, created on first need."""
        if self._version is None:
            self._version = [0]
        return self._version

    def _bump_version(self):
        if self._version is not None:
            self._version[0] += 1

    def _alias(self):
        """A graph-less tensor sharing data and version counter (how outputs are saved)."""
        out = Tensor._wrap(self.data, self._backend, self._device)
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
        if other.__class__ is Tensor and other.data.dtype is self.data.dtype:
            return _ew.Add.apply(self, other)  # skips the lifting and promotion layer
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
        if other.__class__ is Tensor and other.data.dtype is self.data.dtype:
            return _ew.Mul.apply(self, other)  # skips the lifting and promotion layer
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
        return _cmp.eq(self, other)

    def __ne__(self, other):
        return _cmp.ne(self, other)

    def __lt__(self, other):
        return _cmp.lt(self, other)

    def __le__(self, other):
        return _cmp.le(self, other)

    def __gt__(self, other):
        return _cmp.gt(self, other)

    def __ge__(self, other):
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
        return _ew.add(self, other)

    def sub(self, other):
        return _ew.sub(self, other)

    def mul(self, other):
        return _ew.mul(self, other)

    def div(self, other):
        return _ew.div(self, other)

    def pow(self, other):
        return _ew.pow(self, other)

    def floor_divide(self, other):
        return _ew.floor_divide(self, other)

    def remainder(self, other):
        return _ew.remainder(self, other)

    def fmod(self, other):
        return _ew.fmod(self, other)

    def neg(self):
        return _ew.neg(self)

    def abs(self):
        return _ew.abs(self)

    def exp(self):
        return _ew.exp(self)

    def log(self):
        return _ew.log(self)

    def log1p(self):
        return _ew.log1p(self)

    def sqrt(self):
        return _ew.sqrt(self)

    def exp2(self):
        return _ew.exp2(self)

    def expm1(self):
        return _ew.expm1(self)

    def log2(self):
        return _ew.log2(self)

    def log10(self):
        return _ew.log10(self)

    def rsqrt(self):
        return _ew.rsqrt(self)

    def square(self):
        return _ew.square(self)

    def reciprocal(self):
        return _ew.reciprocal(self)

    def erf(self):
        return _ew.erf(self)

    def floor(self):
        return _ew.floor(self)

    def ceil(self):
        return _ew.ceil(self)

    def round(self, decimals=0):
        return _ew.round(self, decimals)

    def trunc(self):
        return _ew.trunc(self)

    def sin(self):
        return _ew.sin(self)

    def cos(self):
        return _ew.cos(self)

    def tanh(self):
        return _ew.tanh(self)

    def sigmoid(self):
        return _ew.sigmoid(self)

    def relu(self):
        return _ew.relu(self)

    def sign(self):
        return _cmp.sign(self)

    def clamp(self, min=None, max=None):
        return _ew.clamp(self, min, max)

    clip = clamp

    def maximum(self, other):
        return _ew.maximum(self, other)

    def minimum(self, other):
        return _ew.minimum(self, other)

    def isfinite(self):
        return _cmp.isfinite(self)

    def isnan(self):
        return _cmp.isnan(self)

    # ---- reductions -----------------------------------------------------------------
    def sum(self, dim=None, keepdim=False):
        return _red.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return _red.mean(self, dim, keepdim)

    def prod(self, dim=None, keepdim=False):
        return _red.prod(self, dim, keepdim)

    def cumsum(self, dim):
        return _scan.cumsum(self, dim)

    def cumprod(self, dim):
        return _scan.cumprod(self, dim)

    def count_nonzero(self, dim=None):
        return _red.count_nonzero(self, dim)

    def var(self, dim=None, keepdim=False, correction=1, unbiased=None):
        return _red.var(self, dim, keepdim, correction, unbiased)

    def std(self, dim=None, keepdim=False, correction=1, unbiased=None):
        return _red.std(self, dim, keepdim, correction, unbiased)

    def max(self, dim=None, keepdim=False):
        return _red.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return _red.min(self, dim, keepdim)

    def logsumexp(self, dim, keepdim=False):
        return _red.logsumexp(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return _red.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _red.argmin(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return _red.any(self, dim, keepdim)

    def all(self, dim=None, keepdim=False):
        return _red.all(self, dim, keepdim)

    def sum_to_size(self, *shape):
        return _red.sum_to_size(self, _shape_arg(shape))

    def norm(self, p=2, dim=None, keepdim=False):
        return _red.norm(self, p, dim, keepdim)

    # ---- sorting and selection ------------------------------------------------------
    def sort(self, dim=-1, descending=False, stable=False):
        return _sort.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return _sort.argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return _sort.topk(self, k, dim, largest, sorted)

    def gather(self, dim, index):
        return _index.gather(self, dim, index)

    def scatter_add(self, dim, index, src):
        return _index.scatter_add(self, dim, index, src)

    def index_select(self, dim, index):
        return _index.index_select(self, dim, index)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return _index.diagonal(self, offset, dim1, dim2)

    def tril(self, diagonal=0):
        return _ew.tril(self, diagonal)

    def triu(self, diagonal=0):
        return _ew.triu(self, diagonal)

    # ---- shape ----------------------------------------------------------------------
    def reshape(self, *shape):
        return _shape.reshape(self, _shape_arg(shape))

    def view(self, *shape):
        return _shape.reshape(self, _shape_arg(shape))

    def view_as(self, other):
        return _shape.reshape(self, other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return _shape.flatten(self, start_dim, end_dim)

    def transpose(self, dim0, dim1):
        return _shape.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return _shape.permute(self, _shape_arg(dims))

    @property
    def T(self):
        return _shape.permute(self, tuple(reversed(range(self.ndim))))

    @property
    def mT(self):
        return _shape.transpose(self, -2, -1)

    def unsqueeze(self, dim):
        return _shape.unsqueeze(self, dim)

    def squeeze(self, dim=None):
        return _shape.squeeze(self, dim)

    def expand(self, *shape):
        return _shape.expand(self, _shape_arg(shape))

    def expand_as(self, other):
        return _shape.expand(self, other.shape)

    def contiguous(self):
        return self

    def split(self, split_size_or_sections, dim=0):
        return _join.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return _join.chunk(self, chunks, dim)

    def matmul(self, other):
        return _linalg.matmul(self, other)

    def outer(self, other):
        return _linalg.outer(self, other)

    def clone(self):
        return _shape.clone(self)

    def masked_fill(self, mask, value):
        return _ew.masked_fill(self, mask, value)

    # ---- in place -------------------------------------------------------------------
    def add_(self, other, alpha=1):
        return _inplace.apply_(self, _ew.add, other if alpha == 1 else other * alpha)

    def sub_(self, other, alpha=1):
        return _inplace.apply_(self, _ew.sub, other if alpha == 1 else other * alpha)

    def mul_(self, other):
        return _inplace.apply_(self, _ew.mul, other)

    def div_(self, other):
        return _inplace.apply_(self, _ew.div, other)

    def clamp_(self, min=None, max=None):
        return _inplace.apply_(self, _ew.clamp, min, max)

    def zero_(self):
        return _inplace.fill_(self, 0)

    def fill_(self, value):
        return _inplace.fill_(self, value)

    def copy_(self, src):
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


def _backend_of_array(data):
    from .backends.device import backend_of_array
    return backend_of_array(data)


# The ops import this module for ``Tensor``; importing them last closes the cycle.
from .ops import compare as _cmp  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import indexing as _index  # noqa: E402
from .ops import inplace as _inplace  # noqa: E402
from .ops import join as _join  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import reduction as _red  # noqa: E402
from .ops import scan as _scan  # noqa: E402
from .ops import shape as _shape  # noqa: E402
from .ops import sorting as _sort  # noqa: E402
from .sparse import RowSparseGrad  # noqa: E402

__all__ = ["Tensor", "backend_for"]
