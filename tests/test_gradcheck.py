"""gradcheck must pass correct gradients and catch wrong ones, in both of its modes."""
import pytest

import gpugrad as gg
from gpugrad.autograd import Function


class WrongSquare(Function):
    """x ** 2 whose backward forgets the factor 2 in one entry."""

    saves_inputs = (0,)

    @staticmethod
    def forward(ctx, xp, a):
        return a * a

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        scale = a._like(a._backend.xp.full(a.shape, 2.0))
        scale.array.reshape(-1)[-1] = 1.0
        return g * a * scale


@pytest.mark.parametrize("n", [3, 5000])  # full Jacobian mode, random-projection mode
def test_gradcheck_catches_a_wrong_backward(n):
    x = gg.randn(n, dtype=gg.float64, requires_grad=True)
    assert gg.gradcheck(lambda t: t * t, [x])
    with pytest.raises(gg.GradcheckError, match="analytic"):
        gg.gradcheck(lambda t: WrongSquare.apply(t), [x])


def test_gradcheck_runs_in_float64_even_for_float32_inputs():
    x = gg.randn(4, requires_grad=True)  # float32
    assert gg.gradcheck(lambda t: (t * 3).exp(), [x], atol=1e-7)


def test_gradcheck_needs_a_differentiable_input():
    with pytest.raises(ValueError, match="requires grad"):
        gg.gradcheck(lambda t: t * 2, [gg.ones(2)])
