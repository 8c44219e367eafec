"""Module behaviour: registration order, traversal, modes, state_dict, to(), repr."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
from nn_testing import host


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.register_buffer("steps", gg.zeros(1))
        self.register_buffer("scratch", gg.zeros(2), persistent=False)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.fc(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(gg.ones(1))
        self.block = Block()
        self.heads = nn.ModuleList([nn.Linear(4, 2), nn.Linear(4, 1)])

    def forward(self, x):
        h = self.block(x) * self.scale
        return [head(h) for head in self.heads]


def test_registration_order_and_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "block.fc.weight", "block.fc.bias", "heads.0.weight",
                     "heads.0.bias", "heads.1.weight", "heads.1.bias"]
    assert [n for n, _ in net.named_buffers()] == ["block.steps", "block.scratch"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "block.drop",
                                                   "heads", "heads.0", "heads.1"]
    assert [n for n, _ in net.named_children()] == ["block", "heads"]
    assert len(list(net.parameters(recurse=False))) == 1


def test_state_dict_order_persistence_and_detached():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    # Each module's own parameters and buffers, then its children (PyTorch's order).
    assert list(sd) == ["scale", "block.steps", "block.fc.weight", "block.fc.bias",
                        "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias"]
    assert all(not t.requires_grad for t in sd.values())
    assert sd["scale"].array is net.scale.array  # shares memory, as in PyTorch


def test_state_dict_round_trip():
    a, b = Net(), Net()
    a.block.steps.fill_(7.0)
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(host(x), host(y), err_msg=name)
    assert b.block.fc.weight is not a.block.fc.weight


def test_load_state_dict_accepts_numpy_arrays():
    net = nn.Linear(2, 2)
    net.load_state_dict({"weight": np.eye(2), "bias": np.zeros(2)})
    assert host(net.weight).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert net.weight.dtype == np.float32


def test_strict_load_reports_keys_and_changes_nothing():
    net = Net()
    before = {k: host(v).copy() for k, v in net.state_dict().items()}
    sd = Net().state_dict()
    del sd["block.fc.bias"]
    sd["extra.weight"] = gg.zeros(1)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(sd)
    # PyTorch's wording: keys in double quotes, missing ones listed first.
    assert 'Missing key(s) in state_dict: "block.fc.bias". ' in str(err.value)
    assert 'Unexpected key(s) in state_dict: "extra.weight". ' in str(err.value)
    bad_shape = Net().state_dict()
    bad_shape["heads.1.weight"] = gg.zeros(5, 5)
    with pytest.raises(RuntimeError, match=r"size mismatch for heads.1.weight.*\(5, 5\)"):
        net.load_state_dict(bad_shape)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(host(v), before[k], err_msg=f"{k} was half-loaded")


def test_non_strict_load_returns_incompatible_keys():
    net = nn.Linear(2, 2)
    result = net.load_state_dict({"weight": gg.zeros(2, 2), "other": gg.ones(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    assert host(net.weight).sum() == 0


def test_train_eval_reach_nested_modules():
    net = nn.Sequential(Net(), nn.Sequential(nn.Dropout()))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_dropout_inside_nested_module_follows_eval():
    net = nn.Sequential(nn.Sequential(nn.Dropout(0.9)))
    x = gg.ones(1000)
    assert (host(net(x)) == 0).any()
    net.eval()
    assert host(net(x)).tolist() == [1.0] * 1000


def test_zero_grad_and_requires_grad():
    net = Net()
    sum(out.sum() for out in net(gg.ones(2, 3))).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(host(p.grad).sum() == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_dtype_keeps_parameter_identity_and_moves_grads():
    net = Net()
    weight = net.block.fc.weight
    net(gg.ones(1, 3))[0].sum().backward()
    assert net.double() is net
    assert net.block.fc.weight is weight and weight.dtype == np.float64
    assert weight.grad.dtype == np.float64 and weight.requires_grad
    assert net.block.steps.dtype == np.float64
    out = net(gg.ones(1, 3, dtype="float64"))
    assert out[0].dtype == np.float64
    net.to("cpu")


def test_to_leaves_integer_buffers_alone():
    bn = nn.BatchNorm1d(3).to(gg.float64)
    assert bn.num_batches_tracked.dtype == np.int64 and bn.running_mean.dtype == np.float64


def test_apply_visits_children_first():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Dropout", "Block", "Linear", "Linear", "ModuleList", "Net"]


def test_repr_lists_tree_like_torch():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Dropout(0.1)))
    assert repr(net) == ("Sequential(\n"
                         "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                         "  (1): ReLU()\n"
                         "  (2): Sequential(\n"
                         "    (0): Dropout(p=0.1, inplace=False)\n"
                         "  )\n"
                         ")")


def test_setattr_rules():
    m = nn.Module()
    m.w = nn.Parameter(gg.ones(1))
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = gg.ones(1)
    m.w = None
    assert list(m.named_parameters()) == []
    m.register_buffer("b", gg.zeros(1))
    m.b = gg.ones(1)
    assert host(m.state_dict()["b"]).tolist() == [1.0]
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("training", gg.zeros(1))
    del m.b
    assert "b" not in m.state_dict()
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        m.missing


def test_shared_parameter_listed_once():
    lin = nn.Linear(2, 2)
    net = nn.Sequential(lin, lin)
    assert len(list(net.parameters())) == 2
    assert list(net.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_sequential_indexing_slicing_append():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(net[-1], nn.Linear) and len(net) == 3
    head = net[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is net[0]
    net.append(nn.Sigmoid())
    assert len(net) == 4 and net(gg.ones(5, 2)).shape == (5, 1)
    del net[1]
    assert [n for n, _ in net.named_children()] == ["0", "1", "2"]
    named = nn.Sequential(OrderedDict([("enc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert [n for n, _ in named.named_children()] == ["enc", "act"] and named.enc is named[0]
    with pytest.raises(IndexError):
        net[7]


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2)])
    layers.append(nn.ReLU())
    layers += [nn.Linear(2, 1)]
    layers.insert(0, nn.Identity())
    assert [type(m).__name__ for m in layers] == ["Identity", "Linear", "ReLU", "Linear"]
    assert isinstance(layers[1:], nn.ModuleList) and len(layers[1:]) == 3
    heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
    heads["b"] = nn.Linear(2, 3)
    assert list(heads) == ["a", "b"] and "b" in heads and len(heads) == 2
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight",
                                                        "b.bias"]


def test_linear_rejects_wrong_width():
    with pytest.raises(ValueError, match="expected input with 3 features.*got 5"):
        nn.Linear(3, 2)(gg.ones(4, 5))
    with pytest.raises(ValueError, match="3 features"):
        gg.nn.functional.linear(gg.ones(2, 4), gg.ones(2, 3))


def test_linear_matches_formula_and_gradcheck(rng):
    lin = nn.Linear(3, 2).double()
    x = gg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    expect = host(x) @ host(lin.weight).T + host(lin.bias)
    np.testing.assert_allclose(host(lin(x)), expect, rtol=1e-12)
    assert gg.gradcheck(lambda a, w, b: gg.nn.functional.linear(a, w, b),
                        [x, lin.weight, lin.bias])
    no_bias = nn.Linear(3, 2, bias=False)
    assert no_bias.bias is None and len(list(no_bias.parameters())) == 1


def test_forward_not_defined():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_deepcopy_makes_an_independent_working_replica():
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    net(gg.ones(4, 2)).sum().backward()
    replica = copy.deepcopy(net)
    w, w2 = net[0].weight, replica[0].weight
    assert isinstance(w2, nn.Parameter) and w2.array is not w.array
    np.testing.assert_array_equal(host(w2), host(w))
    assert w2.device is w.device  # ops compare devices by identity
    out = replica(gg.ones(4, 2)) + net(gg.ones(4, 2))  # both usable, together
    assert out.shape == (4, 3)
    with gg.no_grad():
        w2.fill_(0.0)
    assert host(w).any()
