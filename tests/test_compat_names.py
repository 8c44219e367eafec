"""PyTorch's names and call forms that gpugrad accepts: ``gg.load(map_location=)``,
``Module.register_full_backward_hook`` and ``load_state_dict(assign=)``, ``Embedding``'s
``max_norm``, ``EmbeddingBag``, the ``torch.func`` / ``torch.autograd.functional`` forms,
the process-group calls and the accepted-but-inert flags; each against torch where torch
has it."""
import os
import subprocess
import sys

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.distributed as dist
import gpugrad.nn.functional as F

RNG = np.random.default_rng(7)


def _torch():
    return pytest.importorskip("torch")


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


# ---- 1. load / save ----------------------------------------------------------------------
@pytest.mark.parametrize("where", ["cpu", gg.device("cpu"), {"cpu": "cpu"},
                                   lambda t, loc: t * 2])
def test_load_map_location_round_trip(tmp_path, where):
    path = os.fspath(tmp_path / "ckpt.safetensors")
    gg.save({"w": gg.tensor([1.0, 2.0]), "step": 3}, path)
    out = gg.load(path, map_location=where)
    scale = 2.0 if callable(where) else 1.0
    assert out["step"] == 3 and out["w"].tolist() == [scale, 2 * scale]
    assert out["w"].device == gg.device("cpu")


def test_load_map_location_moves_to_the_device(tmp_path, device):
    path = os.fspath(tmp_path / "ckpt.safetensors")
    gg.save({"w": gg.tensor([1.0, 2.0], device=device)}, path)
    for where in (device, {"cpu": device}, gg.device(device)):
        out = gg.load(path, map_location=where)
        assert out["w"].device == gg.device(device) and out["w"].tolist() == [1.0, 2.0]


def test_load_refuses_device_and_map_location_together(tmp_path):
    path = os.fspath(tmp_path / "ckpt.safetensors")
    gg.save({"w": gg.ones(1)}, path)
    with pytest.raises(TypeError, match="map_location"):
        gg.load(path, device="cpu", map_location="cpu")


def test_saving_a_module_says_to_save_its_state_dict(tmp_path):
    path = tmp_path / "model.safetensors"
    with pytest.raises(TypeError, match=r"state_dict\(\)"):
        gg.save(gg.nn.Linear(2, 1), path)
    assert not path.exists()


# ---- 2. module hooks and load_state_dict(assign=True) -------------------------------------
def _linear_pair(torch):
    w, b = RNG.standard_normal((3, 2)), RNG.standard_normal(3)
    t = torch.nn.Linear(2, 3).double()
    with torch.no_grad():
        t.weight.copy_(torch.tensor(w))
        t.bias.copy_(torch.tensor(b))
    g = gg.nn.Linear(2, 3).double()
    g.load_state_dict({"weight": gg.tensor(w), "bias": gg.tensor(b)})
    return t, g


@pytest.mark.parametrize("input_grad", [True, False])
def test_full_backward_hooks_match_torch(input_grad):
    torch = _torch()
    x = RNG.standard_normal((4, 2))
    results = []
    for lib, module in zip((torch, gg), _linear_pair(torch)):
        seen = []

        def hook(m, grad_input, grad_output):
            seen.append((grad_input, grad_output))
            if grad_input[0] is not None:
                return (grad_input[0] * 2,)

        module.register_full_backward_hook(hook)
        module.register_full_backward_pre_hook(lambda m, go: (go[0] * 3,))
        xx = lib.tensor(x, requires_grad=input_grad)
        (module(xx) ** 2).sum().backward()
        (grad_input,), (grad_output,) = seen[0]
        results.append([None if grad_input is None else _np(grad_input), _np(grad_output),
                        None if xx.grad is None else _np(xx.grad), _np(module.weight.grad)])
    for a, b in zip(*results):
        if a is None:
            assert b is None
        else:
            np.testing.assert_allclose(b, a, rtol=1e-12)


