"""Inputs that PyTorch rejects and earlier gpugrad accepted silently (or answered with an
internal error): each case is written once against a module ``m`` (gpugrad or torch) and
must raise in gpugrad an exception of the kind PyTorch raises, whose message names the op.

PyTorch reports integer kernels it lacks as ``NotImplementedError``, a ``RuntimeError``
subclass; gpugrad raises a ``RuntimeError`` there too, so ``except RuntimeError`` catches
both.
"""
import numpy as np
import pytest

import gpugrad as gg

try:
    import torch
except ImportError:  # the kinds below are still checked, PyTorch's own are not
    torch = None


def _param(m, *shape):
    return m.nn.Parameter(m.ones(*shape))


def _wrong_grad_shape(m):
    p = _param(m, 3)
    opt = m.optim.SGD([p], lr=0.1)
    if m is gg:
        p.grad = gg.ones(1)  # PyTorch refuses already here, gpugrad at the step
    else:
        p.grad = torch.ones(1)
    opt.step()


def _f(m):
    return m.nn.functional


# (case, what the op is called in the message, gpugrad's kind, the function of m)
CASES = [
    ("softmax of int64", "softmax", RuntimeError,
     lambda m: _f(m).softmax(m.tensor([1, 2]), 0)),
    ("log_softmax of int64", "log_softmax", RuntimeError,
     lambda m: _f(m).log_softmax(m.tensor([1, 2]), 0)),
    ("gelu of int64", "gelu", RuntimeError, lambda m: _f(m).gelu(m.tensor([1, 2]))),
    ("layer_norm of int64", "layer_norm", RuntimeError,
     lambda m: _f(m).layer_norm(m.tensor([[1, 2]]), (2,))),
    ("norm of int64", "norm", RuntimeError, lambda m: m.tensor([1, 2]).norm()),
    ("cross_entropy of int64 logits", "cross_entropy", RuntimeError,
     lambda m: _f(m).cross_entropy(m.tensor([[1, 2]]), m.tensor([0]))),
    ("matmul float64 @ float32", "matmul", RuntimeError,
     lambda m: m.ones(2, 3, dtype=m.float64) @ m.ones(3, 2)),
    ("matmul int64 @ float32", "matmul", RuntimeError,
     lambda m: m.ones(2, 3, dtype=m.int64) @ m.ones(3, 2)),
    ("Linear on float64", "linear", RuntimeError,
     lambda m: m.nn.Linear(3, 2)(m.ones(2, 3, dtype=m.float64))),
    ("Linear on int64", "linear", RuntimeError,
     lambda m: m.nn.Linear(3, 2)(m.ones(2, 3, dtype=m.int64))),
    ("conv2d on float64", "conv2d", RuntimeError,
     lambda m: _f(m).conv2d(m.ones(1, 1, 3, 3, dtype=m.float64), m.ones(1, 1, 2, 2))),
    ("masked_fill with an int64 mask", "masked_fill", RuntimeError,
     lambda m: m.ones(2).masked_fill(m.tensor([1, 0]), 0.0)),
    ("masked_fill with a 1-d value", "masked_fill", RuntimeError,
     lambda m: m.ones(2).masked_fill(m.tensor([True, False]), m.ones(2))),
    ("where with an int64 condition", "where", RuntimeError,
     lambda m: m.where(m.tensor([1, 0]), m.ones(2), m.zeros(2))),
    ("gather at -1", "gather", RuntimeError,
     lambda m: m.gather(m.ones(3), 0, m.tensor([-1]))),
    ("gather past the end", "gather", RuntimeError,
     lambda m: m.gather(m.ones(3), 0, m.tensor([3]))),
    ("gather with an index wider than the input", "gather", RuntimeError,
     lambda m: m.gather(m.ones(2, 2), 0, m.zeros(2, 3, dtype=m.int64))),
    ("index_select at -1", "index_select", IndexError,
     lambda m: m.index_select(m.ones(3), 0, m.tensor([-1]))),
    ("scatter_add at -1", "scatter_add", RuntimeError,
     lambda m: m.zeros(3).scatter_add(0, m.tensor([-1]), m.ones(1))),
    ("scatter_add with src smaller than index", "scatter_add", RuntimeError,
     lambda m: m.zeros(3).scatter_add(0, m.tensor([0, 1]), m.ones(1))),
    ("reshape with -2", "reshape", RuntimeError, lambda m: m.ones(4).reshape(-2, 2)),
    ("reshape with two -1", "reshape", RuntimeError, lambda m: m.ones(4).reshape(-1, -1)),
    ("int64 // 0", "floor_divide", RuntimeError, lambda m: m.tensor([1]) // 0),
    ("int64 % 0", "remainder", RuntimeError, lambda m: m.tensor([1]) % 0),
    ("conv2d stride 0", "conv2d", RuntimeError,
     lambda m: _f(m).conv2d(m.ones(1, 1, 3, 3), m.ones(1, 1, 2, 2), stride=0)),
    ("conv2d negative padding", "conv2d", RuntimeError,
     lambda m: _f(m).conv2d(m.ones(1, 1, 3, 3), m.ones(1, 1, 2, 2), padding=-1)),
    ("conv2d bias of the wrong length", "conv2d", RuntimeError,
     lambda m: _f(m).conv2d(m.ones(1, 1, 3, 3), m.ones(1, 1, 2, 2), bias=m.ones(3))),
    ("Conv2d(kernel_size=0) called", "conv2d", RuntimeError,
     lambda m: m.nn.Conv2d(1, 1, 0)(m.ones(1, 1, 3, 3))),
    ("max_pool2d kernel 0", "max_pool2d", RuntimeError,
     lambda m: _f(m).max_pool2d(m.ones(1, 1, 3, 3), 0)),
    ("avg_pool2d kernel 0", "avg_pool2d", RuntimeError,
     lambda m: _f(m).avg_pool2d(m.ones(1, 1, 3, 3), 0)),
    ("optimizer of a non-leaf", "non-leaf", ValueError,
     lambda m: m.optim.SGD([m.ones(2, requires_grad=True) * 2], lr=0.1)),
    ("a .grad of another shape", "grad", RuntimeError, _wrong_grad_shape),
    ("leaky_relu with a string slope", "leaky_relu", TypeError,
     lambda m: _f(m).leaky_relu(m.ones(2), "0.1")),
    ("a NumPy array into a module", "linear", TypeError,
     lambda m: m.nn.Linear(2, 2)(np.ones((1, 2), np.float32))),
    ("round of a Python float", "round", TypeError, lambda m: m.round(0.5)),
]


@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch warns on Conv2d(kernel_size=0)
@pytest.mark.parametrize("what, op, kind, case", CASES, ids=[c[0] for c in CASES])
def test_rejected_like_pytorch(what, op, kind, case):
    with pytest.raises(Exception) as ours:
        case(gg)
    err = ours.value
    assert isinstance(err, kind), f"{what}: {type(err).__name__}: {err}"
    assert op.replace("_", "") in str(err).replace("_", "").lower(), \
        f"{what}: the message does not name {op!r}: {err}"
    if torch is not None:
        with pytest.raises(Exception) as theirs:
            case(torch)
        assert isinstance(theirs.value, kind), \
            f"{what}: PyTorch raises {type(theirs.value).__name__}, the table says {kind}"
        # NotImplementedError (PyTorch's missing integer kernels) counts as RuntimeError.
        same = RuntimeError if isinstance(theirs.value, RuntimeError) else type(theirs.value)
        assert isinstance(err, same), \
            f"{what}: PyTorch raises {type(theirs.value).__name__}, gpugrad " \
            f"{type(err).__name__}: {err}"


def test_comparisons_with_non_numbers_are_not_implemented_like_pytorch():
    t = gg.ones(2)
    assert (t == None) is False  # noqa: E711  (the point: PyTorch's answer, not an error)
    assert (t != "x") is True
    with pytest.raises(TypeError):
        t < None  # noqa: B015


def test_valid_neighbours_of_the_bad_cases_still_work():
    """The checks reject exactly the bad inputs: the edge values next to them pass."""
    assert gg.gather(gg.tensor([1.0, 2.0, 3.0]), 0, gg.tensor([2, 0])).tolist() == [3.0, 1.0]
    assert gg.zeros(3).scatter_add(0, gg.tensor([2]), gg.ones(2)).tolist() == [0.0, 0.0, 1.0]
    assert gg.ones(4).reshape(-1, 2).shape == (2, 2)
    assert gg.ones(2).masked_fill(gg.tensor([True, False]), gg.tensor(0.0)).tolist() == [0, 1]
    assert gg.where(gg.tensor([True, False]), 1.0, 0.0).tolist() == [1.0, 0.0]
    out = gg.nn.functional.conv2d(gg.ones(1, 1, 3, 3), gg.ones(1, 1, 2, 2), padding=0)
    assert out.shape == (1, 1, 2, 2)
