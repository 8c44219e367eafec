"""The core-op table shared by the forward-mode and second-derivative tests, and helpers.

Each case is a function of float64 tensors plus one input spec per argument: a shape and a
kind ("any", "pos" for positive, "away" for |x| >= 0.1, "nc" for a non-contiguous view).
Inputs stay away from the ops' kinks, so central differences are exact enough to compare.
"""
import numpy as np

import gpugrad as gg
from gpugrad.ops import elementwise as E
from gpugrad.ops.indexing import IndexAdd


def host(t):
    """A tensor's values as a NumPy array (copied from the GPU if needed)."""
    return t.cpu().numpy()


def make_input(rng, spec, device):
    shape, kind = spec
    if kind == "nc":  # every other column of a wider array: a strided view
        wide = rng.standard_normal(shape[:-1] + (2 * shape[-1],))
        return gg.tensor(wide, device=device)[..., ::2]
    values = rng.standard_normal(shape)
    if kind == "pos":
        values = np.abs(values) + 0.5
    elif kind == "away":
        values = np.where(values < 0, -1.0, 1.0) * (np.abs(values) + 0.1)
    return gg.tensor(values, device=device)


def random_like(rng, t):
    return gg.tensor(rng.standard_normal(t.shape), device=t.device)


def numeric_jvp(fn, inputs, tangents, eps=1e-6):
    """(f(x + eps t) - f(x - eps t)) / 2 eps, in float64."""
    def shifted(sign):
        moved = [x + t * (sign * eps) for x, t in zip(inputs, tangents)]
        return host(fn(*moved))
    return (shifted(1.0) - shifted(-1.0)) / (2 * eps)


def _clamp_input(rng, shape):
    # values kept 0.1 away from the bounds -0.5 and 0.5
    values = rng.uniform(-1.0, 1.0, shape)
    return values + 0.1 * np.sign(values - np.clip(values, -0.5, 0.5))


def _index_add(g):
    with g._backend.device_context(g.device):  # the index lives on g's device
        index = g._backend.xp.asarray([0, 2, 0])
    return IndexAdd.apply(g, index=index, shape=(4, 3))


_MASK = np.array([[True, False, True], [False, True, True]])
A = ((2, 3), "any")
V = ((4,), "any")

