"""PyTorch idioms around a tensor's memory: ``.data`` as a detached alias, ``np.array``
copying, ``view`` refusing strides it cannot honour. Each idiom runs on gpugrad and, where
PyTorch is installed, on PyTorch, and the two must agree."""
import numpy as np
import pytest

import gpugrad as gg

try:
    import torch
except ImportError:
    torch = None

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn.t accept:DeprecationWarning")

MODULES = [gg, pytest.param("torch", marks=pytest.mark.skipif(torch is None,
                                                              reason="needs PyTorch"))]


def _module(m):
    return torch if m == "torch" else m


def _values(t):
    return np.asarray(t.detach().numpy() if torch is not None and isinstance(t, torch.Tensor)
                      else t.numpy())


@pytest.fixture(params=MODULES, ids=["gpugrad", "torch"])
def m(request):
    return _module(request.param)


def test_data_is_a_detached_tensor_sharing_memory(m):
    w = m.ones(3, requires_grad=True)
    d = w.data
    assert isinstance(d, m.Tensor) and not d.requires_grad and d.grad_fn is None
    d[0] = 5.0
    assert _values(w).tolist() == [5.0, 1.0, 1.0]


def test_sgd_by_hand_through_data(m):
    w = m.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    w.data -= 0.25 * w.grad
    assert _values(w).tolist() == [0.5, 1.0]
    assert w.requires_grad and w.grad_fn is None


def test_in_place_init_through_data(m):
    w = m.zeros(1000, requires_grad=True)
    m.manual_seed(0)
    w.data.normal_(0, 0.02)
    assert 0.015 < float(_values(w).std()) < 0.025
    w.data.uniform_(-1, 1)
    assert (np.abs(_values(w)) <= 1).all() and _values(w).std() > 0.4
    w.data.zero_()
    assert not _values(w).any()
    w.data.fill_(3.0)
    w.data.copy_(w.data + 1)
    assert _values(w).tolist() == [4.0] * 1000


def test_assigning_data_replaces_the_values(m):
    layer = m.nn.Linear(2, 2)
    layer.weight.data = m.ones(2, 2)
    assert _values(layer.weight).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert isinstance(layer.weight, m.nn.Parameter) and layer.weight.requires_grad
    out = layer(m.ones(1, 2)).sum()
    out.backward()
    assert _values(layer.weight.grad).tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_writes_through_data_between_forward_and_backward_are_caught():
    """PyTorch lets this pass and differentiates at the old values with the new ones in
    place; gpugrad counts the write as an in-place change (documented difference)."""
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    w.data.mul_(10)
    with pytest.raises(RuntimeError, match="in-place|inplace"):
        y.backward()


def test_data_parallel_replicas_see_writes_through_data():
    model = gg.nn.Linear(2, 1)
    dp = gg.parallel.DataParallel(model, devices=["cpu", "cpu"])
    with gg.no_grad():
        model.weight.data.fill_(0.5)
    x, y = gg.ones(4, 2), gg.zeros(4, 1)
    dp.forward_backward(lambda m, xb, yb: ((m(xb) - yb) ** 2).mean(), x, y)
    assert dp.replicas[1].weight.tolist() == [[0.5, 0.5]]
    expected = 2 * (1.0 + model.bias.item())  # d/dw of mean((w.x + b)^2) at w = 0.5, x = 1
    assert model.weight.grad.tolist()[0] == pytest.approx([expected, expected])


def test_data_assignment_is_checked():
    w = gg.zeros(2, 3)
    with pytest.raises(RuntimeError, match="shape"):
        w.data = gg.zeros(3, 2)
    with pytest.raises(RuntimeError, match="float64"):
        w.data = gg.zeros(2, 3, dtype=gg.float64)
    with pytest.raises(TypeError, match="Tensor"):
        w.data = np.zeros((2, 3), np.float32)
    assert w.shape == (2, 3) and w.dtype == gg.float32


def test_array_is_the_backend_array():
    t = gg.tensor([1.0, 2.0])
    assert isinstance(t.array, np.ndarray) and t.array is t.array
    t.array[0] = 7.0
    assert t.tolist() == [7.0, 2.0]


def test_saving_after_data_assignment_works(tmp_path):
    """0.1 let ``p.data = t`` put a Tensor where the array belongs; gg.save failed later."""
    layer = gg.nn.Linear(2, 2)
    layer.weight.data = gg.full((2, 2), 0.5)
    gg.save(layer.state_dict(), tmp_path / "w.safetensors")
    loaded = gg.load(tmp_path / "w.safetensors")
    assert loaded["weight"].tolist() == [[0.5, 0.5], [0.5, 0.5]]


