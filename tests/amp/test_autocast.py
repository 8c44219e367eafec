"""gg.autocast against torch.autocast: output dtypes and values of every op in the policy
tables, gradients reaching float32 parameters, nesting, decorator, threads, exceptions."""
import threading
import warnings

import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")
F = gg.nn.functional
TF = torch.nn.functional

rng = np.random.default_rng(0)
INPUTS = {
    "x": rng.standard_normal((4, 6)), "w": rng.standard_normal((5, 6)),
    "b": rng.standard_normal(5), "m": rng.standard_normal((6, 6)),
    "bm": rng.standard_normal((2, 3, 4)), "bm2": rng.standard_normal((2, 4, 5)),
    "img": rng.standard_normal((2, 3, 6, 6)), "k": rng.standard_normal((4, 3, 3, 3)),
    "kt": rng.standard_normal((3, 4, 3, 3)), "seq": rng.standard_normal((2, 3, 8)),
    "k1": rng.standard_normal((4, 3, 3)), "kt1": rng.standard_normal((3, 4, 3)),
    "p": rng.uniform(0.1, 0.9, (4, 6)), "a": np.array([0.25]),
    "q": rng.standard_normal((2, 3, 5, 4)), "c": rng.standard_normal((4, 6)),
    "bw": rng.standard_normal((3, 6, 6)), "v": rng.standard_normal(6),
    "u": rng.standard_normal(6),
    "tgt": np.array([0, 5, 2, 1]), "ones": np.ones(4), "ones46": np.ones((4, 6)),
}

