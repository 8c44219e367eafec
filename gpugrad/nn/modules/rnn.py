"""Recurrent layers ``RNN``, ``LSTM``, ``GRU`` and their cells, with PyTorch's parameter
names, layouts, gate order and initialisation, so a PyTorch state_dict loads unchanged.

A layer runs each layer and direction as: the input projections of all time steps in one
matmul up front, then a time loop of one fused matmul of the hidden state with the stacked
gate weights plus pointwise gate math. A padded batch runs as a packed one whose batch size
never shrinks, so one loop serves both; everything is built from differentiable Tensor ops.

Under autocast the layers follow PyTorch: on CUDA a whole layer or cell runs in the autocast
dtype (cuDNN's RNN and the fused cells autocast), and so does ``LSTM`` on the CPU (its
oneDNN kernel autocasts): input, states and weights are cast, and the outputs come out in
the low dtype. ``RNN``, ``GRU`` and the cells on the CPU are PyTorch compositions of
``linear`` and pointwise ops, of which only ``linear`` autocasts; so here too, and an input
already in the low dtype is accepted against float32 weights.
"""
import math
import numbers
import warnings
from collections import namedtuple

from ... import creation
from ...amp import autocast_mode
from ...autograd.grad_mode import no_grad
from ...dtypes import float32
from ...ops.errors import DTypeError, ShapeError, not_a_tensor
from ...ops.join import cat, stack
from ...tensor import Tensor
from .. import functional as F
from ..functional.lstm_sequence import GRUSequence, LSTMSequence
from ..functional.recurrent import GRUCellPointwise, LSTMCellPointwise, _fused
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

# The recurrent half of one layer-direction's weights; ``bias`` is None where the hidden
# bias was folded into the input projection.
_Recurrent = namedtuple("_Recurrent", ["weight", "bias", "proj"])


# ---- one time step: (input gates, state, weights) -> new state --------------------------
def _tanh_step(gates, state, w):
    return ((gates + F.linear(state[0], w.weight, w.bias)).tanh(),)


def _relu_step(gates, state, w):
    return ((gates + F.linear(state[0], w.weight, w.bias)).relu(),)


def _lstm_step(gates, state, w):
    h, c = state
    gates = gates + F.linear(h, w.weight, w.bias)
    h, c = LSTMCellPointwise.apply(gates, c)  # the gate math as one op (recurrent.py)
    if w.proj is not None:
        h = F.linear(h, w.proj)
    return h, c


def _gru_step(gates, state, w):
    (h,) = state
    hidden = F.linear(h, w.weight, w.bias)  # b_hn stays inside: n uses r * (W_hn h + b_hn)
    return (GRUCellPointwise.apply(gates, hidden, h),)  # the gate math as one op


# gates per hidden unit, step, and whether b_hh can join b_ih in the input projection
_Mode = namedtuple("_Mode", ["gates", "step", "folds_bias"])
_MODES = {"RNN_TANH": _Mode(1, _tanh_step, True), "RNN_RELU": _Mode(1, _relu_step, True),
          "LSTM": _Mode(4, _lstm_step, True), "GRU": _Mode(3, _gru_step, False)}


def _input_gates(x, weight_ih, bias_ih, bias_hh, folds_bias):
    """x @ W_ih^T + b_ih (+ b_hh where the mode allows): all time steps in one matmul."""
    if bias_ih is None:
        return F.linear(x, weight_ih)
    return F.linear(x, weight_ih, bias_ih + bias_hh if folds_bias else bias_ih)


# ---- the time loop over packed rows -----------------------------------------------------
def _split_steps(rows, batch_sizes):
    """The rows of each time step. Split by halves: a slice's gradient is written into
    zeros of its parent's size, so halving costs O(N log T), T slices of ``rows`` O(N T)."""
    if len(batch_sizes) == 1:
        return [rows]
    mid = len(batch_sizes) // 2
    cut = sum(batch_sizes[:mid])
    return (_split_steps(rows[:cut], batch_sizes[:mid])
            + _split_steps(rows[cut:], batch_sizes[mid:]))


