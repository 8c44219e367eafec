"""Recurrent layers, cells and packed sequences against PyTorch: outputs, final states and
the gradients of every parameter, the input and the initial state, in float64; numeric
gradient checks; PyTorch's parameter names, layouts, errors and packed layouts."""
import warnings

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.nn.utils import rnn as grnn

from nn_testing import host

T, B, IN, HID = 5, 3, 3, 4

LAYER_CONFIGS = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2}),
    ("RNN", {"bidirectional": True, "bias": False, "batch_first": True}),
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"proj_size": 2, "num_layers": 2, "bidirectional": True}),
    ("LSTM", {"proj_size": 3, "batch_first": True, "bias": False}),
    ("GRU", {}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("GRU", {"bias": False, "num_layers": 2}),
]
LAYER_IDS = [f"{kind}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
             for kind, kw in LAYER_CONFIGS]

CELL_CONFIGS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}),
                ("RNNCell", {"bias": False}), ("LSTMCell", {}), ("LSTMCell", {"bias": False}),
                ("GRUCell", {}), ("GRUCell", {"bias": False})]


# ---- helpers ----------------------------------------------------------------------------
def _torch():
    return pytest.importorskip("torch")


def _pair(kind, kwargs, device="cpu"):
    """A float64 torch module and the gpugrad one holding its state_dict."""
    torch = _torch()
    torch.manual_seed(0)
    t_mod = getattr(torch.nn, kind)(IN, HID, **kwargs).double()
    g_mod = getattr(gg.nn, kind)(IN, HID, **kwargs).double()
    g_mod.load_state_dict({k: v.detach().numpy() for k, v in t_mod.state_dict().items()})
    return t_mod, g_mod.to(device)


def _both(array, device="cpu"):
    """The same float64 values as a torch leaf and a gpugrad leaf, both requiring grad."""
    torch = _torch()
    array = np.asarray(array, dtype=np.float64)
    return (torch.tensor(array, requires_grad=True),
            gg.tensor(array, device=device, requires_grad=True))


def _close(expected, got, tol=1e-10):
    expected = expected.detach().numpy() if hasattr(expected, "detach") else expected
    np.testing.assert_allclose(host(got), expected, rtol=tol, atol=tol)


def _flat(outputs):
    """The tensors of a layer's (output, state) result, packed data unwrapped."""
    found = []
    for item in outputs:
        if isinstance(item, (tuple, list)) and not hasattr(item, "batch_sizes"):
            found.extend(_flat(item))
        elif hasattr(item, "batch_sizes"):
            found.append(item.data)
        else:
            found.append(item)
    return found


def _backward_random_projection(t_out, g_out, device, seed=1):
    """Backward of sum(w * out) over all outputs, the same random w for both."""
    rng = np.random.default_rng(seed)
    t_loss, g_loss = 0, 0
    for t, g in zip(_flat(t_out), _flat(g_out)):
        w = rng.standard_normal(tuple(t.shape))
        t_loss = t_loss + (t * _torch().tensor(w)).sum()
        g_loss = g_loss + (g * gg.tensor(w, device=device)).sum()
    t_loss.backward()
    g_loss.backward()


def _compare_run(t_mod, g_mod, t_args, g_args, t_leaves, g_leaves, device):
    """Run both modules, compare every output, then every gradient after one backward."""
    t_out, g_out = t_mod(*t_args), g_mod(*g_args)
    t_flat, g_flat = _flat(t_out), _flat(g_out)
    assert len(t_flat) == len(g_flat)
    for t, g in zip(t_flat, g_flat):
        assert tuple(t.shape) == g.shape
        _close(t, g)
    _backward_random_projection(t_out, g_out, device)
    for t, g in zip(t_leaves, g_leaves):
        _close(t.grad, g.grad)
    t_params, g_params = dict(t_mod.named_parameters()), dict(g_mod.named_parameters())
    assert list(t_params) == list(g_params)
    for name, p in t_params.items():
        _close(p.grad, g_params[name].grad)
    return t_out, g_out


def _state_shapes(kind, kwargs, batch):
    directions = 2 if kwargs.get("bidirectional") else 1
    count = kwargs.get("num_layers", 1) * directions
    h_size = kwargs.get("proj_size") or HID
    shapes = [(count, batch, h_size)]
    if kind == "LSTM":
        shapes.append((count, batch, HID))
    return [s if batch else (s[0], s[2]) for s in shapes]