# name: (call on (library, functional, inputs), expected effect on cuda: lower / fp32 /
# promote / none). The CPU expectation is whatever torch.autocast("cpu") gives.
CASES = {
    "matmul": (lambda L, f, t: L.matmul(t["x"], t["m"]), "lower"),
    "matmul_dunder": (lambda L, f, t: t["x"] @ t["m"], "lower"),
    "matmul_method": (lambda L, f, t: t["x"].matmul(t["m"]), "lower"),
    "mm": (lambda L, f, t: L.mm(t["x"], t["m"]), "lower"),
    "bmm": (lambda L, f, t: L.bmm(t["bm"], t["bm2"]), "lower"),
    "addmm": (lambda L, f, t: L.addmm(t["c"], t["x"], t["m"]), "lower"),
    "linear": (lambda L, f, t: f.linear(t["x"], t["w"], t["b"]), "lower"),
    "conv1d": (lambda L, f, t: f.conv1d(t["seq"], t["k1"], padding=1), "lower"),
    "conv2d": (lambda L, f, t: f.conv2d(t["img"], t["k"], stride=2), "lower"),
    "conv_transpose1d": (lambda L, f, t: f.conv_transpose1d(t["seq"], t["kt1"]), "lower"),
    "conv_transpose2d": (lambda L, f, t: f.conv_transpose2d(t["img"], t["kt"]), "lower"),
    "prelu": (lambda L, f, t: f.prelu(t["x"], t["a"]), "lower"),
    "sdpa": (lambda L, f, t: f.scaled_dot_product_attention(t["q"], t["q"], t["q"]), "lower"),
    "einsum": (lambda L, f, t: L.einsum("ij,jk->ik", t["x"], t["m"]), "lower"),
    "dot": (lambda L, f, t: L.dot(t["v"], t["u"]), "promote"),
    "outer": (lambda L, f, t: L.outer(t["v"], t["v"]), "none"),
    "softmax": (lambda L, f, t: f.softmax(t["x"], 1), "fp32"),
    "softmax_method": (lambda L, f, t: t["x"].softmax(1), "fp32"),
    "log_softmax": (lambda L, f, t: f.log_softmax(t["x"], 1), "fp32"),
    "cross_entropy": (lambda L, f, t: f.cross_entropy(t["x"], t["tgt"]), "fp32"),
    "nll_loss": (lambda L, f, t: f.nll_loss(t["x"], t["tgt"]), "fp32"),
    "mse_loss": (lambda L, f, t: f.mse_loss(t["x"], t["p"]), "fp32"),
    "l1_loss": (lambda L, f, t: f.l1_loss(t["x"], t["p"]), "fp32"),
    "bce_with_logits": (lambda L, f, t: f.binary_cross_entropy_with_logits(t["x"], t["p"]),
                        "fp32"),
    "smooth_l1_loss": (lambda L, f, t: f.smooth_l1_loss(t["x"], t["p"]), "fp32"),
    "huber_loss": (lambda L, f, t: f.huber_loss(t["x"], t["p"]), "fp32"),
    "kl_div": (lambda L, f, t: f.kl_div(t["x"], t["p"], reduction="batchmean"), "fp32"),
    "margin_ranking_loss": (lambda L, f, t: f.margin_ranking_loss(t["x"], t["p"],
                                                                  t["ones46"]), "fp32"),
    "triplet_margin_loss": (lambda L, f, t: f.triplet_margin_loss(t["x"], t["p"], t["c"]),
                            "fp32"),
    "cosine_embedding_loss": (lambda L, f, t: f.cosine_embedding_loss(t["x"], t["p"],
                                                                      t["ones"]), "fp32"),
    "layer_norm": (lambda L, f, t: f.layer_norm(t["x"], (6,)), "fp32"),
    "group_norm": (lambda L, f, t: f.group_norm(t["img"], 3), "fp32"),
    "exp": (lambda L, f, t: L.exp(t["x"]), "fp32"),
    "log": (lambda L, f, t: L.log(t["p"]), "fp32"),
    "pow": (lambda L, f, t: L.pow(t["x"], 2), "fp32"),
    "pow_dunder": (lambda L, f, t: t["x"] ** 2, "fp32"),
    "sum": (lambda L, f, t: L.sum(t["x"]), "fp32"),
    "sum_method": (lambda L, f, t: t["x"].sum(1), "fp32"),
    "prod": (lambda L, f, t: L.prod(t["p"]), "fp32"),
    "cumsum": (lambda L, f, t: L.cumsum(t["x"], 0), "fp32"),
    "cumprod": (lambda L, f, t: L.cumprod(t["p"], 0), "fp32"),
    "norm": (lambda L, f, t: L.norm(t["x"]), "fp32"),
    "cdist": (lambda L, f, t: L.cdist(t["x"], t["c"]), "fp32"),
    "cosine_similarity": (lambda L, f, t: f.cosine_similarity(t["x"], t["c"]), "fp32"),
    "normalize": (lambda L, f, t: f.normalize(t["x"]), "fp32"),
    "rsqrt": (lambda L, f, t: L.rsqrt(t["p"]), "fp32"),
    "reciprocal": (lambda L, f, t: L.reciprocal(t["p"]), "fp32"),
    "log1p": (lambda L, f, t: L.log1p(t["p"]), "fp32"),
    "expm1": (lambda L, f, t: L.expm1(t["x"]), "fp32"),
    "softplus": (lambda L, f, t: f.softplus(t["x"]), "fp32"),
    "logsumexp": (lambda L, f, t: L.logsumexp(t["x"], 1), "fp32"),
    # Not in PyTorch's lists; gpugrad's trace sums its diagonal, and sum is a float32 op
    # on cuda, so a float16 trace comes out float32 there.
    "trace": (lambda L, f, t: L.trace(t["m"]), "fp32"),
    "cat": (lambda L, f, t: L.cat([t["x"], t["c"]]), "promote"),
    "stack": (lambda L, f, t: L.stack([t["x"], t["c"]]), "promote"),
    "relu": (lambda L, f, t: f.relu(t["x"]), "none"),
    "gelu": (lambda L, f, t: f.gelu(t["x"]), "none"),
    "tanh": (lambda L, f, t: L.tanh(t["x"]), "none"),
    "mean": (lambda L, f, t: L.mean(t["x"]), "none"),
    "add": (lambda L, f, t: t["x"] + t["c"], "none"),
}

LOW = {"float16": (gg.float16, torch.float16), "bfloat16": (gg.bfloat16, torch.bfloat16)}


def _inputs(lib, cast=None, device="cpu"):
    """The inputs as ``lib`` tensors (float32; the floating ones cast to ``cast``)."""
    out = {}
    for key, value in INPUTS.items():
        floating = value.dtype.kind == "f"
        value = value.astype(np.float32) if floating else value
        if lib == "gg":
            t = gg.tensor(value, device=device)
            out[key] = t.to(dtype=cast[0]) if cast and floating else t
        else:
            t = torch.tensor(value)
            out[key] = t.to(cast[1]) if cast and floating else t
    return out


