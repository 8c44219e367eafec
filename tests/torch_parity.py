"""What the parity suites share: comparing a gpugrad result with PyTorch's (values, shapes
and dtype names), whatever nesting of tuples and lists of tensors the op returns."""
import numpy as np

import gpugrad as gg

try:
    import torch
except ImportError:  # the suites skip their comparisons then
    torch = None


def flat(out):
    """Tensors inside ``out`` (a tensor, or nested tuples/lists of them) in order."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flat(o)]
    return [out]


def describe(t):
    """(shape, dtype name, values) of a gpugrad or torch tensor, or the object itself."""
    if torch is not None and isinstance(t, torch.Tensor):
        return tuple(t.shape), str(t.dtype).replace("torch.", ""), t.detach().numpy()
    if isinstance(t, gg.Tensor):
        return t.shape, t.dtype.name, t.detach().numpy()
    return None, type(t).__name__, t


def assert_same(got, want, rtol=1e-6):
    """gpugrad's ``got`` equals PyTorch's ``want``: shapes, dtypes, values to ``rtol``
    (1e-3 for float16), NaN where NaN."""
    got, want = flat(got), flat(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        (gs, gd, gv), (ws, wd, wv) = describe(g), describe(w)
        assert (gs, gd) == (ws, wd), f"gpugrad {gs} {gd}, torch {ws} {wd}"
        if isinstance(wv, np.ndarray):
            tol = 1e-3 if wd == "float16" else rtol
            np.testing.assert_allclose(gv, wv, rtol=tol, atol=tol, equal_nan=True)
        else:
            assert gv == wv