def _run_direction(step, gates, batch_sizes, state0, w, reverse):
    """Run ``step`` over the time steps of packed input gates: (outputs per step, final
    state). Sequences are sorted longest first, so the running batch is always a prefix."""
    inputs = _split_steps(gates, batch_sizes)
    outputs = [None] * len(inputs)
    if reverse:
        state = _rows(state0, batch_sizes[-1])
        for t in reversed(range(len(inputs))):
            state = _grow(state, state0, batch_sizes[t])
            state = step(inputs[t], state, w)
            outputs[t] = state[0]
        return outputs, state
    state, finished = state0, []
    for t, x in enumerate(inputs):
        if batch_sizes[t] < state[0].shape[0]:
            finished.append(tuple(s[batch_sizes[t]:] for s in state))
            state = _rows(state, batch_sizes[t])
        state = step(x, state, w)
        outputs[t] = state[0]
    return outputs, _rejoin(state, finished)


def _whole_sequence(mode, w, batch_sizes, gates):
    """Can ``LSTMSequence`` or ``GRUSequence`` run this layer-direction? An LSTM without
    projection or a GRU over sequences of one length, unless the fused per-step GPU
    kernels take the steps."""
    return (mode in ("LSTM", "GRU") and w.proj is None
            and min(batch_sizes) == max(batch_sizes)
            and not _fused(gates._backend.xp, gates._data))


def _lstm_sequence(gates, state0, w, reverse):
    """(output rows (T*B, H), final (h, c)) of one layer-direction, as one op."""
    h0, c0 = state0
    out = LSTMSequence.apply(gates, h0, c0, w.weight, reverse=reverse)
    steps = out.shape[0] - 1
    rows = out[:steps].reshape(steps * h0.shape[0], h0.shape[1])
    return rows, (out[0] if reverse else out[steps - 1], out[steps])


def _autocast_dtype(input):
    """The autocast dtype where a region covers ``input``'s device type and ``input`` is
    float32 or that dtype (float64 is never cast), else None."""
    device_type = input.device.type
    if device_type not in ("cpu", "cuda") or not autocast_mode.is_autocast_enabled(device_type):
        return None
    low = autocast_mode.get_autocast_dtype(device_type)
    return low if input.dtype in (float32, low) else None


def _runs_whole(mode, input):
    """Does PyTorch autocast this layer or cell as a whole (see the module docstring)?"""
    return input.device.type == "cuda" or mode == "LSTM"


def _cast_state(hx, dtype):
    if hx is None:
        return None
    if isinstance(hx, Tensor):
        return hx.to(dtype=dtype)
    return type(hx)(_cast_state(s, dtype) if isinstance(s, Tensor) else s for s in hx)


def _gru_sequence(gates, state0, w, reverse):
    """(output rows (T*B, H), final (h,)) of one GRU layer-direction, as one op."""
    (h0,) = state0
    weight, bias = w.weight, w.bias
    if bias is None:
        bias = creation.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device)
    low = _autocast_dtype(weight)
    if low is not None:  # the hidden projection is a ``linear``, which autocast lowers
        weight, bias = weight.to(dtype=low), bias.to(dtype=low)
    out = GRUSequence.apply(gates, h0, weight, bias, reverse=reverse)
    steps = out.shape[0]
    rows = out.reshape(steps * h0.shape[0], h0.shape[1])
    return rows, (out[0] if reverse else out[steps - 1],)


_SEQUENCE_OPS = {"LSTM": _lstm_sequence, "GRU": _gru_sequence}


def _rows(state, n):
    if state[0].shape[0] == n:
        return state
    return tuple(s[:n] for s in state)


def _grow(state, state0, n):
    """Sequences joining a reverse pass start from their initial state."""
    have = state[0].shape[0]
    if have == n:
        return state
    return tuple(cat([s, s0[have:n]]) for s, s0 in zip(state, state0))


