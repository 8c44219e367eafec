"""``MultiheadAttention``, step for step ``torch.nn.MultiheadAttention``'s Python path.

The parameters carry PyTorch's names and layout (one packed ``in_proj_weight`` when key and
value have the query's width, else ``q_proj_weight``/``k_proj_weight``/``v_proj_weight``;
``out_proj`` a Linear), so a torch state_dict loads unchanged. As in PyTorch, the weights
are computed explicitly (softmax of the scores) when ``need_weights``, and the output comes
from ``scaled_dot_product_attention`` otherwise; the two differ only for a query that every
key is masked from: NaN on the first path, 0 on the second, in both libraries.

PyTorch's masks here are the opposite of ``scaled_dot_product_attention``'s: a boolean
``attn_mask`` or ``key_padding_mask`` is True where attending is *not* allowed.
"""
import math
import warnings

from ... import creation
from ...autograd.grad_mode import no_grad
from ...ops.errors import ShapeError
from ...ops.join import cat
from .. import functional as F
from .. import init
from ..functional.attention import scaled_dot_product_attention
from ..parameter import Parameter
from .linear import Linear
from .module import Module


class NonDynamicallyQuantizableLinear(Linear):
    """The output projection of ``MultiheadAttention``: a ``Linear`` under PyTorch's name
    (which only keeps PyTorch's dynamic quantisation off it), so module reprs match.

    >>> import gpugrad as gg
    >>> from gpugrad.nn.modules.attention import NonDynamicallyQuantizableLinear
    >>> NonDynamicallyQuantizableLinear(2, 3)(gg.ones(1, 2)).shape
    (1, 3)
    """


class MultiheadAttention(Module):
    """Attention of ``num_heads`` heads over ``embed_dim`` features, PyTorch's layer.

    ``forward(query, key, value)`` takes (L, N, E) inputs, (N, L, E) with ``batch_first``,
    or unbatched (L, E), and returns ``(attn_output, attn_weights)``; the weights are
    averaged over heads unless ``average_attn_weights=False``, and None unless
    ``need_weights``.

    >>> import gpugrad as gg
    >>> mha = gg.nn.MultiheadAttention(8, 2, batch_first=True)
    >>> x = gg.randn(3, 5, 8)
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    ((3, 5, 8), (3, 5, 5))
    >>> [round(s, 6) for s in weights.sum(-1)[0].tolist()]
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim must be divisible by num_heads, got {embed_dim} and "
                             f"{num_heads}")
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        factory = dict(device=device, dtype=dtype)
        self._make_projections(bias, factory)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        **factory)
        if add_bias_kv:
            self.bias_k = Parameter(creation.empty(1, 1, embed_dim, **factory))
            self.bias_v = Parameter(creation.empty(1, 1, embed_dim, **factory))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _make_projections(self, bias, factory):
        """The in-projection parameters, registered in PyTorch's order (state_dict order)."""
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty(3 * e, e, **factory))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(creation.empty(e, e, **factory))
            self.k_proj_weight = Parameter(creation.empty(e, self.kdim, **factory))
            self.v_proj_weight = Parameter(creation.empty(e, self.vdim, **factory))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * e, **factory))
        else:
            self.register_parameter("in_proj_bias", None)

    def _reset_parameters(self):
        with no_grad():
            if self._qkv_same_embed_dim:
                init.xavier_uniform_(self.in_proj_weight)
            else:
                for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                    init.xavier_uniform_(w)
            if self.in_proj_bias is not None:
                init.constant_(self.in_proj_bias, 0.0)
                init.constant_(self.out_proj.bias, 0.0)
            for b in (self.bias_k, self.bias_v):
                if b is not None:
                    init.xavier_normal_(b)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        is_batched = query.ndim == 3
        key_padding_mask = canonical_mask(key_padding_mask, "key_padding_mask", query.dtype,
                                          other=attn_mask)
        attn_mask = canonical_mask(attn_mask, "attn_mask", query.dtype)
        if self.batch_first and is_batched:
            query, key, value = _swap_batch(query, key, value)
        out, weights = _attention(self, query, key, value, key_padding_mask, need_weights,
                                  attn_mask, average_attn_weights, is_causal)
        if self.batch_first and is_batched:
            out = out.transpose(1, 0)
        return out, weights