def test_backward_hook_handle_removes_it():
    fc = gg.nn.Linear(2, 1)
    seen = []
    handle = fc.register_full_backward_hook(lambda m, gi, go: seen.append(1))
    handle.remove()
    fc(gg.ones(1, 2, requires_grad=True)).sum().backward()
    assert seen == []


def test_load_state_dict_assign_makes_new_parameters():
    torch = _torch()
    w = RNG.standard_normal((1, 2))
    g = gg.nn.Linear(2, 1)
    g.bias.requires_grad_(False)
    old = g.weight
    keys = g.load_state_dict({"weight": gg.tensor(w), "bias": gg.zeros(1)}, assign=True)
    assert keys.missing_keys == [] and keys.unexpected_keys == []
    assert isinstance(g.weight, gg.nn.Parameter) and g.weight is not old
    assert g.weight.dtype == np.float64  # assign takes the given tensor's dtype, as torch
    assert g.weight.requires_grad and not g.bias.requires_grad
    t = torch.nn.Linear(2, 1)
    t.bias.requires_grad_(False)
    t.load_state_dict({"weight": torch.tensor(w), "bias": torch.zeros(1)}, assign=True)
    assert t.weight.dtype == torch.float64 and not t.bias.requires_grad
    np.testing.assert_array_equal(_np(g.weight), _np(t.weight))


# ---- 3. Embedding(max_norm) and EmbeddingBag ------------------------------------------------
@pytest.mark.parametrize("norm_type", [1.0, 2.0, float("inf")])
def test_embedding_max_norm_renormalises_like_torch(norm_type, device):
    torch = _torch()
    w = RNG.standard_normal((6, 3)) * 2
    x = np.array([[1, 2], [2, 5]])
    t = torch.nn.Embedding(6, 3, max_norm=1.5, norm_type=norm_type).double()
    with torch.no_grad():
        t.weight.copy_(torch.tensor(w))
    g = gg.nn.Embedding(6, 3, max_norm=1.5, norm_type=norm_type).double().to(device)
    g.load_state_dict({"weight": gg.tensor(w)})
    out_t, out_g = t(torch.tensor(x)), g(gg.tensor(x, device=device))
    np.testing.assert_allclose(_np(out_g), _np(out_t), rtol=1e-12)
    np.testing.assert_allclose(_np(g.weight), _np(t.weight), rtol=1e-12)  # rows 0, 3, 4 too
    out_t.sum().backward()
    out_g.sum().backward()
    np.testing.assert_allclose(_np(g.weight.grad), _np(t.weight.grad))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
@pytest.mark.parametrize("include_last_offset", [False, True])
def test_embedding_bag_matches_torch(mode, padding_idx, include_last_offset, device):
    torch = _torch()
    w = RNG.standard_normal((7, 3))
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 6, 0, 0])
    offsets = np.array([0, 3, 3, 7])  # bag 1 is empty
    psw = RNG.standard_normal(10) if mode == "sum" else None
    outs = []
    for lib, fn in ((torch, torch.nn.functional.embedding_bag), (gg, F.embedding_bag)):
        where = {"device": device} if lib is gg else {}
        weight = lib.tensor(w, requires_grad=True, **where)
        out = fn(lib.tensor(idx, **where), weight, lib.tensor(offsets, **where), mode=mode,
                 padding_idx=padding_idx, include_last_offset=include_last_offset,
                 per_sample_weights=None if psw is None else lib.tensor(psw, **where))
        upstream = lib.tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape),
                              **where)
        (out * upstream).sum().backward()
        outs.append((_np(out), _np(weight.grad)))
    np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-12)
    np.testing.assert_allclose(outs[1][1], outs[0][1], rtol=1e-12)


def test_embedding_bag_module_2d_input_matches_torch():
    torch = _torch()
    w = RNG.standard_normal((5, 2))
    t = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(w), mode="mean")
    g = gg.nn.EmbeddingBag.from_pretrained(gg.tensor(w), mode="mean")
    x = np.array([[0, 1, 4], [3, 3, 2]])
    np.testing.assert_allclose(_np(g(gg.tensor(x))), _np(t(torch.tensor(x))), rtol=1e-12)


