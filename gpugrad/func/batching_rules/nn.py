"""Batching rules of ``gg.nn.functional`` (but the losses and dropout): softmax-like ops
shift ``dim``, normalizations and lookups act on trailing dims, and convolutions, pooling
and resampling fold the batch dims into N (or, for batched weights, into groups).

>>> import gpugrad as gg
>>> F = gg.nn.functional
>>> gg.func.vmap(lambda x: F.softmax(x, -1))(gg.zeros(2, 4)).tolist()[0]
[0.25, 0.25, 0.25, 0.25]
"""
import math

from ...tensor import Tensor
from ..batching import batch_sizes, to_physical
from ._common import bind, call, fallback, functional, is_batched, rank_of, wrap
from ._generic import dims, fold, trailing, unless


def _legacy_softmax_dim(rank):
    return 0 if rank in (0, 1, 3) else 1


def _embedding(op, fn, levels, args, kwargs):
    """A batched table (per-example weights, as under ``grad``) is indexed by the indices,
    batched or not. (With ``padding_idx`` its rows pass a tangent but no gradient, which
    no public op does; ``max_norm`` renormalizes the table in place: per example.)"""
    kw, names = bind(fn, args, kwargs)
    if not is_batched(kw["weight"]):
        return trailing(op, fn, levels, args, kwargs)
    if kw["padding_idx"] is not None or kw["max_norm"] is not None:
        return fallback(op, fn, levels, args, kwargs)
    return kw["weight"][kw["input"]]


def _affine_after(rule, channels=False):
    """A normalization: ``rule`` for unbatched weight and bias; batched ones (per-example
    parameters, as under ``grad``) scale and shift after normalizing without them, over the
    trailing dims (layer_norm, rms_norm) or along the channel dim 1 (``channels``)."""
    def affine(op, fn, levels, args, kwargs):
        kw, names = bind(fn, args, kwargs)
        w, b = kw.get("weight"), kw.get("bias")
        if not is_batched(w, b):
            return rule(op, fn, levels, args, kwargs)
        kw["weight"] = None
        if "bias" in kw:
            kw["bias"] = None
        out = getattr(functional(), op)(**kw)  # dispatched again, now with plain parameters
        shape = (-1,) + (1,) * (kw["input"].ndim - 2)
        if w is not None:
            out = out * (w.reshape(shape) if channels else w)
        if b is not None:
            out = out + (b.reshape(shape) if channels else b)
        return out
    return affine


def _updates_running_stats(kw):
    """instance_norm's statistics are per example and channel (fold into N), but running
    statistics given with ``use_input_stats`` are updated in place from the batch."""
    return kw["use_input_stats"] and (kw["running_mean"] is not None
                                      or kw["running_var"] is not None)


def _attention(op, fn, levels, args, kwargs):
    """scaled_dot_product_attention acts on the last two dims: batch dims lead."""
    kw, names = bind(fn, args, kwargs)
    rank = rank_of(kw)
    for n in ("query", "key", "value", "attn_mask"):
        if isinstance(kw.get(n), Tensor):
            kw[n] = to_physical(kw[n], levels, rank)
    return wrap(call(fn, (), kw), levels)


def _conv(core):
    """Convolutions: with unbatched weights the batch folds into N (``fold``); batched
    weights become groups: examples side by side along the channels, one group each (a
    transposed convolution's weight, (C_in, C_out / groups, ...), groups the same way)."""
    folded = fold(core)

    def rule(op, fn, levels, args, kwargs):
        kw, names = bind(fn, args, kwargs)
        if not is_batched(kw["weight"], kw.get("bias")):
            return folded(op, fn, levels, args, kwargs)
        x, w, b = kw["input"], kw["weight"], kw.get("bias")
        k = len(levels)
        sizes = batch_sizes(levels)
        count = math.prod(sizes)
        unbatched = x.ndim == core
        px = to_physical(x, levels)
        if unbatched:
            px = px.unsqueeze(k)
        px = px.reshape((count,) + px.shape[k:])  # (P, N, C, ...)
        px = px.transpose(0, 1).reshape((px.shape[1], -1) + px.shape[3:])  # (N, P*C, ...)
        pw = to_physical(w, levels)
        kw["input"] = px
        kw["weight"] = pw.reshape((-1,) + pw.shape[k + 1:])  # (P*O, C/g, ...)
        if b is not None:
            kw["bias"] = to_physical(b, levels, 1).reshape(-1)
        kw["groups"] = kw.get("groups", 1) * count
        out = call(fn, (), kw)  # (N, P*O, ...)
        out = out.reshape((out.shape[0], count, -1) + out.shape[2:]).transpose(0, 1)
        out = out.reshape(sizes + out.shape[1:])  # (batch..., N, O, ...)
        return wrap(out.squeeze(k) if unbatched else out, levels)
    return rule


_FOLD_N = fold(1)  # inputs that always have an N: it takes the batch dims
_SOFTMAX = dims("dim", none=_legacy_softmax_dim)
RULES = dict.fromkeys(("glu", "normalize", "cosine_similarity"), dims("dim"))
RULES.update({
    "softmax": _SOFTMAX, "log_softmax": _SOFTMAX,
    # reflect/replicate padding: per example; one_hot's class count: from the whole batch
    "pad": unless(lambda kw: kw["mode"] != "constant", trailing),
    "one_hot": unless(lambda kw: kw["num_classes"] < 0, trailing),
    "embedding": _embedding, "layer_norm": _affine_after(trailing),
    "rms_norm": _affine_after(trailing),
    # evaluation-mode batch norm (running statistics) is per example: fold into N; in
    # training mode each example has statistics of its own: per example
    "batch_norm": _affine_after(unless(lambda kw: kw["training"], _FOLD_N), channels=True),
    "group_norm": _affine_after(_FOLD_N, channels=True),
    "instance_norm": _affine_after(unless(_updates_running_stats, _FOLD_N), channels=True),
    "scaled_dot_product_attention": _attention,
    "conv1d": _conv(2), "conv2d": _conv(3), "conv_transpose1d": _conv(2),
    "conv_transpose2d": _conv(3), "max_pool1d": fold(2), "max_pool2d": fold(3),
    "avg_pool1d": fold(2), "avg_pool2d": fold(3), "adaptive_avg_pool1d": fold(2),
    "adaptive_avg_pool2d": fold(3), "adaptive_max_pool1d": fold(2),
    "adaptive_max_pool2d": fold(3), "pixel_shuffle": fold(3), "pixel_unshuffle": fold(3),
    "interpolate": _FOLD_N, "unfold": _FOLD_N, "fold": _FOLD_N,
})
