"""Which ops autocast changes, per device type: PyTorch's autocast op reference, by op name.

``"lower"``: floating inputs run in the autocast dtype (float16 / bfloat16);
``"fp32"``: low-precision inputs run in float32; ``"promote"``: floating inputs are cast to
the widest among them (float32 beats the low dtype); ``"banned"``: raises under autocast.
float64 inputs and tensors on another device type are never cast.

The names are the ops' Python names (``public_op`` knows them), so one entry covers the
function, its ``Tensor`` method and dunder (``x @ w`` is ``matmul``) and the
``nn.functional`` variant of the same name. Names gpugrad lacks are kept, so an op added
later under PyTorch's name is covered at once.

The CPU lists are those of ``torch.autocast("cpu")`` (observed on PyTorch 2.13: on the CPU
softmax, layer_norm, exp and sum are not autocast); the CUDA lists are the documented
"CUDA Ops that can autocast to float16 / float32 / promote".

>>> POLICIES["cuda"]["softmax"], POLICIES["cpu"].get("softmax")
('fp32', None)
"""
_LOWER = ("conv1d conv2d conv3d conv_tbc conv_transpose1d conv_transpose2d conv_transpose3d "
          "convolution prelu addmm addbmm baddbmm bmm mm matmul einsum linear linalg_vecdot "
          "scaled_dot_product_attention")

_CUDA_LOWER = ("addmv addr mv chain_matmul multi_dot linalg_multi_dot lstm_cell gru_cell "
               "rnn_tanh_cell rnn_relu_cell")

_CPU_FP32 = ("avg_pool3d binary_cross_entropy grid_sample polar prod quantile nanquantile stft "
             "cdist trace cholesky cholesky_inverse cholesky_solve inverse lu_solve orgqr "
             "ormqr pinverse max_pool3d max_unpool2d max_unpool3d adaptive_avg_pool3d "
             "adaptive_max_pool3d fractional_max_pool2d fractional_max_pool3d mse_loss "
             "cosine_embedding_loss nll_loss hinge_embedding_loss poisson_nll_loss "
             "smooth_l1_loss cross_entropy l1_loss huber_loss margin_ranking_loss "
             "soft_margin_loss triplet_margin_loss multi_margin_loss ctc_loss kl_div "
             "multilabel_margin_loss binary_cross_entropy_with_logits qr svd "
             "triangular_solve geqrf")

_CUDA_FP32 = ("acos asin cosh erfinv exp expm1 log log10 log2 log1p reciprocal rsqrt sinh tan "
              "pow softplus layer_norm group_norm norm frobenius_norm nuclear_norm "
              "vector_norm matrix_norm cosine_similarity normalize poisson_nll_loss "
              "cosine_embedding_loss nll_loss hinge_embedding_loss kl_div l1_loss "
              "smooth_l1_loss huber_loss mse_loss margin_ranking_loss multilabel_margin_loss "
              "soft_margin_loss triplet_margin_loss multi_margin_loss cross_entropy "
              "binary_cross_entropy_with_logits dist pdist cdist renorm logsumexp prod "
              "softmax log_softmax softmin cumprod cumsum sum")

# cat and stack promote natively in PyTorch (gpugrad's cat does too); listing them keeps a
# float16 matmul output and a float32 tensor joinable on both device types.
_CPU_PROMOTE = "cat stack index_copy"
_CUDA_PROMOTE = ("addcdiv addcmul atan2 bilinear cross dot vdot grid_sample index_put "
                 "tensordot scatter_add cat stack")


def _table(**lists):
    table = {}
    for kind, names in lists.items():
        for name in " ".join(names).split():
            table[name] = kind
    return table


POLICIES = {
    "cpu": _table(lower=[_LOWER], fp32=[_CPU_FP32], promote=[_CPU_PROMOTE]),
    "cuda": _table(lower=[_LOWER, _CUDA_LOWER], fp32=[_CUDA_FP32], promote=[_CUDA_PROMOTE],
                   banned=["binary_cross_entropy"]),
}

#: Every op name some device type autocasts: only these ops' boundaries check the flag.
NAMES = frozenset(POLICIES["cpu"]) | frozenset(POLICIES["cuda"])
