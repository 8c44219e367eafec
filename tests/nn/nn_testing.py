"""Helpers shared by the nn tests: torch references, jvp checks, float64 inputs."""
import numpy as np

import gpugrad as gg

try:
    import torch
except ImportError:  # the comparisons with PyTorch are skipped where it is missing
    torch = None


def t64(array, device="cpu", requires_grad=True):
    """A float64 gpugrad tensor from ``array``."""
    return gg.tensor(np.asarray(array, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


def host(t):
    """A gpugrad tensor's values as a NumPy array (copied from the GPU if needed)."""
    return t.cpu().numpy()


def torch_of(array, requires_grad=False):
    return torch.tensor(np.asarray(array), requires_grad=requires_grad)


def check_jvp(cls, inputs, tangents, step=1e-6, atol=1e-6, rtol=1e-5, **params):
    """A Function's jvp rule against central differences of its forward, in float64.

    Calls the rule directly (ctx.inputs / ctx.output set by hand), so it works before the
    forward-mode machinery lands.
    """
    out = cls.apply(*inputs, **params)
    ctx = out.grad_fn
    ctx.inputs, ctx.output = tuple(inputs), out
    got = host(cls.jvp(ctx, *tangents))

    def shifted(sign):
        moved = [x if t is None else x._like(x.array + sign * step * t.array)
                 for x, t in zip(inputs, tangents)]
        with gg.no_grad():
            return host(cls.apply(*moved, **params))
    numeric = (shifted(1.0) - shifted(-1.0)) / (2 * step)
    np.testing.assert_allclose(got, numeric, atol=atol, rtol=rtol)