def _initial_state(kind, kwargs, batch, device, rng):
    """(torch hx, gpugrad hx, torch leaves, gpugrad leaves) for a layer."""
    pairs = [_both(rng.standard_normal(s), device) for s in _state_shapes(kind, kwargs, batch)]
    t_states, g_states = [p[0] for p in pairs], [p[1] for p in pairs]
    if kind == "LSTM":
        return tuple(t_states), tuple(g_states), t_states, g_states
    return t_states[0], g_states[0], t_states, g_states


# ---- layers vs torch --------------------------------------------------------------------
@pytest.mark.parametrize("kind, kwargs", LAYER_CONFIGS, ids=LAYER_IDS)
@pytest.mark.parametrize("with_state", [False, True], ids=["no-h0", "h0"])
def test_layer_matches_torch(kind, kwargs, with_state, device, rng):
    t_mod, g_mod = _pair(kind, kwargs, device)
    shape = (B, T, IN) if kwargs.get("batch_first") else (T, B, IN)
    xt, xg = _both(rng.standard_normal(shape), device)
    t_args, g_args, t_leaves, g_leaves = [xt], [xg], [xt], [xg]
    if with_state:
        t_hx, g_hx, t_states, g_states = _initial_state(kind, kwargs, B, device, rng)
        t_args.append(t_hx)
        g_args.append(g_hx)
        t_leaves += t_states
        g_leaves += g_states
    _compare_run(t_mod, g_mod, t_args, g_args, t_leaves, g_leaves, device)


@pytest.mark.parametrize("kind, kwargs", LAYER_CONFIGS[::2], ids=LAYER_IDS[::2])
@pytest.mark.parametrize("with_state", [False, True], ids=["no-h0", "h0"])
def test_layer_unbatched_input_matches_torch(kind, kwargs, with_state, device, rng):
    t_mod, g_mod = _pair(kind, kwargs, device)
    xt, xg = _both(rng.standard_normal((T, IN)), device)
    t_args, g_args, t_leaves, g_leaves = [xt], [xg], [xt], [xg]
    if with_state:
        t_hx, g_hx, t_states, g_states = _initial_state(kind, kwargs, 0, device, rng)
        t_args.append(t_hx)
        g_args.append(g_hx)
        t_leaves += t_states
        g_leaves += g_states
    t_out, g_out = _compare_run(t_mod, g_mod, t_args, g_args, t_leaves, g_leaves, device)
    assert g_out[0].ndim == 2