def _rejoin(state, finished):
    """The final states of a forward pass: the sequences that ended early come last."""
    if not finished:
        return state
    return tuple(cat([s] + [done[i] for done in reversed(finished)])
                 for i, s in enumerate(state))


class RNNBase(Module):
    """The machinery of ``RNN``, ``LSTM`` and ``GRU``; ``mode`` is ``'RNN_TANH'``,
    ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``. Use those classes instead.

    >>> import gpugrad as gg
    >>> gg.nn.RNNBase("GRU", 3, 4).weight_ih_l0.shape
    (12, 3)
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if mode not in _MODES:
            raise ValueError(f"{name}: Unrecognized RNN mode: {mode!r}")
        _check_options(name, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                       proj_size)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(self._directions):
                self._add_layer_weights(layer, direction, device, dtype)
        self.reset_parameters()

    @property
    def _directions(self):
        return 2 if self.bidirectional else 1

    @property
    def _out_size(self):
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def _add_layer_weights(self, layer, direction, device, dtype):
        gate_size = _MODES[self.mode].gates * self.hidden_size
        in_size = self.input_size if layer == 0 else self._out_size * self._directions
        shapes = {"weight_ih": (gate_size, in_size), "weight_hh": (gate_size, self._out_size)}
        if self.bias:
            shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
        if self.proj_size > 0:
            shapes["weight_hr"] = (self.proj_size, self.hidden_size)
        suffix = "_reverse" if direction == 1 else ""
        names = []
        for kind, shape in shapes.items():
            names.append(f"{kind}_l{layer}{suffix}")
            setattr(self, names[-1], Parameter(creation.empty(*shape, device=device,
                                                              dtype=dtype)))
        self._flat_weights_names.extend(names)
        self._all_weights.append(names)

    def reset_parameters(self):
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as in
        PyTorch.

        >>> import gpugrad as gg
        >>> lstm = gg.nn.LSTM(2, 4)
        >>> lstm.reset_parameters()
        >>> bool(lstm.weight_hh_l0.abs().max() <= 0.5)
        True
        """
        bound = 1.0 / math.sqrt(self.hidden_size)
        with no_grad():
            for weight in self.parameters():
                init.uniform_(weight, -bound, bound)

    def flatten_parameters(self):
        """Does nothing: there is no cuDNN weight buffer to compact. Kept so PyTorch code
        that calls it runs unchanged.

        >>> import gpugrad as gg
        >>> gg.nn.GRU(2, 3).flatten_parameters()
        """

    @property
    def _flat_weights(self):
        # PyTorch code reads this list (its cuDNN buffer's views); here, the parameters.
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        """The parameters of each layer and direction, in PyTorch's order.

        >>> import gpugrad as gg
        >>> [len(ws) for ws in gg.nn.LSTM(2, 3, bidirectional=True).all_weights]
        [4, 4]
        """
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ---- forward ----------------------------------------------------------------------
    def forward(self, input, hx=None):
        data = input.data if isinstance(input, PackedSequence) else input
        low = _autocast_dtype(data) if isinstance(data, Tensor) else None
        if low is not None and _runs_whole(self.mode, data):
            if isinstance(input, PackedSequence):
                input = input._replace(data=data.to(dtype=low))
            else:
                input = input.to(dtype=low)
            with autocast_mode.suspended():
                return self._forward(input, _cast_state(hx, low), low)
        return self._forward(input, hx, low)

    def _forward(self, input, hx, low):
        """``forward`` under autocast to ``low`` (None: no autocast): the input may be in
        ``low`` against float32 weights, which are cast where autocast runs the layer
        whole."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, low)
        return self._forward_padded(input, hx, low)

    def _forward_padded(self, input, hx, low):
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise not_a_tensor(name, input)
        if input.ndim not in (2, 3):
            raise ShapeError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D "
                             f"tensor instead")
        batched = input.ndim == 3
        if not batched:
            input = input.unsqueeze(0 if self.batch_first else 1)
        if self.batch_first:
            input = input.transpose(0, 1)
        steps, batch = input.shape[:2]
        self._check_input(input, low=low)
        hx = self._initial_state(hx, input, batch, batched, None)
        rows = input.reshape(steps * batch, input.shape[2])
        out, state = self._run_layers(rows, [batch] * steps, hx, self._cast_to(input, low))
        out = out.reshape(steps, batch, out.shape[-1])
        if self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(0 if self.batch_first else 1)
            state = tuple(s.squeeze(1) for s in state)
        return out, self._pack_state(state)

    def _forward_packed(self, input, hx, low):
        data, batch_sizes, sorted_indices, unsorted_indices = input
        self._check_input(data, packed=True, low=low)
        batch_sizes_list = [int(b) for b in batch_sizes.tolist()]
        hx = self._initial_state(hx, data, batch_sizes_list[0], True, sorted_indices)
        out, state = self._run_layers(data, batch_sizes_list, hx, self._cast_to(data, low))
        if unsorted_indices is not None:
            state = tuple(s.index_select(1, unsorted_indices) for s in state)
        output = PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices)
        return output, self._pack_state(state)

    def _pack_state(self, state):
        return state if self.mode == "LSTM" else state[0]

    def _cast_to(self, input, low):
        """The dtype to cast the weights to: ``low`` where autocast runs the layer whole."""
        return low if low is not None and _runs_whole(self.mode, input) else None

    def _run_layers(self, rows, batch_sizes, hx, cast=None):
        """All layers over packed rows (N, input_size): (output rows, final states, each
        (num_layers * directions, B, size)); the weights cast to ``cast`` if given."""
        mode = _MODES[self.mode]
        finals = []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                rows = F.dropout(rows, self.dropout, True)
            outs = []
            for direction in range(self._directions):
                k = layer * self._directions + direction
                gates, w = self._weights(k, rows, mode, cast)
                state0 = tuple(s[k] for s in hx)
                if _whole_sequence(self.mode, w, batch_sizes, gates):
                    out, state = _SEQUENCE_OPS[self.mode](gates, state0, w, direction == 1)
                else:
                    outputs, state = _run_direction(mode.step, gates, batch_sizes, state0, w,
                                                    direction == 1)
                    out = cat(outputs)
                outs.append(out)
                finals.append(state)
            rows = outs[0] if len(outs) == 1 else cat(outs, dim=1)
        return rows, tuple(stack([f[i] for f in finals]) for i in range(len(hx)))

    def _weights(self, k, rows, mode, cast=None):
        """Input gates of all steps and the recurrent weights of layer-direction ``k``."""
        # "weight_ih_l1_reverse" -> "weight_ih"
        params = {name.split("_l")[0]: getattr(self, name) for name in self._all_weights[k]}
        if cast is not None:
            params = {key: p.to(dtype=cast) for key, p in params.items()}
        bias_ih, bias_hh = params.get("bias_ih"), params.get("bias_hh")
        gates = _input_gates(rows, params["weight_ih"], bias_ih, bias_hh, mode.folds_bias)
        recurrent_bias = None if mode.folds_bias else bias_hh
        return gates, _Recurrent(params["weight_hh"], recurrent_bias, params.get("weight_hr"))

    # ---- checks -----------------------------------------------------------------------
    def _check_input(self, input, packed=False, low=None):
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise not_a_tensor(name, input)
        expected = 2 if packed else 3
        if input.ndim != expected:
            raise ShapeError(f"{name}: input must have {expected} dimensions, got {input.ndim}")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {input.shape[-1]}")
        if input.shape[0] == 0:
            raise ShapeError(f"{name}: expected a non-empty sequence, got input shape "
                             f"{input.shape}")
        weight = self.weight_ih_l0
        if input.dtype != weight.dtype and low is None:
            raise DTypeError(f"{name}: input dtype ({input.dtype}) does not match weight dtype "
                             f"({weight.dtype}); convert the input with .to({weight.dtype}) "
                             f"or the model with .to({input.dtype})")

    def _initial_state(self, hx, input, batch, batched, sorted_indices):
        """The initial states as a tuple of (num_layers * directions, B, size) tensors."""
        sizes = [self._out_size] + ([self.hidden_size] if self.mode == "LSTM" else [])
        count = self.num_layers * self._directions
        if hx is None:
            return tuple(creation.zeros(count, batch, size, dtype=input.dtype,
                                        device=input.device) for size in sizes)
        states = self._state_tuple(hx)
        want = 3 if batched else 2
        if any(s.ndim != want for s in states):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise ShapeError(f"{type(self).__name__}: For {kind} input, hx should also be "
                             f"{want}-D but got {[s.ndim for s in states]}-D tensor(s)")
        if not batched:
            states = tuple(s.unsqueeze(1) for s in states)
        for i, (s, size) in enumerate(zip(states, sizes)):
            self._check_state(s, (count, batch, size), input, i if len(sizes) > 1 else None)
        if sorted_indices is not None:
            states = tuple(s.index_select(1, sorted_indices) for s in states)
        return states

    def _state_tuple(self, hx):
        name = type(self).__name__
        if self.mode == "LSTM":
            if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(f"{name}: expected hx as a tuple (h_0, c_0), got "
                                f"{type(hx).__name__}")
            states = tuple(hx)
        else:
            states = (hx,)
        for s in states:
            if not isinstance(s, Tensor):
                raise not_a_tensor(name, s, "hx")
        return states

    def _check_state(self, state, expected, input, index):
        name = type(self).__name__
        which = "hidden" if index is None else f"hidden[{index}]"
        if state.shape != expected:
            raise ShapeError(f"{name}: Expected {which} size {expected}, got "
                             f"{list(state.shape)}")
        if state.dtype != input.dtype:
            raise DTypeError(f"{name}: Input and hidden tensors are not the same dtype, found "
                             f"input tensor with {input.dtype} and hidden tensor with "
                             f"{state.dtype}")


def _check_options(name, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                   proj_size):
    """PyTorch's checks of a recurrent layer's constructor arguments."""
    if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
            or not 0 <= dropout <= 1):
        raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing "
                         f"the probability of an element being zeroed")
    if dropout > 0 and num_layers == 1:
        warnings.warn(f"{name}: dropout option adds dropout after all but last recurrent "
                      f"layer, so non-zero dropout expects num_layers greater than 1, but got "
                      f"dropout={dropout} and num_layers={num_layers}", stacklevel=4)
    for option, value in (("bias", bias), ("batch_first", batch_first)):
        if not isinstance(value, bool):
            raise TypeError(f"{name}: {option} should be of type bool, got: "
                            f"{type(value).__name__}")
    for option, value in (("input_size", input_size), ("hidden_size", hidden_size),
                          ("num_layers", num_layers), ("proj_size", proj_size)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name}: {option} should be of type int, got: "
                            f"{type(value).__name__}")
    for option, value in (("input_size", input_size), ("hidden_size", hidden_size),
                          ("num_layers", num_layers)):
        if value <= 0:
            raise ValueError(f"{name}: {option} must be greater than zero, got {value}")
    if proj_size < 0:
        raise ValueError(f"{name}: proj_size should be a positive integer or zero to disable "
                         f"projections")
    if proj_size >= hidden_size:
        raise ValueError(f"{name}: proj_size has to be smaller than hidden_size, got "
                         f"proj_size={proj_size} and hidden_size={hidden_size}")


def _no_projection(name, proj_size):
    if proj_size != 0:
        raise ValueError(f"{name}: proj_size argument is only supported for LSTM, not RNN or "
                         f"GRU")


def _rnn_mode(name, nonlinearity):
    if nonlinearity == "tanh":
        return "RNN_TANH"
    if nonlinearity == "relu":
        return "RNN_RELU"
    raise ValueError(f"{name}: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                     f"'relu'.")


class RNN(RNNBase):
    """Elman RNN, h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked
    ``num_layers`` deep, optionally bidirectional. Input (T, B, input_size) (or (B, T, ...)
    with ``batch_first``, or unbatched (T, input_size), or a ``PackedSequence``) and an
    optional h_0 (num_layers * directions, B, hidden_size); returns (output, h_n).

    >>> import gpugrad as gg
    >>> rnn = gg.nn.RNN(3, 5, num_layers=2, nonlinearity="relu")
    >>> out, h_n = rnn(gg.randn(7, 2, 3))
    >>> out.shape, h_n.shape
    ((7, 2, 5), (2, 2, 5))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None,
                 dtype=None, *, proj_size=0):
        _no_projection("RNN", proj_size)
        super().__init__(_rnn_mode("RNN", nonlinearity), input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's gates i, f, g, o stacked in that order in each
    weight; with ``proj_size > 0`` the hidden state is projected by ``weight_hr_l{k}`` to
    ``proj_size``. Takes (input, (h_0, c_0)) (the state optional) and returns
    (output, (h_n, c_n)); shapes as ``RNN``, c with ``hidden_size`` features.

    >>> import gpugrad as gg
    >>> lstm = gg.nn.LSTM(3, 5, batch_first=True, bidirectional=True, proj_size=2)
    >>> out, (h_n, c_n) = lstm(gg.randn(2, 7, 3))
    >>> out.shape, h_n.shape, c_n.shape
    ((2, 7, 4), (2, 2, 2), (2, 2, 5))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's gates r, z, n stacked in that order in each weight,
    with n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) and h' = (1 - z) * n + z * h.
    Takes (input, h_0) (h_0 optional) and returns (output, h_n); shapes as ``RNN``.

    >>> import gpugrad as gg
    >>> gru = gg.nn.GRU(3, 5)
    >>> out, h_n = gru(gg.randn(7, 3))  # unbatched
    >>> out.shape, h_n.shape
    ((7, 5), (1, 5))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, *, proj_size=0):
        _no_projection("GRU", proj_size)
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)


