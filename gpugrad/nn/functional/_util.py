"""Helpers shared by the fused ops of this package."""
from ...autograd.grad_mode import state


def differentiating():
    """Will what a backward or jvp rule computes now be differentiated again?

    True while a graph is recorded (double backward) or forward-mode tangents flow (forward
    over reverse, nested jvp). Fused rules then rebuild input-dependent quantities (softmax,
    rstd) with Tensor ops of the inputs; otherwise they use the constants forward saved.
    """
    return state.grad_enabled or bool(state.forward_levels)
