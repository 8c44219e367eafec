"""``gpugrad-selftest`` (or ``python -m gpugrad.selftest``): check this install, per device.

CPU: every core and ``nn.functional`` op, forward and backward, against central differences
in float64, and the Numba CPU twins against their NumPy references. GPU, when
``gg.cuda.is_available()``: the same ops in float32 against the CPU's results, and each fused
kernel launcher against its CuPy reference. Prints one line per check (its error and
pass/fail) and a few timings; the exit status is 1 if any check fails.
"""
import contextlib
import statistics
import sys
import time

import numpy as np

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad.backends import device as _dev
from gpugrad.kernels import cpu as cpu_twins
from gpugrad.kernels import (cases, dropout, embedding, layernorm, optim, reference, softmax,
                             xent)


def _normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def _positive(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def _indices(high, *shape):
    return lambda rng: rng.integers(0, high, shape)


def _seeded_dropout(x):
    gg.manual_seed(3)  # the same mask on every call, as finite differences need
    return F.dropout(x, 0.3)


def _recurrent(x):
    """A 1-layer LSTM and GRU (fixed float64 weights, cast to x's dtype and device) over x."""
    outs = []
    for layer in (gg.nn.LSTM(3, 4, batch_first=True), gg.nn.GRU(3, 4, batch_first=True)):
        with gg.no_grad():
            for k, p in enumerate(layer.parameters()):
                p.copy_(gg.tensor(np.random.default_rng(k).uniform(-0.5, 0.5, p.shape)))
        outs.append(layer.to(x.device, x.dtype)(x)[0])
    return outs[0] + outs[1]


n, pos, idx = _normal, _positive, _indices
# (name, fn of tensors, inputs): float inputs are differentiated, integer ones are targets.
OPS = [
    ("add sub (broadcast)", lambda a, b: a + b - b * 2, [n(3, 4), n(4)]),
    ("mul div", lambda a, b: a * b / (b + 3), [n(3, 4), pos(3, 4)]),
    ("pow neg", lambda a, b: -(a ** b), [pos(3, 4), n(3, 4)]),
    ("exp log log1p sqrt", lambda a: a.exp() + a.log() + a.log1p() + a.sqrt(), [pos(3, 4)]),
    ("sin cos tanh sigmoid", lambda a: a.sin() + a.cos() * a.tanh() + a.sigmoid(), [n(3, 4)]),
    ("relu abs clamp", lambda a: a.relu() + a.abs() * a.clamp(-0.5, 0.5), [n(3, 4)]),
    ("maximum minimum where", lambda a, b: gg.where(a > 0, gg.maximum(a, b), gg.minimum(a, b)),
     [n(3, 4), n(3, 4)]),
    ("matmul (batched)", lambda a, b: a @ b, [n(2, 3, 4), n(4, 5)]),
    ("sum mean var std", lambda a: a.sum(0) + a.mean(0) * a.var(0) + a.std(0), [n(4, 3)]),
    ("max(dim) logsumexp norm", lambda a: a.max(1)[0] + a.logsumexp(1) + a.norm(), [n(3, 5)]),
    ("index reshape permute", lambda a: a[1:, ::2].reshape(2, 2, 3).permute(2, 0, 1), [n(3, 4, 3)]),
    ("cat stack expand", lambda a, b: gg.stack([gg.cat([a, b]), gg.cat([b, a])]).expand(
        2, 2, 6, 3), [n(3, 3), n(3, 3)]),
    ("F.relu leaky_relu gelu", lambda a: F.relu(a) + F.leaky_relu(a, 0.1) + F.gelu(a)
     + F.gelu(a, approximate="tanh"), [n(3, 4)]),
    ("F.softmax", lambda a: F.softmax(a, dim=-1), [n(4, 7)]),
    ("F.softmax (dim 0)", lambda a: F.softmax(a, dim=0), [n(4, 7)]),
    ("F.log_softmax", lambda a: F.log_softmax(a, dim=-1), [n(2, 3, 7)]),
    ("F.cross_entropy", lambda a, t: F.cross_entropy(a, t, label_smoothing=0.1),
     [n(6, 5), idx(5, 6)]),
    ("F.cross_entropy (weights)", lambda a, t: F.cross_entropy(
        a, t, gg.tensor([1.0, 2.0, 0.5, 1.0, 1.0], dtype=a.dtype, device=a.device)),
     [n(6, 5), idx(5, 6)]),
    ("F.nll_loss", lambda a, t: F.nll_loss(F.log_softmax(a, dim=1), t), [n(6, 5), idx(5, 6)]),
    ("F.mse l1 bce_with_logits", lambda a, b: F.mse_loss(a, b) + F.l1_loss(a, b)
     + F.binary_cross_entropy_with_logits(a, b.sigmoid()), [n(3, 4), n(3, 4)]),
    ("F.linear", lambda x, w, b: F.linear(x, w, b), [n(3, 4), n(5, 4), n(5)]),
    ("F.conv2d", lambda x, w: F.conv2d(x, w, padding=1, stride=2), [n(2, 2, 5, 5),
                                                                      n(3, 2, 3, 3)]),
    ("F.max_pool2d avg_pool2d", lambda x: F.max_pool2d(x, 2) + F.avg_pool2d(x, 2),
     [n(1, 2, 4, 4)]),
    ("F.pad", lambda x: F.pad(x, (1, 2)), [n(2, 3)]),
    ("F.layer_norm", lambda x, w, b: F.layer_norm(x, (6,), w, b), [n(4, 6), n(6), n(6)]),
    ("F.batch_norm", lambda x: F.batch_norm(x, None, None, training=True), [n(5, 3, 2)]),
    # No padding_idx: its row gets no gradient by definition, which differences would see.
    ("F.embedding", lambda w, i: F.embedding(i, w), [n(6, 3), idx(6, 2, 5)]),
    ("F.dropout", _seeded_dropout, [n(4, 5)]),
    # The families added since: indexing, sorting and scans, products, rearranging.
    ("gather scatter_add index_select", lambda a, i: gg.gather(a, 1, i).sum(1)
     + gg.zeros(3, 4, dtype=a.dtype, device=a.device).scatter_add(1, i, a[:, :2]).sum(1)
     + a.index_select(1, i[0]).sum(1), [n(3, 4), idx(4, 3, 2)]),
    ("sort topk cumsum cumprod prod", lambda a: a.sort(1)[0] + a.topk(5, 1)[0] + a.cumsum(1)
     + a.cumprod(1) * a.prod(1, keepdim=True), [pos(3, 5)]),
    ("einsum mm bmm dot kron", lambda a, b: gg.einsum("bij,jk->bik", a, b).sum(0)
     + gg.mm(a[0], b) + gg.bmm(a, b.expand(2, 4, 3))[1] + gg.dot(a[0, 0], a[1, 0])
     + gg.kron(b[:1, :1], b[:3, :]), [n(2, 3, 4), n(4, 3)]),
    # Every input is drawn from one seed, so b is shifted: cdist(a, a) sits on its kink.
    ("cdist trace diag addmm outer", lambda a, b: gg.cdist(a, b + 1) + gg.trace(a[:2] @ b.T)
     + gg.diag(b[:, :2]).sum() + gg.addmm(a[:, :2], a, b.T) + gg.outer(a[:, 0], b[:, 0]),
     [n(3, 4), n(2, 4)]),
    ("flip roll tile repeat_interleave", lambda a: gg.flip(a, (0,)) + gg.roll(a, 1, 1)
     + gg.tile(a[:, :2], (1, 2)) + gg.repeat_interleave(a[:, :2], 2, dim=1), [n(3, 4)]),
    ("narrow movedim unbind tril triu", lambda a: gg.narrow(a, 1, 1, 2).sum()
     + gg.movedim(a, 0, 1)[0] + sum(gg.unbind(a, 0)) + gg.tril(a).sum(0) + gg.triu(a).sum(0),
     [n(4, 4)]),
    ("masked_fill masked_select lerp", lambda a, b: a.masked_fill(a > 0.5, 0.0)
     + gg.lerp(a, b, 0.3) + gg.masked_select(b, a > 0).sum(), [n(3, 4), n(3, 4)]),
    ("F.silu elu softplus mish", lambda a: F.silu(a) + F.elu(a) + F.softplus(a) + F.mish(a)
     + F.logsigmoid(a) + F.hardtanh(a * 0.5) + F.glu(a, dim=1).repeat(1, 2), [n(3, 4)]),
    ("F.group/instance/rms_norm", lambda x, w, b: F.group_norm(x, 2, w, b)
     + F.instance_norm(x) + F.rms_norm(x, (5,)), [n(2, 4, 5), n(4), n(4)]),
    ("F.normalize pairwise cosine", lambda a, b: F.normalize(a, dim=1)
     + F.pairwise_distance(a, b + 1)[:, None] + F.cosine_similarity(a, b + 1)[:, None],
     [n(3, 4), n(3, 4)]),
    ("F.huber smooth_l1 kl_div bce", lambda a, b: F.huber_loss(a, b) + F.smooth_l1_loss(a, b)
     + F.kl_div(F.log_softmax(a, dim=1), F.softmax(b, dim=1), reduction="batchmean")
     + F.binary_cross_entropy(a.sigmoid(), b.sigmoid()), [n(3, 4), n(3, 4)]),
    ("F.margin_ranking triplet", lambda a, b, c: F.margin_ranking_loss(
        a[:, 0], b[:, 0] + 0.3, gg.tensor([1.0, -1.0, 1.0], dtype=a.dtype, device=a.device))
     + F.triplet_margin_loss(a, b + 1, c - 2), [n(3, 4), n(3, 4), n(3, 4)]),
    ("F.conv1d conv_transpose1d", lambda x, w, u: F.conv1d(x, w, padding=1, dilation=2)
     + F.conv_transpose1d(x, u, stride=2, padding=1, output_padding=1)[..., :5],
     [n(2, 2, 7), n(2, 2, 3), n(2, 2, 3)]),
    ("F.conv_transpose2d (groups)", lambda x, w: F.conv_transpose2d(x, w, stride=2, groups=2),
     [n(1, 4, 3, 3), n(4, 1, 2, 2)]),
    ("F.max/avg_pool1d adaptive pools", lambda x: F.max_pool1d(x[:, :, 0], 2, ceil_mode=True)
     .sum() + F.avg_pool1d(x[:, :, 1], 3, 1, 1).sum() + F.adaptive_avg_pool2d(x, (2, 3)).sum()
     + F.adaptive_max_pool2d(x, 2).sum(), [n(2, 3, 5, 5)]),
    ("F.interpolate shuffle pad modes", lambda x: F.interpolate(
        x, scale_factor=2, mode="bilinear", align_corners=False)[..., :4, :4]
     + F.interpolate(x, size=(4, 4), mode="nearest") + F.pixel_shuffle(
        gg.cat([x, x, x, x], 1), 2)[..., 2:6, 2:6] + F.pad(x, (1, 1, 1, 1), mode="reflect")[..., 1:5, 1:5]
     + F.pad(x, (0, 2, 0, 2), mode="replicate")[..., 2:, 2:], [n(1, 2, 4, 4)]),
    ("F.scaled_dot_product_attention", lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, is_causal=True), [n(2, 2, 4, 3), n(2, 2, 4, 3), n(2, 2, 4, 3)]),
    ("nn.LSTM GRU step math", _recurrent, [n(2, 5, 3)]),
]