# ---- cells ------------------------------------------------------------------------------
class RNNCellBase(Module):
    """The parameters of a one-step cell: ``weight_ih`` (chunks * hidden, input),
    ``weight_hh`` (chunks * hidden, hidden) and optional ``bias_ih``, ``bias_hh``, from
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)). Use ``RNNCell``, ``LSTMCell``, ``GRUCell``.

    >>> import gpugrad as gg
    >>> gg.nn.RNNCellBase(3, 4, bias=True, num_chunks=2).weight_hh.shape
    (8, 4)
    """

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        _check_options(name, input_size, hidden_size, 1, bias, False, 0.0, 0)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gates = num_chunks * hidden_size
        self.weight_ih = Parameter(creation.empty(gates, input_size, device=device,
                                                  dtype=dtype))
        self.weight_hh = Parameter(creation.empty(gates, hidden_size, device=device,
                                                  dtype=dtype))
        for bias_name in ("bias_ih", "bias_hh"):
            param = Parameter(creation.empty(gates, device=device, dtype=dtype)) if bias else None
            self.register_parameter(bias_name, param)
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

        >>> import gpugrad as gg
        >>> cell = gg.nn.GRUCell(2, 4)
        >>> cell.reset_parameters()
        >>> bool(cell.weight_ih.abs().max() <= 0.5)
        True
        """
        bound = 1.0 / math.sqrt(self.hidden_size)
        with no_grad():
            for weight in self.parameters():
                init.uniform_(weight, -bound, bound)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _step(self, mode, input, hx):
        """One step of ``mode`` from state tuple ``hx`` (or zeros): the new state tuple."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise not_a_tensor(name, input)
        low = _autocast_dtype(input)
        if low is not None and input.device.type == "cuda":
            with autocast_mode.suspended():
                return self._cell_step(mode, input.to(dtype=low), _cast_state(hx, low), low,
                                       True)
        return self._cell_step(mode, input, hx, low, False)

    def _cell_step(self, mode, input, hx, low, whole):
        """``_step`` under autocast to ``low`` (None: none), the weights cast to it if
        ``whole``."""
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ShapeError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D "
                             f"instead")
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
        self._check_cell_input(input, low)
        if hx is None:
            zeros = creation.zeros(input.shape[0], self.hidden_size, dtype=input.dtype,
                                   device=input.device)
            hx = (zeros,) * (2 if mode == "LSTM" else 1)
        else:
            hx = tuple(self._cell_state(s, i, input, batched, len(hx)) for i, s in enumerate(hx))
        spec = _MODES[mode]
        weight_ih, weight_hh, bias_ih, bias_hh = (
            p.to(dtype=low) if whole and p is not None else p
            for p in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh))
        gates = _input_gates(input, weight_ih, bias_ih, bias_hh, spec.folds_bias)
        w = _Recurrent(weight_hh, None if spec.folds_bias else bias_hh, None)
        state = spec.step(gates, hx, w)
        return state if batched else tuple(s.squeeze(0) for s in state)

    def _check_cell_input(self, input, low=None):
        name = type(self).__name__
        if input.shape[1] != self.input_size:
            raise ShapeError(f"{name}: input has inconsistent input_size: got "
                             f"{input.shape[1]} expected {self.input_size}")
        if input.dtype != self.weight_ih.dtype and low is None:
            raise DTypeError(f"{name}: input dtype ({input.dtype}) does not match weight "
                             f"dtype ({self.weight_ih.dtype})")

    def _cell_state(self, state, index, input, batched, count):
        name = type(self).__name__
        which = "hidden" if count == 1 else f"hx[{index}]"
        if not isinstance(state, Tensor):
            raise not_a_tensor(name, state, which)
        if state.ndim not in (1, 2):
            raise ShapeError(f"{name}: Expected {which} to be 1D or 2D, got {state.ndim}D "
                             f"instead")
        if (state.ndim == 2) != batched:
            raise ShapeError(f"{name}: Expected {which} to be {2 if batched else 1}D like the "
                             f"input, got {state.ndim}D")
        if not batched:
            state = state.unsqueeze(0)
        expected = (input.shape[0], self.hidden_size)
        if state.shape != expected:
            raise ShapeError(f"{name}: Expected {which} of shape {expected} (batch size and "
                             f"hidden_size), got {state.shape}")
        if state.dtype != input.dtype:
            raise DTypeError(f"{name}: {which} dtype ({state.dtype}) does not match the "
                             f"input dtype ({input.dtype})")
        return state


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).
    Input (B, input_size) or (input_size,), optional h (zeros); returns h'.

    >>> import gpugrad as gg
    >>> cell = gg.nn.RNNCell(3, 4, nonlinearity="relu")
    >>> h = cell(gg.randn(2, 3))
    >>> cell(gg.randn(2, 3), h).shape
    (2, 4)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        mode = _rnn_mode("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity
        self._mode = mode

    def forward(self, input, hx=None):
        return self._step(self._mode, input, None if hx is None else (hx,))[0]


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o): returns (h', c') from input (B, input_size) or
    (input_size,) and an optional state (h, c) (zeros).

    >>> import gpugrad as gg
    >>> cell = gg.nn.LSTMCell(3, 4)
    >>> h, c = cell(gg.randn(3))
    >>> h.shape, c.shape
    ((4,), (4,))
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"LSTMCell: expected hx as a tuple (h, c), got "
                            f"{type(hx).__name__}")
        return self._step("LSTM", input, hx)


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn))): returns
    h' from input (B, input_size) or (input_size,) and an optional h (zeros).

    >>> import gpugrad as gg
    >>> gg.nn.GRUCell(3, 4)(gg.randn(2, 3)).shape
    (2, 4)
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        return self._step("GRU", input, None if hx is None else (hx,))[0]