def canonical_mask(mask, name, dtype, other=None):
    """A boolean mask (True = masked out) as an additive float mask of ``dtype``: -inf where
    True, 0 elsewhere; a float mask as it is (PyTorch's ``_canonical_mask``). ``other`` is
    the mask it will be combined with: PyTorch warns when their types differ.

    >>> import gpugrad as gg
    >>> canonical_mask(gg.tensor([False, True]), "key_padding_mask", gg.float32)
    tensor([  0., -inf])
    """
    if mask is None:
        return None
    if mask.dtype.kind != "f" and mask.dtype != bool:
        raise TypeError(f"only bool and floating types of {name} are supported, got "
                        f"{mask.dtype}")
    if other is not None and other.dtype != mask.dtype:
        warnings.warn(f"Support for mismatched {name} and attn_mask is deprecated. Use same "
                      "type for both instead.", stacklevel=3)
    if mask.dtype.kind == "f":
        return mask
    zeros = creation.zeros(mask.shape, dtype=dtype, device=mask.device)
    return zeros.masked_fill(mask, -math.inf)


def _swap_batch(query, key, value):
    """(N, L, E) to (L, N, E), keeping which inputs are the same tensor (self-attention)."""
    q = query.transpose(1, 0)
    k = q if key is query else key.transpose(1, 0)
    v = k if value is key else value.transpose(1, 0)
    return q, k, v


