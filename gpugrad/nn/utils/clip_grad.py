"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_``, in place."""
import math

import numpy as np

from ...autograd.recording import traced_call
from ...sparse import RowSparseGrad
from ...tensor import Tensor


def _grads(parameters):
    """(parameter, gradient array) pairs; row-sparse gradients are coalesced first, since
    repeated rows must be summed before a norm or clamp means anything."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    pairs = []
    for p in parameters:
        if isinstance(p.grad, RowSparseGrad):
            p.grad = p.grad.coalesce()
            pairs.append((p, p.grad.values))
        elif p.grad is not None:
            pairs.append((p, p.grad._data))
    return pairs


def _device_total(xp, arrays, norm_type):
    """The joint norm of ``arrays`` (all on one device) as a host float: one sync."""
    parts = []
    for a in arrays:
        flat = xp.abs(a.reshape(-1).astype(np.float64 if a.dtype == np.float64 else np.float32))
        if flat.size == 0:
            continue
        parts.append(flat.max() if norm_type == math.inf else (flat ** norm_type).sum())
    if not parts:
        return 0.0
    stacked = xp.stack(parts).astype(np.float64)
    return float(stacked.max() if norm_type == math.inf else stacked.sum() ** (1 / norm_type))


@traced_call("clip_grad_norm_")  # gg.compile replays it whole: its norm is read on the host
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint ``norm_type``-norm is at most
    ``max_norm``: by max_norm / (total + 1e-6), only when that is below 1 (PyTorch's
    clamped coefficient). Returns the total norm before clipping as a 0-d tensor.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.zeros(2)); w.grad = gg.tensor([3.0, 4.0])
    >>> gg.nn.utils.clip_grad_norm_([w], 1.0).item(), [round(v, 3) for v in w.grad.tolist()]
    (5.0, [0.6, 0.8])
    """
    norm_type = float(norm_type)
    pairs = _grads(parameters)
    if not pairs:
        return Tensor(np.zeros((), dtype=np.float32))
    by_device = {}  # insertion-ordered: parameters may live on several devices
    for p, array in pairs:
        by_device.setdefault(p.device, (p._backend, []))[1].append(array)
    totals = []
    for device, (backend, arrays) in by_device.items():
        with backend.device_context(device):  # CuPy computes on the current device
            totals.append(_device_total(backend.xp, arrays, norm_type))
    if norm_type == math.inf:
        total = max(totals)
    else:
        total = sum(t ** norm_type for t in totals) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is non-finite ({total}), so it cannot be clipped; "
                           "pass error_if_nonfinite=False to clip anyway")
    coef = max_norm / (total + 1e-6)
    if not coef >= 1.0:  # written so that a nan norm scales by nan, as in PyTorch
        for p, array in pairs:
            with p._backend.device_context(p._device):
                array *= array.dtype.type(coef)
            _bump(p)
    first, first_array = pairs[0]
    with first._backend.device_context(first._device):
        return first._like(first._backend.xp.asarray(total, dtype=first_array.dtype))


@traced_call("clip_grad_value_")
def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element into [-clip_value, clip_value], in place.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.zeros(2)); w.grad = gg.tensor([-3.0, 0.5])
    >>> gg.nn.utils.clip_grad_value_([w], 1.0); w.grad.tolist()
    [-1.0, 0.5]
    """
    clip_value = float(clip_value)
    for p, array in _grads(parameters):
        with p._backend.device_context(p.device):
            p._backend.xp.clip(array, -clip_value, clip_value, out=array)
        _bump(p)


def _bump(param):
    if isinstance(param.grad, Tensor):
        param.grad._bump_version()
