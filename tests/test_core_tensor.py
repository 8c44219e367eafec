"""Tensor construction, dtypes, conversion, interop, indexing assignment and error messages."""
import numpy as np
import pytest

import gpugrad as gg


def test_tensor_dtype_rules(device):
    assert gg.tensor(1.5, device=device).dtype == gg.float32
    assert gg.tensor([1, 2], device=device).dtype == gg.int64
    assert gg.tensor([True, False], device=device).dtype == gg.bool
    assert gg.tensor(np.zeros(2, np.float64), device=device).dtype == gg.float64
    assert gg.tensor(np.zeros(2, np.int32), device=device).dtype == gg.int32
    for spec in ("float16", gg.float16, np.float16, np.dtype("float16")):
        assert gg.tensor([1.0], dtype=spec, device=device).dtype == np.float16
    with pytest.raises(TypeError, match="complex"):
        gg.tensor([1j])
    with pytest.raises(TypeError, match="unknown dtype|unsupported"):
        gg.zeros(2, dtype="floaty")


def test_scalars_keep_the_tensor_dtype(device):
    x = gg.ones(2, dtype=gg.float16, device=device)
    assert (x * 2.5).dtype == gg.float16 and (2 - x).dtype == gg.float16
    i = gg.tensor([1, 2], device=device)
    assert (i * 2).dtype == gg.int64 and (i * 0.5).dtype.kind == "f"


def test_factories(device):
    assert gg.zeros(2, 3, device=device).shape == (2, 3)
    assert gg.ones((2, 3), dtype=gg.float64, device=device).dtype == gg.float64
    assert gg.full((2,), 7, device=device).tolist() == [7, 7]
    assert gg.arange(5, device=device).tolist() == [0, 1, 2, 3, 4]
    assert gg.arange(0, 1, 0.5, device=device).dtype == gg.float32
    assert gg.linspace(0, 1, 3, device=device).tolist() == [0.0, 0.5, 1.0]
    assert gg.eye(2, device=device).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert gg.empty(3, device=device).shape == (3,)
    x = gg.randn(4, 5, dtype=gg.float64, device=device)
    assert gg.zeros_like(x).dtype == gg.float64 and gg.ones_like(x).shape == (4, 5)
    r = gg.randint(0, 3, (100,), device=device)
    assert r.dtype == gg.int64 and set(r.tolist()) <= {0, 1, 2}
    u = gg.rand(1000, device=device).cpu().numpy()
    assert 0 <= u.min() and u.max() < 1
    assert gg.randn(2, dtype=gg.float16, device=device).dtype == gg.float16


def test_manual_seed_reproduces(device):
    gg.manual_seed(123)
    a = gg.randn(5, device=device).tolist()
    gg.manual_seed(123)
    assert gg.randn(5, device=device).tolist() == a


def test_rng_state_round_trip():
    state = gg.get_rng_state()
    a = gg.rand(3).tolist()
    gg.set_rng_state(state)
    assert gg.rand(3).tolist() == a


def test_from_numpy_shares_memory_and_numpy_reads_values():
    arr = np.arange(3.0)
    t = gg.from_numpy(arr)
    arr[0] = 10
    assert t.tolist() == [10.0, 1.0, 2.0]
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    assert np.array_equal(w.numpy(), [1.0, 2.0])  # allowed, unlike PyTorch
    assert np.asarray(w).tolist() == [1.0, 2.0]
    with pytest.raises(TypeError):
        gg.from_numpy([1, 2])


def test_metadata_and_repr():
    x = gg.zeros(2, 3, requires_grad=True)
    assert x.ndim == 2 and x.size() == (2, 3) and x.size(1) == 3 and len(x) == 2
    assert x.numel() == 6 and x.is_leaf and x.device == gg.device("cpu")
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<MulBackward>" in repr(x * 2)
    assert repr(gg.tensor([1.0, 2.0], dtype=gg.float64)).endswith("dtype=gpugrad.float64)")
    assert gg.tensor(3.5).item() == 3.5 and gg.tensor([[1, 2]]).tolist() == [[1, 2]]
    with pytest.raises(ValueError, match="item"):
        gg.ones(2).item()
    with pytest.raises(TypeError, match="0-d"):
        len(gg.tensor(1.0))