class Report:
    """Prints one line per check as it runs, and counts the checks and failures."""

    def __init__(self):
        self.checks = self.failures = 0

    def section(self, title, what):
        print(f"\n{title}\n  {'check':32s} {what:>12s}  result")

    def check(self, name, compute, tol):
        """Run ``compute()`` (returns an error) and pass it when the error is <= ``tol``."""
        self.checks += 1
        try:
            error = float(compute())
            ok = error <= tol  # False for nan
            shown = f"{error:12.2e}"
        except Exception as exc:  # a crash is a failure, reported, not a traceback
            ok, shown = False, f"  {type(exc).__name__}: {exc}"[:60]
        self.failures += not ok
        print(f"  {name:32s} {shown}  {'pass' if ok else 'FAIL'}")


def _tensors(arrays, device, dtype):
    return [gg.tensor(a.astype(dtype) if a.dtype.kind == "f" else a, device=device,
                      requires_grad=a.dtype.kind == "f") for a in arrays]


def _gradient_error(fn, arrays, eps=1e-6):
    """Relative gap between (J^T v).u from backward and v.(J u) from central differences,
    for random u and v, in float64: one backward and two forward passes."""
    rng = np.random.default_rng(1)
    inputs = _tensors(arrays, "cpu", np.float64)
    out = fn(*inputs)
    v = rng.standard_normal(out.shape)
    out.backward(gg.tensor(v))
    us = [rng.standard_normal(a.shape) if a.dtype.kind == "f" else None for a in arrays]
    analytic = sum(float((t.grad.numpy() * u).sum()) for t, u in zip(inputs, us)
                   if u is not None)

    def shifted(sign):
        moved = [a if u is None else a + sign * eps * u for a, u in zip(arrays, us)]
        with gg.no_grad():
            return fn(*_tensors(moved, "cpu", np.float64)).numpy()
    numeric = float((v * (shifted(1.0) - shifted(-1.0))).sum()) / (2 * eps)
    return abs(analytic - numeric) / max(1.0, abs(numeric))