CASES = {
    # elementwise, with broadcasting, 0-d and strided inputs
    "add_bcast": (lambda a, b: a + b, [((3, 1), "any"), V]),
    "sub_bcast": (lambda a, b: a - b, [A, ((3,), "any")]),
    "mul_0d": (lambda a, b: a * b, [((), "any"), A]),
    "mul_nc": (lambda a, b: a * b, [((3, 4), "nc"), ((3, 4), "any")]),
    "div": (lambda a, b: a / b, [V, ((4,), "away")]),
    "div_bcast": (lambda a, b: a / b, [A, ((2, 1), "away")]),
    "rdiv_scalar": (lambda a: 2.0 / a, [((4,), "away")]),
    "neg": (lambda a: -a, [A]),
    "pow_2": (lambda a: a ** 2, [A]),
    "pow_3": (lambda a: a ** 3, [A]),
    "pow_half": (lambda a: a ** 0.5, [((4,), "pos")]),
    "pow_tensor": (lambda a, b: a ** b, [((4,), "pos"), V]),
    "rpow": (lambda a: 2.0 ** a, [V]),
    "exp": (lambda a: a.exp(), [A]),
    "log": (lambda a: a.log(), [((2, 3), "pos")]),
    "log1p": (lambda a: a.log1p(), [((2, 3), "pos")]),
    "sqrt": (lambda a: a.sqrt(), [((2, 3), "pos")]),
    "sin": (lambda a: a.sin(), [((3, 4), "nc")]),
    "cos": (lambda a: a.cos(), [A]),
    "tanh": (lambda a: a.tanh(), [A]),
    "sigmoid": (lambda a: a.sigmoid(), [A]),
    "relu": (lambda a: a.relu(), [((2, 3), "away")]),
    "abs": (lambda a: a.abs(), [((2, 3), "away")]),
    "clamp": (lambda a: a.clamp(-0.5, 0.5), [((3, 4), "clamp")]),
    "clamp_min": (lambda a: a.clamp(min=-0.5), [((3, 4), "clamp")]),
    "maximum": (lambda a, b: gg.maximum(a, b), [A, ((3,), "any")]),
    "minimum": (lambda a, b: gg.minimum(a, b), [A, A]),
    "where": (lambda a, b: gg.where(gg.tensor(_MASK, device=a.device), a, b), [A, ((3,), "any")]),
    "masked_fill": (lambda a: a.masked_fill(gg.tensor(_MASK, device=a.device), 2.0), [A]),
    "tanh_backward": (lambda g, o: E.TanhBackward.apply(g, o), [A, A]),
    "sigmoid_backward": (lambda g, o: E.SigmoidBackward.apply(g, o), [A, A]),
    # reductions, with dim / keepdim / correction
    "sum_all": (lambda a: a.sum(), [((2, 3, 2), "any")]),
    "sum_dim": (lambda a: a.sum(1), [((2, 3, 2), "nc")]),
    "sum_dims_keepdim": (lambda a: a.sum((0, 2), keepdim=True), [((2, 3, 2), "any")]),
    "sum_0d": (lambda a: (a * 3).sum(), [((), "any")]),
    "mean_dim": (lambda a: a.mean(-1), [A]),
    "var_keepdim": (lambda a: a.var(1, keepdim=True), [((3, 4), "any")]),
    "var_all_biased": (lambda a: a.var(correction=0), [((3, 4), "any")]),
    "std_dim": (lambda a: a.std(0), [((3, 4), "any")]),
    "amax_all": (lambda a: gg.amax(a), [((3, 4), "any")]),
    "amin_dims": (lambda a: gg.amin(a, (0, 2), keepdim=True), [((2, 3, 2), "any")]),
    "max_dim": (lambda a: a.max(1).values, [((3, 4), "any")]),
    "min_dim_keepdim": (lambda a: a.min(0, keepdim=True).values, [((3, 4), "any")]),
    "logsumexp": (lambda a: a.logsumexp(1), [((3, 4), "any")]),
    "logsumexp_keepdim": (lambda a: a.logsumexp((0, 1), keepdim=True), [((3, 4), "any")]),
    "sum_to_size": (lambda a: a.sum_to_size(1, 3), [((4, 3), "any")]),
    "norm_2": (lambda a: a.norm(), [A]),
    "norm_1": (lambda a: a.norm(1), [((2, 3), "away")]),
    "norm_inf": (lambda a: a.norm(float("inf")), [A]),
    "norm_3": (lambda a: a.norm(3), [((2, 3), "away")]),
    # shape ops
    "reshape": (lambda a: a.reshape(3, 2) * 1.5, [A]),
    "reshape_nc": (lambda a: a.reshape(-1), [((3, 4), "nc")]),
    "flatten": (lambda a: a.flatten(1), [((2, 3, 2), "any")]),
    "permute": (lambda a: a.permute(2, 0, 1), [((2, 3, 2), "any")]),
    "transpose": (lambda a: a.T @ a, [A]),
    "unsqueeze_squeeze": (lambda a: a.unsqueeze(1).squeeze() * a, [V]),
    "expand": (lambda a: a.expand(2, 3, 4), [((3, 1), "any")]),
    "clone": (lambda a: a.clone(), [A]),
    "to_cpu": (lambda a: a.cpu() * 2, [A]),
    "split": (lambda a: a.split(2, dim=1)[1] * a.split(2, dim=1)[0][:, :1], [((3, 4), "any")]),
    "chunk": (lambda a: a.chunk(2)[0] - a.chunk(2)[1], [((4, 3), "any")]),
    "cat": (lambda a, b: gg.cat([a, b * b], 1), [A, ((2, 2), "any")]),
    "cat_constant": (lambda a: gg.cat([a, gg.ones(2, device=a.device).double()]), [V]),
    "stack": (lambda a, b: gg.stack([a, b], 1), [V, V]),
    # indexing: views, repeated integer indices, masks
    "index_basic": (lambda a: a[1:, ::2], [((3, 4), "any")]),
    "index_int_repeat": (lambda a: a[[0, 2, 0]], [((3, 2), "any")]),
    "index_2d_arrays": (lambda a: a[[0, 1, 0], [2, 2, 1]], [((2, 3), "any")]),
    "index_mask": (lambda a: a[gg.tensor(_MASK, device=a.device)], [A]),
    "index_add_repeat": (_index_add, [((3, 3), "any")]),
    # matrix products, with batch broadcasting and 1-d operands
    "matmul": (lambda a, b: a @ b, [((2, 3), "any"), ((3, 4), "any")]),
    "matmul_batch_bcast": (lambda a, b: a @ b, [((2, 1, 3, 2), "any"), ((3, 2, 2), "any")]),
    "matvec": (lambda a, b: a @ b, [((3, 4), "any"), V]),
    "vecmat": (lambda a, b: a @ b, [V, ((4, 3), "any")]),
    "dot": (lambda a, b: a @ b, [V, V]),
    # a few compositions
    "softmax_like": (lambda a: (a - a.logsumexp(1, keepdim=True)).exp(), [A]),
    "diamond": (lambda a: (a.sin() * a.cos()) / (1 + a * a), [V]),
}

CASE_IDS = sorted(CASES)


def case_inputs(name, device, seed=0):
    """The float64 inputs of case ``name`` on ``device``."""
    fn, specs = CASES[name]
    rng = np.random.default_rng(seed)
    inputs = []
    for shape, kind in specs:
        if kind == "clamp":
            inputs.append(gg.tensor(_clamp_input(rng, shape), device=device))
        else:
            inputs.append(make_input(rng, (shape, kind), device))
    return fn, inputs

