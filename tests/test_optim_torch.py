"""Each optimizer against ``torch.optim`` on the same gradient sequence, float64, to 1e-10."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.optim  # noqa: F401  (gpugrad/__init__ may not import it yet)
from gpugrad.sparse import RowSparseGrad

from test_optim import STEPS, _assert_close, _problem, run_gpugrad

torch = pytest.importorskip("torch")

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.01, momentum=0.9, maximize=True)),
    ("Adam", dict(lr=0.1)),
    ("Adam", dict(lr=0.1, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.1, betas=(0.5, 0.9), maximize=True)),
    ("AdamW", dict(lr=0.1, weight_decay=0.1)),
    ("AdamW", dict(lr=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.9, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5,
                     eps=1e-6)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.1)),
    ("Adamax", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.1)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
]


@pytest.fixture(autouse=True)
def _torch_float64():
    # torch keeps scalar state (NAdam's mu_product, steps) in the default dtype: make it float64.
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def run_torch(name, hyper, seed=0):
    start, grad_at = _problem(seed)
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in start]
    opt = getattr(torch.optim, name)(params, **hyper)
    for t in range(STEPS):
        grads = grad_at([p.detach().numpy() for p in params], t)
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize("name,hyper", CASES,
                         ids=[f"{n}-{'-'.join(map(str, h.values()))}" for n, h in CASES])
def test_matches_torch(name, hyper, device):
    ours = run_gpugrad(getattr(gg.optim, name), hyper, device)
    _assert_close(ours, run_torch(name, hyper))


def _sparse_grads(seed, steps, rows=6, cols=3):
    """Per step: row indices (with repeats) and their gradient rows."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        idx = rng.integers(0, rows, size=4)
        out.append((idx, rng.standard_normal((4, cols))))
    return out


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")
@pytest.mark.parametrize("name,hyper", [("SGD", dict(lr=0.1)),
                                        ("SGD", dict(lr=0.1, maximize=True)),
                                        ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
                                        ("SparseAdam", dict(lr=0.05)),
                                        ("SparseAdam", dict(lr=0.05, maximize=True))])
def test_sparse_matches_torch(name, hyper):
    start = np.random.default_rng(1).standard_normal((6, 3))
    grads = _sparse_grads(2, 20)
    ours = gg.nn.Parameter(gg.tensor(start))
    theirs = torch.tensor(start, requires_grad=True)
    opt = getattr(gg.optim, name)([ours], **hyper)
    torch_opt = getattr(torch.optim, name)([theirs], **hyper)
    for idx, values in grads:
        ours.grad = RowSparseGrad(idx, values, (6, 3))
        theirs.grad = torch.sparse_coo_tensor(torch.tensor(idx)[None], torch.tensor(values),
                                              (6, 3))
        opt.step()
        torch_opt.step()
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