# ---- the computation (PyTorch's F.multi_head_attention_forward) -------------------------
def _attention(mha, query, key, value, key_padding_mask, need_weights, attn_mask,
               average_attn_weights, is_causal):
    is_batched = _check_shapes(mha, query, key, value, key_padding_mask, attn_mask)
    if not is_batched:
        query, key, value = (t.unsqueeze(1) for t in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint lets scaled_dot_product_attention build the mask
    elif key_padding_mask is not None:
        is_causal = False  # the merged mask is no longer causal
    tgt_len, bsz, _ = query.shape
    q, k, v = _in_projection(mha, query, key, value)
    attn_mask = _batched_attn_mask(mha, attn_mask, tgt_len, key.shape[0], bsz)
    k, v, attn_mask, key_padding_mask = _add_bias_kv(mha, k, v, attn_mask, key_padding_mask)
    q, k, v = (_split_heads(mha, t, bsz) for t in (q, k, v))
    k, v, attn_mask, key_padding_mask = _add_zero_attn(mha, k, v, attn_mask, key_padding_mask)
    attn_mask = _merge_padding(mha, attn_mask, key_padding_mask, bsz, k.shape[1])
    dropout_p = mha.dropout if mha.training else 0.0
    if need_weights:
        out, weights = _explicit_attention(mha, q, k, v, attn_mask, dropout_p, bsz,
                                           average_attn_weights)
    else:
        out, weights = _fused_attention(mha, q, k, v, attn_mask, dropout_p, is_causal), None
    if not is_batched:
        out = out.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights


def _check_shapes(mha, query, key, value, key_padding_mask, attn_mask):
    """Is the input batched? Checks the dims PyTorch's ``_mha_shape_check`` checks."""
    if query.ndim not in (2, 3):
        raise ShapeError(f"MultiheadAttention: query should be unbatched 2D or batched 3D "
                         f"tensor but received {query.ndim}-D query tensor")
    batched = query.ndim == 3
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise ShapeError(f"MultiheadAttention: expected key and value of {query.ndim} dims "
                         f"like the query, got {key.ndim}-D and {value.ndim}-D")
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise ShapeError(f"MultiheadAttention: expected a {query.ndim - 1}-D "
                         f"key_padding_mask, got {key_padding_mask.ndim}-D")
    if attn_mask is not None and attn_mask.ndim not in (2, 3):
        raise ShapeError(f"MultiheadAttention: expected attn_mask to be None, 2-D or 3-D, "
                         f"got {attn_mask.ndim}-D")
    if query.shape[-1] != mha.embed_dim:
        raise ShapeError(f"MultiheadAttention: was expecting embedding dimension of "
                         f"{mha.embed_dim}, but got {query.shape[-1]}")
    if key.shape[:-1] != value.shape[:-1]:
        raise ShapeError(f"MultiheadAttention: key's sequence and batch dims "
                         f"{key.shape[:-1]} do not match value's {value.shape[:-1]}")
    return batched


def _in_projection(mha, query, key, value):
    """q, k, v = the three projections; one matrix product for self-attention."""
    e = mha.embed_dim
    if not mha._qkv_same_embed_dim:
        weights = (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight)
        biases = (None,) * 3 if mha.in_proj_bias is None else mha.in_proj_bias.chunk(3)
        return tuple(F.linear(x, w, b) for x, w, b in zip((query, key, value), weights, biases))
    w, b = mha.in_proj_weight, mha.in_proj_bias
    if query is key and key is value:
        return tuple(F.linear(query, w, b).chunk(3, dim=-1))
    b_q, b_kv = (None, None) if b is None else (b[:e], b[e:])
    q = F.linear(query, w[:e], b_q)
    if key is value:
        return (q,) + tuple(F.linear(key, w[e:], b_kv).chunk(2, dim=-1))
    b_k, b_v = (None, None) if b is None else b_kv.chunk(2)
    return q, F.linear(key, w[e:2 * e], b_k), F.linear(value, w[2 * e:], b_v)


def _batched_attn_mask(mha, attn_mask, tgt_len, src_len, bsz):
    """attn_mask as (1 or N * heads, L, S)."""
    if attn_mask is None:
        return None
    if attn_mask.ndim == 2:
        if attn_mask.shape != (tgt_len, src_len):
            raise ShapeError(f"MultiheadAttention: the shape of the 2D attn_mask is "
                             f"{attn_mask.shape}, but should be {(tgt_len, src_len)}.")
        return attn_mask.unsqueeze(0)
    expected = (bsz * mha.num_heads, tgt_len, src_len)
    if attn_mask.shape != expected:
        raise ShapeError(f"MultiheadAttention: the shape of the 3D attn_mask is "
                         f"{attn_mask.shape}, but should be {expected}.")
    return attn_mask


def _pad_key(mask):
    """One more key position, not masked: what a bias or zero key/value adds."""
    return None if mask is None else F.pad(mask, (0, 1))


def _add_bias_kv(mha, k, v, attn_mask, key_padding_mask):
    if mha.bias_k is None:
        return k, v, attn_mask, key_padding_mask
    bsz = k.shape[1]
    k = cat([k, mha.bias_k.expand(1, bsz, mha.embed_dim)])
    v = cat([v, mha.bias_v.expand(1, bsz, mha.embed_dim)])
    return k, v, _pad_key(attn_mask), _pad_key(key_padding_mask)


def _add_zero_attn(mha, k, v, attn_mask, key_padding_mask):
    if not mha.add_zero_attn:
        return k, v, attn_mask, key_padding_mask
    zero = creation.zeros(k.shape[0], 1, mha.head_dim, dtype=k.dtype, device=k.device)
    k, v = cat([k, zero], dim=1), cat([v, zero], dim=1)
    return k, v, _pad_key(attn_mask), _pad_key(key_padding_mask)


def _split_heads(mha, t, bsz):
    """(length, N, E) to (N * heads, length, head_dim)."""
    return t.reshape(t.shape[0], bsz * mha.num_heads, mha.head_dim).transpose(0, 1)


def _merge_padding(mha, attn_mask, key_padding_mask, bsz, src_len):
    """Add the key padding mask, per batch entry and head, to the attention mask."""
    if key_padding_mask is None:
        return attn_mask
    if key_padding_mask.shape != (bsz, src_len):
        raise ShapeError(f"MultiheadAttention: expected key_padding_mask of shape "
                         f"{(bsz, src_len)}, got {key_padding_mask.shape}")
    padding = (key_padding_mask.reshape(bsz, 1, 1, src_len)
               .expand(bsz, mha.num_heads, 1, src_len)
               .reshape(bsz * mha.num_heads, 1, src_len))
    return padding if attn_mask is None else attn_mask + padding


def _explicit_attention(mha, q, k, v, attn_mask, dropout_p, bsz, average):
    """Attention through the weights themselves, which are returned (N, [heads,] L, S)."""
    tgt_len, src_len = q.shape[1], k.shape[1]
    scores = (q * math.sqrt(1.0 / q.shape[-1])) @ k.transpose(-2, -1)
    if attn_mask is not None:
        scores = attn_mask + scores
    weights = F.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    out = _merge_heads(mha, weights @ v, tgt_len, bsz)
    weights = weights.reshape(bsz, mha.num_heads, tgt_len, src_len)
    return out, weights.mean(1) if average else weights


def _fused_attention(mha, q, k, v, attn_mask, dropout_p, is_causal):
    bsz = q.shape[0] // mha.num_heads
    if attn_mask is not None:
        if attn_mask.shape[0] == 1:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, mha.num_heads, -1, k.shape[1])
    q, k, v = (t.reshape(bsz, mha.num_heads, t.shape[1], mha.head_dim) for t in (q, k, v))
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    tgt_len = q.shape[2]
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, mha.embed_dim)
    out = F.linear(out, mha.out_proj.weight, mha.out_proj.bias)
    return out.reshape(tgt_len, bsz, mha.embed_dim)


def _merge_heads(mha, out, tgt_len, bsz):
    """(N * heads, L, head_dim) to (L, N, E), through the output projection."""
    out = out.transpose(0, 1).reshape(tgt_len * bsz, mha.embed_dim)
    out = F.linear(out, mha.out_proj.weight, mha.out_proj.bias)
    return out.reshape(tgt_len, bsz, mha.embed_dim)
