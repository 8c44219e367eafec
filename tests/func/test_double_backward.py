"""Second derivatives of every core op: ``gg.grad(..., create_graph=True)`` checked by
``gradcheck`` against central differences of the first derivative, in float64."""
import numpy as np
import pytest

import gpugrad as gg
from func_testing import CASE_IDS, case_inputs, random_like


def _first_derivative(fn, cotangent):
    """x -> J(x)^T v as a function gradcheck can differentiate again."""
    def grads(*xs):
        with gg.enable_grad():  # gradcheck evaluates it under no_grad for the numeric side
            xs = [x if x.requires_grad else x.detach().requires_grad_() for x in xs]
            out = fn(*xs)
            gs = gg.grad(out, xs, grad_outputs=cotangent, create_graph=True,
                         allow_unused=True)
        return tuple(g for g in gs if g is not None)
    return grads


@pytest.mark.parametrize("name", CASE_IDS)
def test_second_derivative(name, device):
    fn, inputs = case_inputs(name, device)
    cotangent = random_like(np.random.default_rng(4), fn(*inputs))
    inputs = [x.requires_grad_() for x in inputs]
    assert gg.gradcheck(_first_derivative(fn, cotangent), inputs, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "exp", "log", "sqrt", "diamond", "var_keepdim",
                                  "logsumexp", "std_dim", "pow_tensor"])
def test_third_derivative_by_nested_grad(name, device):
    """d/dx of the second derivative, through ``gg.func.grad`` three times deep."""
    fn, inputs = case_inputs(name, device)
    x = inputs[0]
    rest = inputs[1:]
    scalar = lambda a: fn(a, *rest).sum()  # noqa: E731
    d2 = gg.func.grad(lambda a: (gg.func.grad(scalar)(a) * gg.ones_like(a)).sum())
    d3 = gg.func.grad(lambda a: d2(a).sum())(x)
    eps = 1e-5
    shift = lambda s: d2(x + s * eps).sum().item()  # noqa: E731  sum of d3 along ones
    numeric = (shift(1.0) - shift(-1.0)) / (2 * eps)
    assert d3.sum().item() == pytest.approx(numeric, rel=1e-4, abs=1e-5)