def test_to_and_casts():
    x = gg.tensor([1.5, 2.5])
    assert x.to(gg.float64).dtype == gg.float64
    assert x.to("cpu") is x and x.cpu() is x
    assert x.long().tolist() == [1, 2] and x.double().dtype == gg.float64
    assert x.to("cpu", "float16").dtype == gg.float16


def test_dlpack_zero_copy():
    x = gg.tensor([1.0, 2.0])
    y = gg.from_dlpack(x)
    y.data[0] = 5
    assert x.tolist() == [5.0, 2.0]
    assert np.from_dlpack(x).tolist() == [5.0, 2.0]
    with pytest.raises(AttributeError):
        x.__cuda_array_interface__


def test_dlpack_with_torch():
    torch = pytest.importorskip("torch")
    t = torch.arange(3, dtype=torch.float32)
    g = gg.from_dlpack(t)
    t[0] = 7
    assert g.tolist() == [7.0, 1.0, 2.0]
    assert torch.from_dlpack(g).tolist() == [7.0, 1.0, 2.0]


def test_setitem(device):
    x = gg.zeros(3, 3, device=device)
    x[0] = 1.0
    x[1, [0, 2]] = gg.tensor([2.0, 3.0], device=device)
    x[x > 2] = -1.0
    assert x.tolist() == [[1, 1, 1], [2, 0, -1], [0, 0, 0]]
    w = gg.zeros(2, requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match="requires grad"):
        w[0] = 1.0
    with gg.no_grad():
        w[0] = 1.0
    assert w.tolist() == [1.0, 0.0]


def test_inplace_ops(device):
    x = gg.ones(3, device=device)
    x.add_(1).mul_(3).sub_(gg.ones(3, device=device))
    assert x.tolist() == [5.0, 5.0, 5.0]
    x.zero_()
    assert x.tolist() == [0.0, 0.0, 0.0]
    x.copy_(gg.tensor([1, 2, 3], device=device))
    assert x.tolist() == [1.0, 2.0, 3.0]
    x += 1
    assert x.tolist() == [2.0, 3.0, 4.0]
    with pytest.raises(TypeError, match="cast"):
        gg.tensor([1, 2], device=device).add_(0.5)
    with pytest.raises(ValueError, match="add_"):
        gg.ones(3, device=device).add_(gg.ones(2, 3, device=device))


def test_shape_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"matmul: \(3, 4\) @ \(5, 6\)"):
        gg.ones(3, 4) @ gg.ones(5, 6)
    with pytest.raises(ValueError, match=r"add: .*\(3, 4\), \(2, 4\)"):
        gg.ones(3, 4) + gg.ones(2, 4)
    with pytest.raises(ValueError, match="reshape"):
        gg.ones(6).reshape(4, 2)
    with pytest.raises(IndexError, match="out of range"):
        gg.ones(2, 3).sum(2)
    with pytest.raises(IndexError, match="index"):
        gg.ones(3)[5]
    with pytest.raises(ValueError, match="stack"):
        gg.stack([gg.ones(2), gg.ones(3)])
    with pytest.raises(ValueError, match="cat"):
        gg.cat([gg.ones(2, 2), gg.ones(3, 3)])
    with pytest.raises(TypeError, match="mean"):
        gg.tensor([1, 2]).mean()


def test_comparisons_have_no_grad():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == gg.bool and not m.requires_grad and m.tolist() == [False, True]
    assert (x == x).all().item() and (~m).tolist() == [True, False]
    assert bool(gg.tensor([1.0]) == 1.0)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x > 0)


@pytest.mark.cuda
def test_gpu_tensor_numpy_raises_and_cpu_copies():
    x = gg.ones(2, device="cuda")
    with pytest.raises(TypeError, match="cpu"):
        x.numpy()
    assert x.cpu().numpy().tolist() == [1.0, 1.0]
    assert "device='cuda:0'" in repr(x)
    assert x.__cuda_array_interface__["shape"] == (2,)
    import cupy
    c = cupy.from_dlpack(x)
    c[0] = 3
    assert x.tolist() == [3.0, 1.0]


@pytest.mark.cuda
def test_gradient_flows_across_devices():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("cuda") * 2
    y.sum().backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [2.0, 2.0]