def _forward_backward(fn, arrays, device):
    """Output and input gradients (host arrays) of fn in float32 for a fixed cotangent."""
    inputs = _tensors(arrays, device, np.float32)
    out = fn(*inputs)
    v = np.linspace(-1.0, 1.0, out.numel(), dtype=np.float32).reshape(out.shape)
    out.backward(gg.tensor(v, device=device))
    return [out.cpu().numpy()] + [t.grad.cpu().numpy() for t in inputs if t.requires_grad]


def _device_error(fn, arrays):
    """Max abs difference of the GPU's results from the CPU's, relative to their scale."""
    gpu, cpu = _forward_backward(fn, arrays, "cuda"), _forward_backward(fn, arrays, "cpu")
    scale = max(1.0, max(float(np.abs(c).max(initial=0)) for c in cpu))
    return max(float(np.abs(g - c).max(initial=0)) for g, c in zip(gpu, cpu)) / scale


def _launcher_cases(xp, rows=64, cols=100):
    """(name, fused launcher call, reference call, tol) on float32 arrays of ``xp``."""
    rng = np.random.default_rng(2)

    def arr(*shape):
        return xp.asarray(rng.standard_normal(shape), dtype=xp.float32)
    x, g, t = arr(rows, cols), arr(rows, cols), xp.asarray(rng.integers(0, cols, rows))
    y, lse = reference.softmax(x), reference.softmax_xent_forward(x, t, 3, 0.1)[1]
    gamma, beta, gl = arr(cols), arr(cols), arr(rows)
    _, mean, rstd = reference.layer_norm_forward(x, gamma, beta)

    def state():  # fresh param and optimizer state for each in-place update
        return [x.copy(), g.copy(), xp.zeros_like(x), xp.zeros_like(x)]
    return [
        ("softmax_forward", lambda: softmax.softmax_forward(x), lambda: y, 1e-6),
        ("log_softmax_forward", lambda: softmax.softmax_forward(x, log=True),
         lambda: reference.softmax(x, log=True), 1e-5),
        ("softmax_backward", lambda: softmax.softmax_backward(g, y),
         lambda: reference.softmax_backward(g, y), 1e-6),
        ("softmax_xent_forward", lambda: xent.softmax_xent_forward(x, t, 3, 0.1),
         lambda: reference.softmax_xent_forward(x, t, 3, 0.1), 1e-5),
        ("softmax_xent_backward", lambda: xent.softmax_xent_backward(gl, x, t, lse, 3, 0.1),
         lambda: reference.softmax_xent_backward(gl, x, t, lse, 3, 0.1), 1e-6),
        ("layer_norm_forward", lambda: layernorm.layer_norm_forward(x, gamma, beta),
         lambda: reference.layer_norm_forward(x, gamma, beta), 1e-5),
        ("layer_norm_backward", lambda: layernorm.layer_norm_backward(g, x, gamma, mean, rstd),
         lambda: reference.layer_norm_backward(g, x, gamma, mean, rstd), 1e-4),
        ("embedding_backward", lambda: embedding.embedding_backward(g, t, cols, 0),
         lambda: reference.embedding_backward(g, t, cols, 0), 1e-5),
        ("embedding_backward_sparse", lambda: embedding.embedding_backward_sparse(g, t),
         lambda: reference.embedding_backward_sparse(g, t), 1e-5),
        ("dropout_forward", lambda: dropout.dropout_forward(x, 0.3, 5),
         lambda: reference.dropout_forward(x, 0.3, 5), 0.0),
        ("sgd_update", lambda: optim.sgd_update(*state()[:3], 0.1, 0.9, step=1),
         lambda: reference.sgd_update(*state()[:3], 0.1, 0.9, step=1), 1e-6),
        ("adamw_update", lambda: optim.adamw_update(*state(), step=3),
         lambda: reference.adam_update(*state(), step=3, weight_decay=1e-2, decoupled=True),
         1e-6),
    ]