def test_np_array_copies_and_asarray_shares(m):
    t = m.tensor([1.0, 2.0])
    for copied in (np.array(t), np.array(t, copy=True)):
        copied[0] = 9.0
        assert _values(t).tolist() == [1.0, 2.0]
    shared = np.asarray(t)
    shared[0] = 9.0
    assert _values(t).tolist() == [9.0, 2.0]
    assert np.array(t, dtype=np.float64).dtype == np.float64


def test_np_array_without_copy_refuses_a_dtype_change():
    t = gg.tensor([1.0, 2.0])
    assert np.asarray(t, dtype=np.float32) is not None
    with pytest.raises(ValueError):
        np.array(t, dtype=np.float64, copy=False)


@pytest.mark.parametrize("make, shape", [
    (lambda m: m.arange(6).reshape(2, 3).transpose(0, 1), (6,)),
    (lambda m: m.arange(12).reshape(4, 3)[:, :2], (8,)),
    (lambda m: m.arange(24).reshape(2, 3, 4).permute(0, 2, 1), (2, 12)),
])
def test_view_of_incompatible_strides_raises(m, make, shape):
    with pytest.raises(RuntimeError, match="view"):
        make(m).view(*shape)


@pytest.mark.parametrize("make, shape", [
    (lambda m: m.arange(6).reshape(2, 3), (3, 2)),
    (lambda m: m.arange(6).reshape(2, 3).transpose(0, 1), (3, 1, 2)),
    (lambda m: m.arange(12).reshape(4, 3)[:, :2], (4, 2, 1)),
    (lambda m: m.arange(24).reshape(2, 3, 4).permute(1, 0, 2), (3, 2, 2, 2)),
    (lambda m: m.arange(24).reshape(2, 3, 4)[:, 1:], (2, 8)),
    (lambda m: m.zeros(0, 3).transpose(0, 1), (0,)),
    (lambda m: m.arange(4).reshape(1, 4, 1), (2, 2)),
])
def test_view_of_compatible_strides_shares_memory(m, make, shape):
    base = make(m)
    view = base.view(*shape)
    assert tuple(view.shape) == shape
    if base.numel():
        view[(0,) * len(shape)] = 100  # the first element of both is the same memory
        assert _values(base)[(0,) * base.ndim] == 100


def test_reshape_still_copies_where_view_cannot():
    x = gg.arange(6).reshape(2, 3).transpose(0, 1)
    assert x.reshape(6).tolist() == [0, 3, 1, 4, 2, 5]


def test_contiguous_then_view_the_attention_idiom(m):
    """(B, T, H, D) -> transpose -> contiguous -> view: what every GPT block does."""
    x = m.arange(24.0).reshape(1, 3, 2, 4).requires_grad_()
    y = x.transpose(1, 2)
    assert not y.is_contiguous() and y.contiguous().is_contiguous()
    merged = y.contiguous().view(1, 2, 12)
    assert _values(merged).tolist() == _values(y).reshape(1, 2, 12).tolist()
    (merged * m.arange(24.0).reshape(1, 2, 12)).sum().backward()
    expected = np.arange(24.0).reshape(1, 2, 3, 4).transpose(0, 2, 1, 3)
    assert _values(x.grad).tolist() == expected.tolist()
    c = m.ones(2, 3)
    assert c.contiguous() is c


@pytest.mark.parametrize("idiom", [
    lambda m, x: x.data.std(),
    lambda m, x: x.data.var(),
    lambda m, x: x.data.max(1)[1],
    lambda m, x: x.data.sort()[0],
    lambda m, x: x.data.sort()[1],
    lambda m, x: x.data.argmax(1),
    lambda m, x: x.data.sum(0),
    lambda m, x: x.data.mean(),
], ids=["std", "var", "max_indices", "sort_values", "sort_indices", "argmax", "sum", "mean"])
def test_reductions_through_data_follow_pytorch_not_numpy(idiom):
    """0.1 handed out the NumPy array: std/var divided by N, max(1)[1] gave values and sort()
    sorted in place returning None."""
    torch_ = pytest.importorskip("torch")
    values = np.array([[3.0, 1.0, 2.0], [0.5, 4.0, 4.5]])
    ours = idiom(gg, gg.tensor(values, requires_grad=True))
    theirs = idiom(torch_, torch_.tensor(values, requires_grad=True))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