def _close(ours, theirs, low):
    tol = 3e-2 if low == "float16" else 8e-2
    np.testing.assert_allclose(ours.to(dtype=gg.float64).numpy(),
                               theirs.detach().double().numpy(), rtol=tol, atol=tol)


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


def _check_against_torch(name, low, low_inputs):
    fn, _ = CASES[name]
    cast = LOW[low] if low_inputs else None
    with torch.autocast("cpu", dtype=LOW[low][1]):
        expected = fn(torch, TF, _inputs("torch", cast))
    with gg.autocast("cpu", dtype=LOW[low][0]):
        got = fn(gg, F, _inputs("gg", cast))
    assert _dtype_name(got) == _dtype_name(expected), (name, got.dtype, expected.dtype)
    _close(got, expected, low)


@pytest.mark.parametrize("low_inputs", [False, True], ids=["f32_inputs", "low_inputs"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_cpu_autocast_float16_matches_torch(name, low_inputs):
    _check_against_torch(name, "float16", low_inputs)


@pytest.mark.parametrize("low_inputs", [False, True], ids=["f32_inputs", "low_inputs"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_bf16_cpu_autocast_matches_torch(name, low_inputs):
    _check_against_torch(name, "bfloat16", low_inputs)


@pytest.mark.cuda
@pytest.mark.parametrize("name", sorted(CASES))
def test_cuda_autocast_follows_the_cuda_op_lists(name):
    fn, effect = CASES[name]
    for low_inputs in (False, True):
        t = _inputs("gg", LOW["float16"] if low_inputs else None, device="cuda")
        plain = fn(gg, F, t).dtype
        with gg.autocast("cuda"):
            got = fn(gg, F, t)
        expected = {"lower": gg.float16, "fp32": gg.float32, "none": plain,
                    "promote": plain}[effect]
        assert got.dtype == expected, (name, low_inputs, got.dtype, expected)
        assert got.device.type == "cuda"
    # Mixed float16/float32 inputs: promote ops go to float32.
    if effect == "promote":
        t = _inputs("gg", device="cuda")
        t["x"] = t["x"].half()
        t["v"] = t["v"].half()
        with gg.autocast("cuda"):
            assert fn(gg, F, t).dtype == gg.float32


@pytest.mark.cuda
def test_cuda_autocast_values_match_float16_math():
    x, w = gg.randn(4, 6, device="cuda"), gg.randn(5, 6, device="cuda")
    with gg.autocast("cuda"):
        y = F.linear(x, w)
        s = F.softmax(y, 1)
    np.testing.assert_array_equal(y.cpu().numpy(), F.linear(x.half(), w.half()).cpu().numpy())
    np.testing.assert_allclose(s.cpu().numpy(), F.softmax(y.float(), 1).cpu().numpy(),
                               rtol=1e-6)


@pytest.mark.cuda
def test_cuda_binary_cross_entropy_is_banned():
    p = gg.rand(4, device="cuda")
    with gg.autocast("cuda"):
        with pytest.raises(RuntimeError, match="binary_cross_entropy_with_logits"):
            F.binary_cross_entropy(p, p)
    F.binary_cross_entropy(p, p)  # fine outside


@pytest.mark.cuda
def test_autocast_touches_only_its_device_type():
    xc, xg = gg.randn(2, 3), gg.randn(2, 3, device="cuda")
    with gg.autocast("cuda"):
        assert (xc @ xc.t()).dtype == gg.float32
        assert (xg @ xg.t()).dtype == gg.float16
    with gg.autocast("cpu", dtype=gg.float16):
        assert (xg @ xg.t()).dtype == gg.float32
        assert (xc @ xc.t()).dtype == gg.float16


def test_float64_is_never_cast(device):
    x = gg.randn(3, 3, dtype=gg.float64, device=device)
    dev = gg.device(device).type
    dtype = gg.float16
    with gg.autocast(dev, dtype=dtype):
        assert (x @ x).dtype == gg.float64
        assert F.mse_loss(x, x).dtype == gg.float64
        assert F.linear(x, x).dtype == gg.float64


def test_integer_inputs_are_not_cast(device):
    dev = gg.device(device).type
    x = gg.tensor([[1, 2], [3, 4]], device=device)
    with gg.autocast(dev, dtype=gg.float16):
        assert (x @ x).dtype == gg.int64


def test_explicit_dtype_wins_for_fp32_ops(device):
    dev = gg.device(device).type
    x = gg.randn(3, 4, device=device).half()
    with gg.autocast(dev, dtype=gg.float16):
        assert F.softmax(x, 1, dtype=gg.float64).dtype == gg.float64
        assert x.sum(dtype=gg.float64).dtype == gg.float64


# ---- gradients ---------------------------------------------------------------------------
def test_gradients_reach_float32_parameters_in_float32(device):
    dev = gg.device(device).type
    model = gg.nn.Sequential(gg.nn.Linear(6, 8), gg.nn.ReLU(), gg.nn.Linear(8, 3)).to(device)
    x, y = gg.randn(5, 6, device=device), gg.tensor([0, 1, 2, 0, 1], device=device)
    with gg.autocast(dev, dtype=gg.float16):
        out = model(x)
        loss = F.cross_entropy(out, y)
    assert out.dtype == gg.float16
    assert loss.dtype == gg.float32
    loss.backward()
    for p in model.parameters():
        assert p.dtype == gg.float32 and p.grad.dtype == gg.float32
        assert p.grad.device == p.device


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_gradients_match_torch_autocast(low):
    if low == "bfloat16":
        pytest.importorskip("ml_dtypes")
    gdt, tdt = LOW[low]
    x = rng.standard_normal((8, 6)).astype(np.float32)
    w1 = rng.standard_normal((10, 6)).astype(np.float32) * 0.3
    w2 = rng.standard_normal((3, 10)).astype(np.float32) * 0.3
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    gw1, gw2 = gg.tensor(w1, requires_grad=True), gg.tensor(w2, requires_grad=True)
    tw1, tw2 = torch.tensor(w1, requires_grad=True), torch.tensor(w2, requires_grad=True)
    with gg.autocast("cpu", dtype=gdt):
        gl = F.cross_entropy(F.linear(F.relu(F.linear(gg.tensor(x), gw1)), gw2), gg.tensor(y))
    with torch.autocast("cpu", dtype=tdt):
        tl = TF.cross_entropy(TF.linear(TF.relu(TF.linear(torch.tensor(x), tw1)), tw2),
                              torch.tensor(y))
    gl.backward()
    tl.backward()
    tol = 3e-2 if low == "float16" else 8e-2
    assert gl.dtype == gg.float32 and str(tl.dtype) == "torch.float32"
    np.testing.assert_allclose(gl.item(), tl.item(), rtol=tol)
    for g, t in ((gw1, tw1), (gw2, tw2)):
        assert g.grad.dtype == gg.float32 and t.grad.dtype == torch.float32
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


def test_cast_parameter_used_twice_gets_one_gradient_sum(device):
    dev = gg.device(device).type
    w = gg.randn(4, 4, device=device, requires_grad=True)
    x = gg.randn(2, 4, device=device)
    with gg.autocast(dev, dtype=gg.float16):
        h = F.linear(F.linear(x, w), w)
    h.float().sum().backward()
    w2 = w.detach().requires_grad_()
    xh = x.half()
    wh = w2.half()
    F.linear(F.linear(xh, wh), wh).float().sum().backward()
    np.testing.assert_allclose(w.grad.cpu().numpy(), w2.grad.cpu().numpy(), rtol=1e-6)


# ---- the region's state ------------------------------------------------------------------
def test_state_nesting_and_restore():
    assert not gg.is_autocast_enabled("cpu")
    with gg.autocast("cpu", dtype=gg.float16) as region:
        assert isinstance(region, gg.autocast)
        assert gg.is_autocast_enabled("cpu") and gg.get_autocast_dtype("cpu") == gg.float16
        with gg.autocast("cpu"):  # dtype left out: the enclosing region's
            assert gg.get_autocast_dtype("cpu") == gg.float16
        with gg.autocast("cpu", enabled=False):
            assert not gg.is_autocast_enabled("cpu")
            assert (gg.ones(2, 2) @ gg.ones(2, 2)).dtype == gg.float32
        assert gg.is_autocast_enabled("cpu")
        assert (gg.ones(2, 2) @ gg.ones(2, 2)).dtype == gg.float16
    assert not gg.is_autocast_enabled("cpu")
    assert gg.get_autocast_dtype("cpu") == gg.bfloat16
    assert gg.get_autocast_dtype("cuda") == gg.float16
    assert not gg.is_autocast_enabled()  # no argument: cuda, as in PyTorch


def test_exception_restores_state():
    with pytest.raises(ZeroDivisionError):
        with gg.autocast("cpu", dtype=gg.float16):
            with gg.autocast("cpu", enabled=False):
                1 / 0
    assert not gg.is_autocast_enabled("cpu")
    assert (gg.ones(2, 2) @ gg.ones(2, 2)).dtype == gg.float32
    with gg.autocast("cpu", dtype=gg.float16):
        with pytest.raises(RuntimeError):
            gg.ones(2, 3) @ gg.ones(2, 3)  # an op that raises inside the region
        assert gg.is_autocast_enabled("cpu")
        assert (gg.ones(2, 2) @ gg.ones(2, 2)).dtype == gg.float16


def test_decorator_form():
    @gg.autocast("cpu", dtype=gg.float16)
    def forward(a, b):
        return a @ b, gg.is_autocast_enabled("cpu")
    out, on = forward(gg.ones(2, 2), gg.ones(2, 2))
    assert on and out.dtype == gg.float16
    assert not gg.is_autocast_enabled("cpu")
    assert forward.__name__ == "forward"
    with pytest.raises(TypeError, match="callable"):
        gg.autocast("cpu", dtype=gg.float16)(3)


def test_state_is_per_thread():
    seen = {}
    inside, done = threading.Event(), threading.Event()

    def other():
        inside.wait()
        seen["enabled"] = gg.is_autocast_enabled("cpu")
        seen["dtype"] = (gg.ones(2, 2) @ gg.ones(2, 2)).dtype
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with gg.autocast("cpu", dtype=gg.float16):
        inside.set()
        done.wait()
    thread.join()
    assert seen == {"enabled": False, "dtype": gg.float32}


def test_aliases_and_signatures():
    import inspect
    assert gg.amp.autocast is gg.autocast
    assert list(inspect.signature(gg.autocast).parameters) == [
        "device_type", "dtype", "enabled", "cache_enabled"]
    assert list(inspect.signature(gg.cuda.amp.autocast).parameters) == [
        "enabled", "dtype", "cache_enabled"]
    assert gg.cpu.amp.autocast().fast_dtype == gg.bfloat16
    with gg.cpu.amp.autocast(dtype=gg.float16):
        assert (gg.ones(1, 1) @ gg.ones(1, 1)).dtype == gg.float16
    assert gg.amp.is_autocast_available("cuda") and not gg.amp.is_autocast_available("xla")


def test_bad_arguments():
    with pytest.raises(ValueError, match="str"):
        gg.autocast(gg.device("cpu"))
    with pytest.raises(RuntimeError, match="device_type"):
        gg.autocast("tpu")
    with pytest.raises(RuntimeError, match="float16"):
        gg.autocast("cuda", dtype=gg.bfloat16)
    with pytest.raises(RuntimeError):
        gg.is_autocast_enabled("tpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        region = gg.autocast("cpu", dtype=gg.float64)
    assert not region._enabled and "not supported" in str(caught[0].message)
    with region:
        assert not gg.is_autocast_enabled("cpu")


def test_cuda_region_without_a_gpu_warns_and_does_nothing():
    if gg.cuda.is_available():
        pytest.skip("a GPU (or the simulator) is present")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        region = gg.autocast("cuda")
    with region:
        assert not gg.is_autocast_enabled("cuda")


def test_modules_in_a_region(device):
    """nn layers (Linear, Conv2d, LayerNorm, MultiheadAttention, LSTM) run in a region and
    backpropagate into float32 parameters."""
    dev = gg.device(device).type
    conv = gg.nn.Conv2d(3, 4, 3).to(device)
    norm = gg.nn.LayerNorm(4).to(device)
    attn = gg.nn.MultiheadAttention(4, 2, batch_first=True).to(device)
    lstm = gg.nn.LSTM(4, 5, batch_first=True).to(device)
    x = gg.randn(2, 3, 5, 5, device=device)
    with gg.autocast(dev, dtype=gg.float16):
        h = conv(x)
        assert h.dtype == gg.float16
        seq = h.flatten(2).transpose(1, 2)
        seq = norm(seq)
        out, _ = attn(seq, seq, seq)
        assert out.dtype == gg.float16
        # A region that wants the LSTM in float32 leaves autocast for it, as PyTorch's
        # docs advise (in the region it runs whole in float16 on cuda, as PyTorch's).
        with gg.autocast(dev, enabled=False):
            y, _ = lstm(out.float())
        loss = y.pow(2).mean()
    loss.backward()
    for module in (conv, norm, attn, lstm):
        for p in module.parameters():
            assert p.grad is not None and p.grad.dtype == gg.float32
            assert np.isfinite(p.grad.cpu().numpy()).all()


def test_backward_inside_the_region_runs_in_forward_dtypes(device):
    """Backward called inside a region is not autocast (on cuda its sums and exps would
    otherwise turn float16 gradients into float32 ones that the float16 matmuls refuse)."""
    dev = gg.device(device).type
    model = gg.nn.Sequential(gg.nn.Linear(6, 8), gg.nn.GELU(), gg.nn.Linear(8, 3)).to(device)
    x = gg.randn(5, 6, device=device)
    grads = []
    for inside in (True, False):
        model.zero_grad()
        with gg.autocast(dev, dtype=gg.float16):
            h = model(x)
            loss = F.log_softmax(h, 1).sum() + F.softplus(h).sum() + h.float().exp().sum()
            if inside:
                loss.backward()
        if not inside:
            loss.backward()
        grads.append([p.grad.cpu().numpy() for p in model.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


def test_data_parallel_workers_take_the_callers_region():
    model = gg.nn.Linear(4, 2)
    dp = gg.parallel.DataParallel(model, ["cpu", "cpu"])
    seen = []

    def loss_fn(m, x):
        y = m(x)
        seen.append(y.dtype)
        return y.float().mean()
    with gg.autocast("cpu", dtype=gg.float16):
        dp.forward_backward(loss_fn, gg.randn(6, 4))
    dp.forward_backward(loss_fn, gg.randn(6, 4))
    dp.close()
    assert seen == [gg.float16, gg.float16, gg.float32, gg.float32]
    assert model.weight.grad.dtype == gg.float32


@pytest.mark.cuda
def test_cuda_modules_follow_their_functions():
    nn = gg.nn
    x = gg.randn(4, 6, device="cuda").half()
    img = gg.randn(2, 4, 3, 3, device="cuda").half()
    t = gg.tensor([0, 1, 2, 3], device="cuda")
    cases = [(nn.LayerNorm(6), (x,), gg.float32), (nn.GroupNorm(2, 4), (img,), gg.float32),
             (nn.Softmax(1), (x,), gg.float32), (nn.LogSoftmax(1), (x,), gg.float32),
             (nn.CrossEntropyLoss(), (x, t), gg.float32), (nn.MSELoss(), (x, x), gg.float32),
             (nn.Softplus(), (x,), gg.float32),
             (nn.BCEWithLogitsLoss(), (x, x.float().sigmoid()), gg.float32),
             (nn.Linear(6, 3), (x.float(),), gg.float16), (nn.PReLU(), (x,), gg.float16),
             (nn.Conv1d(4, 2, 3), (gg.randn(2, 4, 5, device="cuda"),), gg.float16),
             (nn.ConvTranspose2d(4, 2, 3), (img,), gg.float16),
             (nn.Bilinear(6, 6, 2), (x, x.float()), gg.float32)]
    with gg.autocast("cuda"):
        for module, args, expected in cases:
            assert module.to("cuda")(*args).dtype == expected, type(module).__name__


def test_parameter_casts_are_cached_within_a_region(device):
    dev = gg.device(device).type
    w = gg.randn(3, 3, device=device, requires_grad=True)
    x = gg.randn(2, 3, device=device)
    with gg.autocast(dev, dtype=gg.float16):
        a, b = F.linear(x, w), F.linear(x, w)
        assert a.grad_fn.next[1] is b.grad_fn.next[1]  # one cast of w, used twice
        with gg.autocast(dev, dtype=gg.float16, cache_enabled=False):
            c = F.linear(x, w)
        assert c.grad_fn.next[1] is not a.grad_fn.next[1]
    with gg.autocast(dev, dtype=gg.float16):
        d = F.linear(x, w)
    assert d.grad_fn.next[1] is not a.grad_fn.next[1]  # the cache died with the region
    (a + b + c + d).float().sum().backward()
    expected = 4 * x.sum(0).half().float()
    np.testing.assert_allclose(w.grad.cpu().numpy(),
                               np.broadcast_to(expected.cpu().numpy(), (3, 3)), rtol=5e-3)
