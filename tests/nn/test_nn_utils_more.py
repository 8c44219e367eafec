"""``nn.utils.parametrize`` / ``parametrizations.weight_norm`` and the legacy
``nn.utils.weight_norm``: PyTorch's structure and state dict keys (a PyTorch state dict
loads unchanged), forward and gradients of g and v against PyTorch in float64."""
import copy

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
from gpugrad.nn.utils import parametrize
from gpugrad.nn.utils.parametrizations import weight_norm
from nn_testing import host, torch

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _torch_state(module):
    return {k: gg.tensor(v.detach().numpy()) for k, v in module.state_dict().items()}


LAYERS = [  # (gpugrad factory, torch factory, input shape, dim)
    (lambda: nn.Linear(3, 4, dtype=gg.float64), lambda: torch.nn.Linear(3, 4), (5, 3), 0),
    (lambda: nn.Linear(3, 4, dtype=gg.float64), lambda: torch.nn.Linear(3, 4), (5, 3), None),
    (lambda: nn.Linear(3, 4, dtype=gg.float64), lambda: torch.nn.Linear(3, 4), (5, 3), 1),
    (lambda: nn.Conv2d(2, 3, 3, dtype=gg.float64), lambda: torch.nn.Conv2d(2, 3, 3),
     (2, 2, 5, 5), -2),
    (lambda: nn.Conv1d(2, 3, 2, dtype=gg.float64), lambda: torch.nn.Conv1d(2, 3, 2),
     (2, 2, 6), 0),
]