def _max_error(got, want):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    return max(float(abs(g - w).max()) for g, w in zip(got, want))


def _timing_cases():
    """(name, setup): ``setup(device)`` makes the inputs and returns a function that runs one
    forward and backward (or optimizer step) at a medium size."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((512, 1000))
    t = rng.integers(0, 1000, 512)
    w, rows = rng.standard_normal((30000, 64)), rng.integers(0, 30000, 8192)

    def fwd_bwd(fn, *arrays):
        def setup(device):
            inputs = _tensors(list(arrays), device, np.float32)
            return lambda: fn(*inputs).sum().backward()
        return setup

    def adam(device):
        p = gg.nn.Parameter(gg.ones(1 << 20, device=device))
        p.grad = gg.ones(1 << 20, device=device)
        return gg.optim.Adam([p]).step
    return [
        ("softmax 512x1000", fwd_bwd(lambda a: F.softmax(a, dim=-1) ** 2, x)),
        ("cross_entropy 512x1000", fwd_bwd(F.cross_entropy, x, t)),
        ("layer_norm 512x1000", fwd_bwd(lambda a: F.layer_norm(a, (1000,)) ** 2, x)),
        ("embedding 8192 rows of 30000x64", fwd_bwd(lambda a, i: F.embedding(i, a) ** 2,
                                                    w, rows)),
        ("Adam step, 1M parameters", adam),
    ]


def _milliseconds(setup, device, repeats=5):
    run = setup(device)
    run()  # warm-up: compiles kernels, fills the memory pool
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        if device != "cpu":
            gg.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


@contextlib.contextmanager
def _generic_gpu_path():
    """GPU ops without the fused kernels, to time what they save."""
    saved = _dev._kernels_ready
    _dev._kernels_ready = False
    try:
        yield
    finally:
        _dev._kernels_ready = saved


def _print_timings(report, gpu):
    print("\nTimings: ms per forward+backward (or step), median of 5")
    head = f"  {'case':32s} {'cpu':>9s}"
    print(head + (f" {'cuda':>9s} {'cuda, no fused kernels':>23s}" if gpu else ""))
    for name, setup in _timing_cases():
        try:
            line = f"  {name:32s} {_milliseconds(setup, 'cpu'):9.2f}"
            if gpu:
                with _generic_gpu_path():
                    generic = _milliseconds(setup, "cuda")
                line += f" {_milliseconds(setup, 'cuda'):9.2f} {generic:23.2f}"
        except Exception as exc:  # the checks above failed too, or this is a new failure
            report.failures += 1
            line = f"  {name:32s} {type(exc).__name__}: {exc}"[:100] + "  FAIL"
        print(line)


def main():
    """Run every check, print the tables; 0 if all pass, 1 otherwise (the exit status)."""
    report = Report()
    gpu = gg.cuda.is_available()
    print(f"gpugrad {gg.__version__} selftest, numpy {np.__version__}")
    if not gpu:
        print("no GPU found (gg.cuda.is_available() is False): checking the CPU path only")
    report.section("CPU: gradients vs central differences (float64)", "rel. error")
    for name, fn, inputs in OPS:
        arrays = [make(np.random.default_rng(0)) for make in inputs]
        report.check(name, lambda: _gradient_error(fn, arrays), 1e-6)
    report.section("CPU: Numba twins vs NumPy references", "max abs err")
    rng = np.random.default_rng(4)
    grad, rows = rng.standard_normal((300, 8)), rng.integers(0, 50, 300)
    report.check("embedding_backward (twin)", lambda: _max_error(
        cpu_twins.embedding_backward(grad, rows, 50, 0),
        reference.embedding_backward(grad, rows, 50, 0)), 1e-12)
    if gpu:
        _gpu_checks(report)
    _print_timings(report, gpu)
    verdict = "PASS" if report.failures == 0 else "FAIL"
    print(f"\n{report.checks} checks, {report.failures} failed: {verdict}")
    return 0 if report.failures == 0 else 1


def _gpu_checks(report):
    import cupy
    kernels = gg.cuda.kernels_available()
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    report.section(f"GPU ({name}, fused kernels {'on' if kernels else 'OFF'}): ops vs CPU "
                   "(float32)", "rel. error")
    for op, fn, inputs in OPS:
        arrays = [make(np.random.default_rng(0)) for make in inputs]
        report.check(op, lambda: _device_error(fn, arrays), 1e-4)
    if not kernels:
        why = ("simulated devices take the generic path" if gg.cuda.is_simulated()
               else "numba-cuda is not usable; see the warning")
        print(f"\nGPU kernel launchers: skipped ({why})")
        return
    report.section("GPU: kernel launchers vs CuPy references (float32)", "max abs err")
    for op, fused, ref, tol in _launcher_cases(cupy):
        report.check(op, lambda: _max_error(fused(), ref()), tol)
    # The recurrent and attention kernels against their ops' generic CuPy code, at sizes
    # that are not multiples of the kernels' tiles.
    small = (cases.recurrent_cases(cupy, n=5, size=33),
             cases.attention_cases(cupy, heads=2, length=37, dim=16))
    for group in small:
        for op, generic, fused, tol in group:
            report.check(op, lambda: _max_error(fused(), generic()), tol)


if __name__ == "__main__":
    sys.exit(main())