@pytest.mark.parametrize("kind, kwargs", LAYER_CONFIGS, ids=LAYER_IDS)
def test_layer_state_dict_keys_shapes_and_repr_match_torch(kind, kwargs):
    t_mod, g_mod = _pair(kind, kwargs)
    t_state, g_state = t_mod.state_dict(), g_mod.state_dict()
    assert list(g_state) == list(t_state)
    assert [g_state[k].shape for k in g_state] == [tuple(v.shape) for v in t_state.values()]
    assert repr(g_mod) == repr(t_mod)
    assert g_mod._flat_weights_names == t_mod._flat_weights_names
    assert [[w.shape for w in ws] for ws in g_mod.all_weights] == \
        [[tuple(w.shape) for w in ws] for ws in t_mod.all_weights]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_torch_state_dict_loads_unchanged_as_tensors(kind):
    torch = _torch()
    t_mod = getattr(torch.nn, kind)(IN, HID, num_layers=2).double()
    g_mod = getattr(gg.nn, kind)(IN, HID, num_layers=2).double()
    g_mod.load_state_dict({k: gg.tensor(v.numpy()) for k, v in t_mod.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((T, B, IN))
    _close(t_mod(torch.tensor(x))[0], g_mod(gg.tensor(x))[0])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_float32_layer_matches_torch(kind):
    torch = _torch()
    torch.manual_seed(0)
    t_mod = getattr(torch.nn, kind)(IN, HID, num_layers=2, bidirectional=True)
    g_mod = getattr(gg.nn, kind)(IN, HID, num_layers=2, bidirectional=True)
    g_mod.load_state_dict({k: v.numpy() for k, v in t_mod.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((T, B, IN)).astype(np.float32)
    t_out, g_out = t_mod(torch.tensor(x))[0], g_mod(gg.tensor(x))[0]
    assert g_out.dtype == np.float32
    _close(t_out, g_out, tol=1e-5)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_dropout_is_off_in_eval_mode_and_at_zero(kind, rng):
    torch = _torch()
    x = rng.standard_normal((T, B, IN))
    torch.manual_seed(0)
    t_mod = getattr(torch.nn, kind)(IN, HID, num_layers=3, dropout=0.5).double().eval()
    g_mod = getattr(gg.nn, kind)(IN, HID, num_layers=3, dropout=0.5).double().eval()
    g_mod.load_state_dict({k: v.numpy() for k, v in t_mod.state_dict().items()})
    expected = t_mod(torch.tensor(x))[0]
    _close(expected, g_mod(gg.tensor(x))[0])
    g_zero = getattr(gg.nn, kind)(IN, HID, num_layers=3, dropout=0.0).double().train()
    g_zero.load_state_dict(g_mod.state_dict())
    _close(expected, g_zero(gg.tensor(x))[0])
    g_mod.train()
    assert not np.allclose(host(g_mod(gg.tensor(x))[0]), expected.detach().numpy())


def test_dropout_applies_between_layers_only():
    # With one layer there is no "between": training-mode dropout changes nothing.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lstm = gg.nn.LSTM(IN, HID, dropout=0.9).double()
    x = gg.randn(T, B, IN, dtype=gg.float64)
    np.testing.assert_array_equal(host(lstm(x)[0]), host(lstm.eval()(x)[0]))


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        gg.nn.GRU(IN, HID, dropout=0.5)


def test_one_input_matmul_per_layer_and_one_recurrent_matmul_per_step():
    lstm = gg.nn.LSTM(IN, HID, num_layers=2, bidirectional=True, proj_size=2)
    out, _ = lstm(gg.randn(T, B, IN))
    counts = {}
    for node in _graph_nodes(out.grad_fn):
        counts[type(node).__name__] = counts.get(type(node).__name__, 0) + 1
    layers_dirs = 2 * 2
    # input projection + recurrent matmul + projection per step, for each layer-direction
    assert counts["Linear"] == layers_dirs * (1 + 2 * T)
    # and the gate math as one fused op per step
    assert counts["LSTMCellPointwise"] == layers_dirs * T
    assert counts.get("Sigmoid", 0) == counts.get("Tanh", 0) == 0


def _graph_nodes(root):
    seen, stack, found = set(), [root], []
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or not hasattr(node, "next"):
            continue
        seen.add(id(node))
        found.append(node)
        stack.extend(node.next)
    return found


@pytest.mark.parametrize("make", [lambda: gg.nn.LSTM(8, 64, num_layers=2, proj_size=16),
                                  lambda: gg.nn.GRU(8, 64, bidirectional=True),
                                  lambda: gg.nn.RNN(8, 64), lambda: gg.nn.LSTMCell(8, 64),
                                  lambda: gg.nn.GRUCell(8, 64), lambda: gg.nn.RNNCell(8, 64)])
def test_every_parameter_starts_uniform_within_one_over_sqrt_hidden(make):
    bound = 1 / np.sqrt(64)
    for name, p in make().named_parameters():
        values = host(p)
        assert values.min() >= -bound and values.max() <= bound, name
        assert values.min() < -0.75 * bound and values.max() > 0.75 * bound, name
        if values.size > 500:
            assert abs(values.mean()) < 0.1 * bound and abs(values.std() - bound / np.sqrt(3)) < \
                0.1 * bound, name


# ---- packed sequences through layers ----------------------------------------------------
@pytest.mark.parametrize("kind, kwargs", LAYER_CONFIGS, ids=LAYER_IDS)
@pytest.mark.parametrize("with_state", [False, True], ids=["no-h0", "h0"])
def test_layer_on_unsorted_packed_sequence_matches_torch(kind, kwargs, with_state, device,
                                                         rng):
    torch = _torch()
    t_mod, g_mod = _pair(kind, kwargs, device)
    lengths = [3, 5, 1, 3]
    batch_first = kwargs.get("batch_first", False)
    shape = (len(lengths), T, IN) if batch_first else (T, len(lengths), IN)
    xt, xg = _both(rng.standard_normal(shape), device)
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, batch_first,
                                                       enforce_sorted=False)
    g_packed = grnn.pack_padded_sequence(xg, lengths, batch_first, enforce_sorted=False)
    t_args, g_args, t_leaves, g_leaves = [t_packed], [g_packed], [xt], [xg]
    if with_state:
        t_hx, g_hx, t_states, g_states = _initial_state(kind, kwargs, len(lengths), device,
                                                        rng)
        t_args.append(t_hx)
        g_args.append(g_hx)
        t_leaves += t_states
        g_leaves += g_states
    t_out, g_out = _compare_run(t_mod, g_mod, t_args, g_args, t_leaves, g_leaves, device)
    assert isinstance(g_out[0], grnn.PackedSequence)
    assert g_out[0].batch_sizes.tolist() == t_out[0].batch_sizes.tolist()
    assert g_out[0].sorted_indices.tolist() == t_out[0].sorted_indices.tolist()


def test_packed_final_state_is_each_sequences_last_step(rng):
    gru = gg.nn.GRU(IN, HID).double()
    seqs = [gg.tensor(rng.standard_normal((n, IN))) for n in (2, 5, 3)]
    _, h_n = gru(grnn.pack_sequence(seqs, enforce_sorted=False))
    for b, s in enumerate(seqs):
        _, h_alone = gru(s)
        np.testing.assert_allclose(host(h_n[0, b]), host(h_alone[0]), atol=1e-12)


# ---- cells vs torch ---------------------------------------------------------------------
@pytest.mark.parametrize("kind, kwargs", CELL_CONFIGS)
@pytest.mark.parametrize("with_state", [False, True], ids=["no-h", "h"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_cell_matches_torch(kind, kwargs, with_state, batched, device, rng):
    t_mod, g_mod = _pair(kind, kwargs, device)
    lead = (B,) if batched else ()
    xt, xg = _both(rng.standard_normal(lead + (IN,)), device)
    t_args, g_args, t_leaves, g_leaves = [xt], [xg], [xt], [xg]
    if with_state:
        pairs = [_both(rng.standard_normal(lead + (HID,)), device)
                 for _ in range(2 if kind == "LSTMCell" else 1)]
        t_hx, g_hx = [p[0] for p in pairs], [p[1] for p in pairs]
        t_args.append(tuple(t_hx) if kind == "LSTMCell" else t_hx[0])
        g_args.append(tuple(g_hx) if kind == "LSTMCell" else g_hx[0])
        t_leaves += t_hx
        g_leaves += g_hx
    _compare_run(t_mod, g_mod, t_args, g_args, t_leaves, g_leaves, device)


@pytest.mark.parametrize("kind, kwargs", CELL_CONFIGS)
def test_cell_state_dict_and_repr_match_torch(kind, kwargs):
    t_mod, g_mod = _pair(kind, kwargs)
    assert list(g_mod.state_dict()) == list(t_mod.state_dict())
    assert repr(g_mod) == repr(t_mod)


def test_cells_unrolled_equal_the_layers():
    for layer_kind, cell_kind in (("RNN", "RNNCell"), ("LSTM", "LSTMCell"), ("GRU", "GRUCell")):
        layer = getattr(gg.nn, layer_kind)(IN, HID).double()
        cell = getattr(gg.nn, cell_kind)(IN, HID).double()
        cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
        x = gg.tensor(np.random.default_rng(0).standard_normal((T, B, IN)))
        state = None
        for t in range(T):
            state = cell(x[t], state)
        h = state[0] if layer_kind == "LSTM" else state
        np.testing.assert_allclose(host(layer(x)[0][-1]), host(h), atol=1e-12)


# ---- numeric gradient checks ------------------------------------------------------------
def _with_parameters(module, names):
    """fn(x, *states_and_params) calling ``module`` with the given tensors as parameters."""
    def run(call, params):
        saved = {n: module._parameters[n] for n in names}
        module._parameters.update(zip(names, params))
        try:
            return call()
        finally:
            module._parameters.update(saved)
    return run


def test_gradcheck_tiny_lstm_with_projection_and_both_directions():
    lstm = gg.nn.LSTM(2, 3, bidirectional=True, proj_size=2).double()
    names = list(lstm._parameters)
    run = _with_parameters(lstm, names)
    x = gg.randn(3, 2, 2, dtype=gg.float64, requires_grad=True)
    h0 = gg.randn(2, 2, 2, dtype=gg.float64, requires_grad=True)
    c0 = gg.randn(2, 2, 3, dtype=gg.float64, requires_grad=True)

    def fn(x, h0, c0, *params):
        out, (h, c) = run(lambda: lstm(x, (h0, c0)), params)
        return out, h, c

    assert gg.gradcheck(fn, [x, h0, c0] + [lstm._parameters[n] for n in names])


def test_gradcheck_tiny_packed_gru_two_layers():
    gru = gg.nn.GRU(2, 2, num_layers=2).double()
    names = list(gru._parameters)
    run = _with_parameters(gru, names)
    x = gg.randn(3, 3, 2, dtype=gg.float64, requires_grad=True)
    h0 = gg.randn(2, 3, 2, dtype=gg.float64, requires_grad=True)

    def fn(x, h0, *params):
        packed = grnn.pack_padded_sequence(x, [2, 3, 1], enforce_sorted=False)
        out, h = run(lambda: gru(packed, h0), params)
        return out.data, h

    assert gg.gradcheck(fn, [x, h0] + [gru._parameters[n] for n in names])


def _joined(out):
    # One output: gg.grad of outputs where one is an ancestor of another (c of h) is not
    # what this test checks.
    return gg.cat(list(out), dim=-1) if isinstance(out, tuple) else out


def test_gradcheck_cells():
    for cell in (gg.nn.LSTMCell(2, 2).double(), gg.nn.GRUCell(2, 2).double(),
                 gg.nn.RNNCell(2, 2, nonlinearity="tanh").double()):
        names = list(cell._parameters)
        run = _with_parameters(cell, names)
        x = gg.randn(2, 2, dtype=gg.float64, requires_grad=True)
        assert gg.gradcheck(lambda x, *p: run(lambda: _joined(cell(x)), p),
                            [x] + [cell._parameters[n] for n in names])


# ---- packing utilities ------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths, enforce_sorted", [([5, 3, 3, 1], True),
                                                     ([3, 5, 1, 3], False),
                                                     ([2, 2, 4, 2], False)])
def test_pack_padded_and_pad_packed_match_torch(batch_first, lengths, enforce_sorted, rng):
    torch = _torch()
    tv = torch.nn.utils.rnn
    shape = (len(lengths), 6, 2, 3) if batch_first else (6, len(lengths), 2, 3)
    xt, xg = _both(rng.standard_normal(shape))
    t_packed = tv.pack_padded_sequence(xt, torch.tensor(lengths), batch_first, enforce_sorted)
    g_packed = grnn.pack_padded_sequence(xg, gg.tensor(lengths), batch_first, enforce_sorted)
    _close(t_packed.data, g_packed.data)
    assert g_packed.batch_sizes.tolist() == t_packed.batch_sizes.tolist()
    assert g_packed.batch_sizes.dtype == np.int64
    for field in ("sorted_indices", "unsorted_indices"):
        t_idx, g_idx = getattr(t_packed, field), getattr(g_packed, field)
        assert (g_idx is None) == (t_idx is None)
        if t_idx is not None:
            assert g_idx.tolist() == t_idx.tolist()
    t_pad, t_len = tv.pad_packed_sequence(t_packed, batch_first, -2.0, total_length=7)
    g_pad, g_len = grnn.pad_packed_sequence(g_packed, batch_first, -2.0, total_length=7)
    _close(t_pad, g_pad)
    assert g_len.tolist() == t_len.tolist() == lengths
    _backward_random_projection([t_pad], [g_pad], "cpu")
    _close(xt.grad, xg.grad)


def test_pad_pack_round_trip_keeps_the_valid_steps(rng):
    lengths = [2, 4, 1]
    x = gg.tensor(rng.standard_normal((4, 3, 2)))
    packed = grnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    padded, got = grnn.pad_packed_sequence(packed)
    mask = host(gg.nn.utils.lengths_to_mask(lengths, 4)).T[..., None]
    np.testing.assert_array_equal(host(padded), np.where(mask, host(x), 0.0))
    assert got.tolist() == lengths
    again = grnn.pack_padded_sequence(padded, got, enforce_sorted=False)
    np.testing.assert_array_equal(host(again.data), host(packed.data))


def test_pack_sequence_and_unpack_match_torch(rng):
    torch = _torch()
    arrays = [rng.standard_normal((n, 2)) for n in (2, 4, 1, 4)]
    t_packed = torch.nn.utils.rnn.pack_sequence([torch.tensor(a) for a in arrays], False)
    g_packed = grnn.pack_sequence([gg.tensor(a) for a in arrays], enforce_sorted=False)
    _close(t_packed.data, g_packed.data)
    assert g_packed.batch_sizes.tolist() == t_packed.batch_sizes.tolist()
    assert g_packed.sorted_indices.tolist() == t_packed.sorted_indices.tolist()
    for a, s in zip(arrays, grnn.unpack_sequence(g_packed)):
        np.testing.assert_array_equal(host(s), a)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        grnn.pack_sequence([gg.tensor(a) for a in arrays])


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence_padding_side_matches_torch(padding_side, batch_first, rng):
    torch = _torch()
    arrays = [rng.standard_normal((n, 2)) for n in (3, 1, 4)]
    pairs = [_both(a) for a in arrays]
    t_pad = torch.nn.utils.rnn.pad_sequence([p[0] for p in pairs], batch_first, 9.0,
                                            padding_side)
    g_pad = gg.nn.utils.pad_sequence([p[1] for p in pairs], batch_first, 9.0, padding_side)
    _close(t_pad, g_pad)
    _backward_random_projection([t_pad], [g_pad], "cpu")
    for t, g in pairs:
        _close(t.grad, g.grad)


def test_unpad_sequence_inverts_pad_sequence(rng):
    seqs = [gg.tensor(rng.standard_normal((n, 2))) for n in (3, 1, 2)]
    padded = gg.nn.utils.pad_sequence(seqs)
    for s, back in zip(seqs, grnn.unpad_sequence(padded, [3, 1, 2])):
        np.testing.assert_array_equal(host(back), host(s))


def test_packed_sequence_is_a_tuple_and_converts():
    packed = grnn.pack_sequence([gg.ones(3, 2), gg.ones(1, 2)])
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert batch_sizes.tolist() == [2, 1, 1] and sorted_indices is None
    assert packed.double().data.dtype == np.float64
    assert packed.to(gg.float32) is packed
    rebuilt = grnn.PackedSequence(data, batch_sizes, gg.tensor([1, 0]))
    assert rebuilt.unsorted_indices.tolist() == [1, 0]
    assert grnn.PackedSequence((data, batch_sizes)).batch_sizes is batch_sizes
    assert gg.nn.utils.rnn is grnn


# ---- errors -----------------------------------------------------------------------------
@pytest.mark.parametrize("make, match", [
    (lambda: gg.nn.RNN(3, 4, nonlinearity="sigmoid"), "RNN: Unknown nonlinearity"),
    (lambda: gg.nn.RNNCell(3, 4, nonlinearity="gelu"), "RNNCell: Unknown nonlinearity"),
    (lambda: gg.nn.LSTM(3, 4, proj_size=4), "LSTM: proj_size has to be smaller"),
    (lambda: gg.nn.LSTM(3, 4, proj_size=-1), "LSTM: proj_size should be"),
    (lambda: gg.nn.GRU(3, 4, proj_size=2), "GRU: proj_size argument is only supported"),
    (lambda: gg.nn.RNN(3, 4, proj_size=2), "RNN: proj_size argument is only supported"),
    (lambda: gg.nn.GRU(3, 4, dropout=1.5), "GRU: dropout should be a number"),
    (lambda: gg.nn.LSTM(3, 0), "LSTM: hidden_size must be greater than zero"),
    (lambda: gg.nn.LSTM(3, 4, num_layers=0), "LSTM: num_layers must be greater than zero"),
])
def test_bad_constructor_options_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_constructor_types_raise_type_error():
    with pytest.raises(TypeError, match="GRU: bias should be of type bool"):
        gg.nn.GRU(3, 4, bias=1)
    with pytest.raises(TypeError, match="LSTMCell: hidden_size should be of type int"):
        gg.nn.LSTMCell(3, 4.0)


@pytest.mark.parametrize("call, match", [
    (lambda m: m(gg.ones(5, 2, 7)), "LSTM: input.size\\(-1\\) must be equal to input_size"),
    (lambda m: m(gg.ones(1, 5, 2, 3)), "LSTM: Expected input to be 2D or 3D"),
    (lambda m: m(gg.ones(5, 2, 3), (gg.zeros(1, 3, 4), gg.zeros(1, 2, 4))),
     "LSTM: Expected hidden\\[0\\] size \\(1, 2, 4\\), got \\[1, 3, 4\\]"),
    (lambda m: m(gg.ones(5, 2, 3), (gg.zeros(1, 2, 4), gg.zeros(2, 4))),
     "LSTM: For batched 3-D input, hx should also be 3-D"),
    (lambda m: m(gg.ones(5, 3), (gg.zeros(1, 1, 4), gg.zeros(1, 1, 4))),
     "LSTM: For unbatched 2-D input"),
    (lambda m: m(gg.ones(5, 2, 3).double()), "LSTM: input dtype"),
    (lambda m: m(gg.ones(0, 2, 3)), "LSTM: expected a non-empty sequence"),
])
def test_bad_layer_inputs_raise_runtime_error_naming_the_layer(call, match):
    with pytest.raises(RuntimeError, match=match):
        call(gg.nn.LSTM(3, 4))


def test_lstm_needs_a_state_pair_and_rnn_a_tensor():
    with pytest.raises(TypeError, match="LSTM: expected hx as a tuple"):
        gg.nn.LSTM(3, 4)(gg.ones(5, 2, 3), gg.zeros(1, 2, 4))
    with pytest.raises(TypeError, match="GRU"):
        gg.nn.GRU(3, 4)(np.ones((5, 2, 3), np.float32))
    with pytest.raises(RuntimeError, match="RNN: Expected hidden size"):
        gg.nn.RNN(3, 4)(gg.ones(5, 2, 3), gg.zeros(2, 2, 4))


@pytest.mark.parametrize("call, match", [
    (lambda: gg.nn.GRUCell(3, 4)(gg.ones(2, 5)), "GRUCell: input has inconsistent input_size"),
    (lambda: gg.nn.GRUCell(3, 4)(gg.ones(2, 2, 3)), "GRUCell: Expected input to be 1D or 2D"),
    (lambda: gg.nn.RNNCell(3, 4)(gg.ones(2, 3), gg.zeros(3, 4)), "RNNCell: Expected hidden"),
    (lambda: gg.nn.LSTMCell(3, 4)(gg.ones(3), (gg.zeros(1, 4), gg.zeros(1, 4))),
     "LSTMCell: Expected hx\\[0\\] to be 1D"),
])
def test_bad_cell_inputs_raise_runtime_error_naming_the_cell(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()


@pytest.mark.parametrize("call, kind, match", [
    (lambda x: grnn.pack_padded_sequence(x, [3, 4, 1]), RuntimeError,
     "pack_padded_sequence: `lengths` array must be sorted"),
    (lambda x: grnn.pack_padded_sequence(x, [3, 1]), RuntimeError,
     "pack_padded_sequence: Expected `len\\(lengths\\)`"),
    (lambda x: grnn.pack_padded_sequence(x, [3, 1, 0]), RuntimeError,
     "pack_padded_sequence: Length of all samples"),
    (lambda x: grnn.pack_padded_sequence(x, [5, 1, 1]), RuntimeError,
     "pack_padded_sequence: a length of 5"),
    (lambda x: grnn.pad_packed_sequence(grnn.pack_padded_sequence(x, [4, 2, 1]),
                                        total_length=3), ValueError,
     "pad_packed_sequence: Expected total_length"),
    (lambda x: gg.nn.utils.pad_sequence([x[0], x[1]], padding_side="middle"), RuntimeError,
     "pad_sequence: Expected padding_side"),
    (lambda x: grnn.pack_sequence([]), RuntimeError, "pack_sequence: received an empty"),
])
def test_bad_packing_inputs_raise_errors_naming_the_function(call, kind, match):
    with pytest.raises(kind, match=match):
        call(gg.ones(4, 3, 2))


# ---- property: random bad inputs raise clear errors -------------------------------------
def _bad_input_cases():
    """(label, name the error must carry, call taking one drawn argument list)."""
    def layer(kind, **kw):
        return lambda args: getattr(gg.nn, kind)(3, 4, **kw)(*args[:2])

    return [
        ("RNN", "RNN", layer("RNN")), ("LSTM", "LSTM", layer("LSTM", proj_size=2)),
        ("GRU", "GRU", layer("GRU", batch_first=True)),
        ("RNNCell", "RNNCell", lambda a: gg.nn.RNNCell(3, 4)(*a[:2])),
        ("LSTMCell", "LSTMCell", lambda a: gg.nn.LSTMCell(3, 4)(*a[:2])),
        ("GRUCell", "GRUCell", lambda a: gg.nn.GRUCell(3, 4)(*a[:2])),
        ("pack_padded_sequence", "pack_padded_sequence",
         lambda a: grnn.pack_padded_sequence(a[0], a[2], bool(a[3]), bool(a[4]))),
        ("pack_sequence", "pack_sequence", lambda a: grnn.pack_sequence(a[:3], bool(a[4]))),
        ("pad_sequence", "pad_sequence",
         lambda a: gg.nn.utils.pad_sequence(a[:2], bool(a[3]), 0.0, a[5])),
        ("unpad_sequence", "unpad_sequence", lambda a: grnn.unpad_sequence(a[0], a[2])),
        ("pad_packed_sequence", "pad_packed_sequence",
         lambda a: grnn.pad_packed_sequence(a[0], total_length=a[2])),
    ]


BAD_CASES = _bad_input_cases()


def _bad_argument_lists():
    from hypothesis import strategies as st

    shapes = st.lists(st.integers(0, 4), max_size=4).map(tuple)
    dtypes = st.sampled_from([np.float32, np.float64, np.int64, np.bool_])
    tensors = st.builds(lambda s, d: gg.tensor(np.ones(s, dtype=d)), shapes, dtypes)
    lengths = st.one_of(st.lists(st.integers(-1, 5), max_size=4), tensors)
    others = st.sampled_from([None, 2, 1.5, "x", (), [1.0, 2.0], object()])
    anything = st.one_of(tensors, tensors, lengths, others)
    return st.tuples(anything, anything, lengths, st.booleans(), st.booleans(),
                     st.sampled_from(["right", "left", "up"]))


@pytest.mark.parametrize("label, name, call", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_inputs_raise_clear_errors_naming_the_op(label, name, call):
    hypothesis = pytest.importorskip("hypothesis")

    @hypothesis.settings(max_examples=60, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(args=_bad_argument_lists())
    def check(args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                call(list(args))
            except (RuntimeError, IndexError, TypeError, ValueError) as err:
                kind = type(err)
                assert kind.__module__ == "builtins" or kind.__module__.startswith("gpugrad")
                assert not isinstance(err, (KeyError, AttributeError, RecursionError)), err
                assert name.lower() in str(err).lower(), f"{label}: {kind.__name__}: {err}"

    check()


def _lstm_pointwise_inputs(seed=0):
    rng = np.random.default_rng(seed)
    gates = gg.tensor(rng.standard_normal((3, 8)) * 2, requires_grad=True)
    c = gg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    return gates, c


def test_fused_lstm_gate_math_gradients_first_and_second_order():
    from gpugrad.nn.functional.recurrent import LSTMCellPointwise
    gates, c = _lstm_pointwise_inputs()
    weights = gg.tensor(np.random.default_rng(1).standard_normal((2, 3, 2)))

    def f(gates, c):
        return (LSTMCellPointwise.apply(gates, c) * weights).sum()
    assert gg.gradcheck(f, (gates, c))

    def first(gates, c):  # the gradient itself, differentiated again (the Tensor path)
        return gg.grad(f(gates, c), (gates, c), create_graph=True)
    assert gg.gradcheck(first, (gates, c))


def test_fused_lstm_gate_math_equals_the_composite_and_its_jvp():
    from gpugrad.func import jvp
    from gpugrad.nn.functional.recurrent import LSTMCellPointwise
    gates, c = _lstm_pointwise_inputs(2)

    def composite(gates, c):
        i, f, g, o = gates[:, :2].sigmoid(), gates[:, 2:4].sigmoid(), gates[:, 4:6].tanh(), \
            gates[:, 6:].sigmoid()
        c_new = f * c + i * g
        return gg.stack([o * c_new.tanh(), c_new])

    np.testing.assert_allclose(LSTMCellPointwise.apply(gates, c).numpy(),
                               composite(gates, c).numpy(), rtol=1e-14)
    tangents = (gg.ones_like(gates) * 0.3, gg.ones_like(c) * -0.7)
    _, fused = jvp(lambda a, b: LSTMCellPointwise.apply(a, b), (gates, c), tangents)
    _, reference = jvp(composite, (gates, c), tangents)
    np.testing.assert_allclose(fused.numpy(), reference.numpy(), rtol=1e-12)
