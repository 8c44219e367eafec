"""Small PyTorch-style programs trained on PyTorch and on gpugrad from the same initial
weights: the losses of 20 steps and the final weights agree to 1e-10 in float64.

Without PyTorch installed the comparisons skip, and the gpugrad runs are still checked to
train (the loss goes down).
"""
import importlib.util
import pathlib
import sys

import numpy as np
import pytest

import gpugrad

try:
    import torch as real_torch
except ImportError:  # the comparisons skip; the gpugrad runs do not need PyTorch
    real_torch = None

HERE = pathlib.Path(__file__).parent
PROGRAMS = ["gpt_block", "lstm_lm", "encoder_classifier"]
STEPS = 20
TOL = 1e-10
needs_torch = pytest.mark.skipif(real_torch is None, reason="PyTorch is not installed")

# The modules a PyTorch program imports, and gpugrad's module standing in for each.
TORCH_MODULES = {
    "torch": gpugrad,
    "torch.nn": gpugrad.nn,
    "torch.nn.functional": gpugrad.nn.functional,
    "torch.optim": gpugrad.optim,
    "torch.nn.utils": gpugrad.nn.utils,
    "torch.nn.utils.rnn": gpugrad.nn.utils.rnn,
}


def load(name, as_gpugrad=False):
    """Execute ``tests/programs/<name>.py`` as a fresh module; with ``as_gpugrad`` its
    ``import torch`` statements get gpugrad. sys.modules is restored afterwards."""
    spec = importlib.util.spec_from_file_location(
        f"_program_{name}_{'gpugrad' if as_gpugrad else 'torch'}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    saved = {key: sys.modules.get(key) for key in TORCH_MODULES}
    try:
        if as_gpugrad:
            sys.modules.update(TORCH_MODULES)
        spec.loader.exec_module(module)
    finally:
        for key, previous in saved.items():
            if previous is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = previous
    return module


def assert_same_training(expected, actual):
    """Two (losses, state) results agree to TOL, name by name."""
    (losses_a, state_a), (losses_b, state_b) = expected, actual
    assert len(losses_a) == len(losses_b) == STEPS
    np.testing.assert_allclose(losses_b, losses_a, rtol=TOL, atol=TOL)
    assert list(state_b) == list(state_a)
    for name, value in state_a.items():
        assert state_b[name].shape == value.shape, name
        np.testing.assert_allclose(state_b[name], value, rtol=TOL, atol=TOL, err_msg=name)


def assert_trains(losses):
    assert len(losses) == STEPS
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.9 * losses[0], losses


@needs_torch
@pytest.mark.parametrize("name", PROGRAMS)
def test_program_matches_pytorch(name):
    program = load(name)
    _, initial = program.run(real_torch, steps=0)
    expected = program.run(real_torch, steps=STEPS, init_state=initial)
    assert_trains(expected[0])
    assert_same_training(expected, program.run(gpugrad, steps=STEPS, init_state=initial))


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_trains_on_gpugrad(name):
    losses, state = load(name).run(gpugrad, steps=STEPS)
    assert_trains(losses)
    assert all(isinstance(value, np.ndarray) for value in state.values())
    assert gpugrad.get_default_dtype() == gpugrad.float32  # run restored the default


def test_import_torch_gets_gpugrad():
    program = load("gru_tagger", as_gpugrad=True)
    assert program.torch is gpugrad
    assert program.nn is gpugrad.nn and program.F is gpugrad.nn.functional
    assert program.optim is gpugrad.optim
    assert program.pack_padded_sequence is gpugrad.nn.utils.rnn.pack_padded_sequence
    assert issubclass(program.Tagger, gpugrad.nn.Module)
    for key in TORCH_MODULES:  # load put sys.modules back
        assert sys.modules.get(key) is not TORCH_MODULES[key], key
    assert_trains(program.run(steps=STEPS)[0])


@needs_torch
def test_import_torch_program_matches_pytorch():
    program = load("gru_tagger")
    assert program.torch is real_torch
    _, initial = program.run(steps=0)
    expected = program.run(steps=STEPS, init_state=initial)
    actual = load("gru_tagger", as_gpugrad=True).run(steps=STEPS, init_state=initial)
    assert_same_training(expected, actual)