def test_embedding_bag_rejects_weights_outside_sum_mode():
    with pytest.raises(NotImplementedError, match="embedding_bag"):
        F.embedding_bag(gg.tensor([[0, 1]]), gg.eye(2), mode="mean",
                        per_sample_weights=gg.ones(1, 2))


# ---- 4. torch.func / torch.autograd.functional call forms ---------------------------------
def _f(x):
    return (x ** 3).sum() + (x[0] * x[1]).sin()


def _vec(x):
    return x.exp() * x.sum()


def test_func_forms_match_torch_func(device):
    torch = _torch()
    x = RNG.standard_normal(3)
    tx, gx = torch.tensor(x), gg.tensor(x, device=device)
    pairs = [
        (torch.func.hessian(_f)(tx), gg.func.hessian(_f)(gx)),
        (torch.func.jacrev(_vec)(tx), gg.func.jacrev(_vec)(gx)),
        (torch.func.jacfwd(_vec)(tx), gg.func.jacfwd(_vec)(gx)),
        (torch.func.jacrev(lambda a, b: a * b, argnums=1)(tx, tx),
         gg.func.jacrev(lambda a, b: a * b, argnums=1)(gx, gx)),
    ]
    for expected, got in pairs:
        np.testing.assert_allclose(_np(got), _np(expected), rtol=1e-10)
    for transform in ("jacrev", "jacfwd"):
        jt, aux_t = getattr(torch.func, transform)(lambda v: (_vec(v), v.sum()), has_aux=True)(tx)
        jg, aux_g = getattr(gg.func, transform)(lambda v: (_vec(v), v.sum()), has_aux=True)(gx)
        np.testing.assert_allclose(_np(jg), _np(jt), rtol=1e-10)
        np.testing.assert_allclose(_np(aux_g), _np(aux_t))


def test_functional_call_matches_torch():
    torch = _torch()
    t, g = _linear_pair(torch)
    w, b = RNG.standard_normal((3, 2)), RNG.standard_normal(3)
    x = RNG.standard_normal((4, 2))
    out_t = torch.func.functional_call(t, {"weight": torch.tensor(w), "bias": torch.tensor(b)},
                                       (torch.tensor(x),))
    own = g.weight
    out_g = gg.func.functional_call(g, {"weight": gg.tensor(w), "bias": gg.tensor(b)},
                                    (gg.tensor(x),))
    np.testing.assert_allclose(_np(out_g), _np(out_t), rtol=1e-12)
    assert g.weight is own  # the module's own parameters are back
    grad_t = torch.func.grad(lambda p: torch.func.functional_call(t, p, torch.tensor(x)).sum())(
        {"weight": torch.tensor(w), "bias": torch.tensor(b)})
    grad_g = gg.func.grad(lambda wt: gg.func.functional_call(
        g, {"weight": wt, "bias": gg.tensor(b)}, gg.tensor(x)).sum())(gg.tensor(w))
    np.testing.assert_allclose(_np(grad_g), _np(grad_t["weight"]), rtol=1e-12)


def test_autograd_functional_matches_torch():
    torch = _torch()
    TF, GF = torch.autograd.functional, gg.autograd.functional
    x, y, v = RNG.standard_normal(3), RNG.standard_normal(3), RNG.standard_normal(3)
    tx, ty, tv = map(torch.tensor, (x, y, v))
    gx, gy, gv = map(gg.tensor, (x, y, v))

    def pair(a, b):
        return (a * b).sum() * a[0]

    cases = [
        (TF.jacobian(_vec, tx), GF.jacobian(_vec, gx)),
        (TF.jacobian(_vec, tx, strategy="forward-mode", vectorize=True),
         GF.jacobian(_vec, gx, strategy="forward-mode", vectorize=True)),
        (TF.jacobian(lambda a, b: a * b, (tx, ty))[1], GF.jacobian(lambda a, b: a * b,
                                                                   (gx, gy))[1]),
        (TF.hessian(_f, tx), GF.hessian(_f, gx)),
        (TF.hessian(pair, (tx, ty))[0][1], GF.hessian(pair, (gx, gy))[0][1]),
        (TF.vjp(_vec, tx, tv)[1], GF.vjp(_vec, gx, gv)[1]),
        (TF.jvp(_vec, tx, tv)[1], GF.jvp(_vec, gx, gv)[1]),
        (TF.hvp(_f, tx, tv)[1], GF.hvp(_f, gx, gv)[1]),
        (TF.vhp(_f, tx, tv)[1], GF.vhp(_f, gx, gv)[1]),
        (TF.vjp(_f, tx)[1], GF.vjp(_f, gx)[1]),
    ]
    for expected, got in cases:
        assert not got.requires_grad
        np.testing.assert_allclose(_np(got), _np(expected), rtol=1e-10)