def _compare(ours, ref, shape, device, rng, names):
    ours.to(device=device)
    x = rng.standard_normal(shape)
    out = ours(gg.tensor(x, device=device))
    want = ref(torch.tensor(x))
    g = rng.standard_normal(tuple(want.shape))
    out.backward(gg.tensor(g, device=device))
    want.backward(torch.tensor(g))
    np.testing.assert_allclose(host(out), want.detach().numpy(), rtol=1e-10, atol=1e-12)
    ours_params = dict(ours.named_parameters())
    ref_params = dict(ref.named_parameters())
    assert list(ours_params) == list(ref_params) and set(names) <= set(ours_params)
    for name in ref_params:
        np.testing.assert_allclose(host(ours_params[name].grad), ref_params[name].grad.numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


@needs_torch
@pytest.mark.parametrize("make,make_torch,shape,dim", LAYERS)
def test_weight_norm_parametrization_matches_torch(make, make_torch, shape, dim, device, rng):
    ref = torch.nn.utils.parametrizations.weight_norm(make_torch().double(), dim=dim)
    ours = weight_norm(make(), dim=dim)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert [v.shape for v in ours.state_dict().values()] == \
        [tuple(v.shape) for v in ref.state_dict().values()]
    ours.load_state_dict(_torch_state(ref))  # PyTorch's state dict loads unchanged
    assert type(ours).__name__ == type(ref).__name__
    _compare(ours, ref, shape, device, rng, ["parametrizations.weight.original0",
                                             "parametrizations.weight.original1"])


@needs_torch
@pytest.mark.parametrize("make,make_torch,shape,dim", LAYERS)
def test_legacy_weight_norm_matches_torch(make, make_torch, shape, dim, device, rng):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch deprecates the legacy form
        ref = torch.nn.utils.weight_norm(make_torch().double(), dim=dim)
    ours = nn.utils.weight_norm(make(), dim=dim)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(_torch_state(ref))
    _compare(ours, ref, shape, device, rng, ["weight_g", "weight_v"])
    # remove: a plain weight holding g * v / ||v||
    want = ref.weight.detach().numpy()
    nn.utils.remove_weight_norm(ours)
    assert list(ours.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(host(ours.weight), want, rtol=1e-12)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(ours)


def test_weight_norm_gradcheck(device, rng):
    lin = weight_norm(nn.Linear(3, 2, dtype=gg.float64, device=device))
    plist = lin.parametrizations.weight
    x = gg.tensor(rng.standard_normal((4, 3)), device=device)

    def f(g, v):
        return plist[0](g, v) @ x.T
    assert gg.gradcheck(f, (plist.original0.detach().requires_grad_(),
                            plist.original1.detach().requires_grad_()))
    # the magnitudes are the initial weight's row norms, the weight is unchanged
    np.testing.assert_allclose(host(plist.original0)[:, 0],
                               np.linalg.norm(host(plist.original1), axis=1), rtol=1e-12)


class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).T


class Scale(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x * self.k

    def right_inverse(self, x):
        return x / self.k


def test_register_and_remove_parametrizations(device):
    lin = nn.Linear(3, 3, dtype=gg.float64, device=device)
    weight = lin.weight
    opt = gg.optim.SGD(lin.parameters(), lr=0.1)
    parametrize.register_parametrization(lin, "weight", Scale(2.0))
    # the original is the old Parameter (right_inverse applied in place): the optimizer's
    assert lin.parametrizations.weight.original is weight
    parametrize.register_parametrization(lin, "weight", Symmetric())
    assert parametrize.is_parametrized(lin, "weight")
    assert not parametrize.is_parametrized(lin, "bias")
    w = lin.weight
    np.testing.assert_allclose(host(w), host(w).T)
    assert list(lin.state_dict()) == ["bias", "parametrizations.weight.original"]
    lin(gg.ones(2, 3, dtype=gg.float64, device=device)).sum().backward()
    assert weight.grad is not None
    opt.step()
    with parametrize.cached():
        assert lin.weight is lin.weight
    assert lin.weight is not lin.weight
    # assigning goes through right_inverse (Symmetric has none: PyTorch's RuntimeError)
    with pytest.raises(RuntimeError, match="Symmetric does not implement right_inverse"):
        lin.weight = gg.eye(3, dtype=gg.float64, device=device)
    value = host(lin.weight)
    parametrize.remove_parametrizations(lin, "weight")
    assert type(lin) is nn.Linear and lin.weight is weight
    np.testing.assert_allclose(host(lin.weight), value)
    assert [n for n, _ in lin.named_parameters()] == ["bias", "weight"]


def test_copies_keep_their_own_parametrizations():
    lin = parametrize.register_parametrization(nn.Linear(3, 3, dtype=gg.float64), "weight",
                                               Scale(2.0))
    clone = copy.deepcopy(lin)
    value = clone.weight.detach().numpy()
    parametrize.remove_parametrizations(lin, "weight")
    assert type(lin) is nn.Linear and type(clone).__name__ == "ParametrizedLinear"
    np.testing.assert_array_equal(clone.weight.detach().numpy(), value)
    original = clone.parametrizations.weight.original.detach().numpy()
    parametrize.remove_parametrizations(clone, "weight", leave_parametrized=False)
    np.testing.assert_array_equal(clone.weight.detach().numpy(), original)
    assert type(clone) is nn.Linear


def test_right_inverse_assignment_and_unsafe_checks():
    lin = nn.Linear(2, 2, dtype=gg.float64)
    parametrize.register_parametrization(lin, "weight", Scale(4.0))
    lin.weight = gg.eye(2, dtype=gg.float64)
    np.testing.assert_allclose(lin.parametrizations.weight.original.numpy(), np.eye(2) / 4)
    np.testing.assert_allclose(lin.weight.detach().numpy(), np.eye(2))

    class Flat(nn.Module):
        def forward(self, x):
            return x.reshape(-1)
    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(nn.Linear(2, 2), "weight", Flat())
    flat = parametrize.register_parametrization(nn.Linear(2, 2), "weight", Flat(),
                                                unsafe=True)
    assert flat.weight.shape == (4,)
    with pytest.raises(ValueError, match="does not have a parameter"):
        parametrize.register_parametrization(nn.Linear(2, 2), "weights", Scale(1.0))
    with pytest.raises(ValueError, match="does not have a parametrization"):
        parametrize.remove_parametrizations(nn.Linear(2, 2), "weight")
    wn = weight_norm(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="sequence of tensors"):
        parametrize.remove_parametrizations(wn, "weight", leave_parametrized=False)
    before = wn.weight.detach().numpy()
    parametrize.remove_parametrizations(wn, "weight")
    np.testing.assert_allclose(wn.weight.detach().numpy(), before, rtol=1e-6)
    assert list(wn.state_dict()) == ["bias", "weight"]


@needs_torch
def test_parametrized_state_dict_loads_from_torch_custom():
    class TorchScale(torch.nn.Module):
        def forward(self, x):
            return x * 3.0

        def right_inverse(self, x):
            return x / 3.0
    ref = torch.nn.Linear(3, 2).double()
    torch.nn.utils.parametrize.register_parametrization(ref, "weight", TorchScale())
    ours = parametrize.register_parametrization(nn.Linear(3, 2, dtype=gg.float64), "weight",
                                                Scale(3.0))
    ours.load_state_dict(_torch_state(ref))
    np.testing.assert_allclose(ours.weight.detach().numpy(), ref.weight.detach().numpy(),
                               rtol=1e-14)


SPECTRAL = [  # (gpugrad factory, torch factory, input shape, dim)
    (lambda: nn.Linear(3, 4, dtype=gg.float64), lambda: torch.nn.Linear(3, 4), (5, 3), None),
    (lambda: nn.Conv2d(2, 3, 3, dtype=gg.float64), lambda: torch.nn.Conv2d(2, 3, 3),
     (2, 2, 5, 5), None),
    (lambda: nn.ConvTranspose2d(2, 3, 2, dtype=gg.float64),
     lambda: torch.nn.ConvTranspose2d(2, 3, 2), (1, 2, 3, 3), None),
    (lambda: nn.Linear(3, 4, dtype=gg.float64), lambda: torch.nn.Linear(3, 4), (5, 3), 1),
]


@needs_torch
@pytest.mark.parametrize("make,make_torch,shape,dim", SPECTRAL)
def test_spectral_norm_matches_torch(make, make_torch, shape, dim, device, rng):
    from gpugrad.nn.utils.parametrizations import spectral_norm
    ref = torch.nn.utils.parametrizations.spectral_norm(make_torch().double(), dim=dim,
                                                        n_power_iterations=2)
    ours = spectral_norm(make(), dim=dim, n_power_iterations=2)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(_torch_state(ref))  # the same u and v: the same power iterations
    for _ in range(2):  # training: each forward moves u and v, as in PyTorch
        ours.zero_grad()
        ref.zero_grad()
        _compare(ours, ref, shape, device, rng, ["parametrizations.weight.original"])
    for key, value in ref.state_dict().items():
        np.testing.assert_allclose(host(ours.state_dict()[key]), value.numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=key)
    ours.eval()
    ref.eval()
    _compare(ours, ref, shape, device, rng, [])