def test_autograd_functional_create_graph_differentiates_again():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    _, g = gg.autograd.functional.vjp(lambda a: (a ** 3).sum(), x, create_graph=True)
    g.sum().backward()
    assert x.grad.tolist() == [6.0, 12.0]


# ---- 5. distributed: a world of one --------------------------------------------------------
def test_ddp_under_its_pytorch_path():
    from gpugrad.nn.parallel import DistributedDataParallel
    assert DistributedDataParallel is dist.DistributedDataParallel
    assert gg.nn.parallel.DataParallel is gg.parallel.DataParallel


WORLD_OF_ONE = """
import pytest, gpugrad as gg, gpugrad.distributed as dist
dist.init_process_group(backend="gloo", rank=0, world_size=1)
assert dist.is_initialized()
assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
t = gg.tensor([1.0, -2.0])
for op in dist.ReduceOp:
    assert dist.all_reduce(t, op=op) is None
dist.broadcast(t, src=0)
dist.barrier()
assert t.tolist() == [1.0, -2.0]
with pytest.raises(ValueError, match="src"):
    dist.broadcast(t, src=1)
with pytest.raises(ValueError, match="world_size"):
    dist.init_process_group(world_size=2)
dist.destroy_process_group()
assert not dist.is_initialized()
with pytest.raises(RuntimeError, match="init_process_group"):
    dist.get_rank()
print("ok")
"""


def test_process_group_calls_in_a_world_of_one():
    # In a child: MPI's initialisation installs process-wide hooks (see dist.init).
    pytest.importorskip("mpi4py")
    child = subprocess.run([sys.executable, "-c", WORLD_OF_ONE], capture_output=True,
                           text=True, timeout=120)
    assert child.returncode == 0 and "ok" in child.stdout, child.stdout + child.stderr


# ---- 6. accepted flags, CUDA helpers, ONNX --------------------------------------------------
def test_flags_are_accepted_and_read_back():
    gg.backends.cudnn.benchmark = True
    gg.backends.cudnn.deterministic = True
    gg.backends.cuda.matmul.allow_tf32 = True
    try:
        assert gg.backends.cudnn.benchmark and gg.backends.cuda.matmul.allow_tf32
    finally:
        gg.backends.cudnn.benchmark = gg.backends.cudnn.deterministic = False
        gg.backends.cuda.matmul.allow_tf32 = False
    gg.set_float32_matmul_precision("medium")
    assert gg.get_float32_matmul_precision() == "medium"
    gg.set_float32_matmul_precision("highest")
    with pytest.raises(ValueError, match="set_float32_matmul_precision"):
        gg.set_float32_matmul_precision("low")


def test_cuda_helpers_without_a_gpu():
    gg.cuda.manual_seed(1)
    gg.cuda.manual_seed_all(1)
    gg.cuda.set_device(-1)  # ignored, as in PyTorch
    if not gg.cuda.is_available():
        with pytest.raises(RuntimeError, match="current_device"):
            gg.cuda.current_device()
        with pytest.raises(RuntimeError, match="set_device"):
            gg.cuda.set_device(0)
    else:
        gg.cuda.set_device(0)
        assert gg.cuda.current_device() == 0


def test_importing_onnx_says_there_is_none():
    with pytest.raises(ImportError, match="no ONNX export"):
        import gpugrad.onnx  # noqa: F401
