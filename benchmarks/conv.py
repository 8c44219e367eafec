"""Convolution and pooling speed: an MNIST convnet training step and its conv / pool ops,
gpugrad against PyTorch CPU, float32.

Workloads (batch 64, 28x28 inputs):

* ``step``: Conv2d(1, 32, 3) - relu - Conv2d(32, 64, 3) - relu - MaxPool2d(2) - flatten -
  Linear(9216, 128) - relu - Linear(128, 10), cross-entropy, SGD with momentum 0.9;
  forward, backward and update. Both libraries start from the same weights.
* ``conv1``, ``conv2``: ``F.conv2d`` forward + backward at the two convolutions' shapes,
  (64, 1, 28, 28) * (32, 1, 3, 3) and (64, 32, 26, 26) * (64, 32, 3, 3), with bias; the
  first without an input gradient (as for the data), the second with one.
* ``maxpool``: ``F.max_pool2d(x, 2)`` forward + backward on (64, 64, 24, 24).

After warm-up the libraries alternate, round by round, each timing ``--steps`` calls per
round; the script prints the median ms per call of each library and the median of the
per-round ratios gpugrad / PyTorch. Without PyTorch it prints gpugrad's times only.

This process unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE before NumPy loads (they would
tune OpenBLAS away from how users run it) and limits BLAS to ``--threads`` threads (1 by
default): through threadpoolctl when it is installed, else through the environment; PyTorch
gets ``torch.set_num_threads(--threads)``. It prints which BLAS NumPy uses.

    python benchmarks/conv.py [--steps 5] [--rounds 11] [--threads 1] [--only step,conv2]
                              [--quick]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _blas  # noqa: E402
import _versus  # noqa: E402

BATCH, SIDE, LR, MOMENTUM = 64, 28, 0.01, 0.9


def parse_args(argv=None):
    parser = _versus.argument_parser(__doc__, "call")
    parser.add_argument("--only", default=None,
                        help="comma-separated workloads to run (step, conv1, conv2, maxpool)")
    return _versus.parse(parser, "call", argv)


ARGS = parse_args() if __name__ == "__main__" else None
# BLAS reads its settings when NumPy loads: set them before any import of NumPy.
_blas.clean_environment(ARGS.threads if ARGS is not None else None)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gpugrad  # noqa: E402


def mnist_net(lib):
    """The PyTorch MNIST example's convnet (without dropout), for ``lib`` = gpugrad or torch."""
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3)
            self.conv2 = nn.Conv2d(32, 64, 3)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv2(F.relu(self.conv1(x))))
            x = F.max_pool2d(x, 2).flatten(1)
            return self.fc2(F.relu(self.fc1(x)))

    return Net()


class Step:
    """One model, its SGD and one fixed batch; ``__call__`` is forward, backward, update,
    and returns the loss."""

    def __init__(self, lib, weights, images, labels):
        self.lib = lib
        self.model = _versus.load_weights(lib, mnist_net(lib), weights)
        self.opt = lib.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM)
        self.x, self.y = lib.from_numpy(images), lib.from_numpy(labels)

    def __call__(self, read=True):
        self.opt.zero_grad()
        loss = self.lib.nn.functional.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss.item()


class OpCall:
    """``op`` forward + backward (with a fixed random output gradient) on fixed arrays;
    ``__call__`` returns the sum of the gradients, read only when ``read`` is set."""

    def __init__(self, lib, op, arrays, grads, out_grad):
        self.lib, self.op = lib, op
        self.inputs = [lib.from_numpy(a).requires_grad_(g) for a, g in zip(arrays, grads)]
        self.out_grad = lib.from_numpy(out_grad)

    def __call__(self, read=False):
        for t in self.inputs:
            t.grad = None
        out = self.op(self.lib, *self.inputs)
        out.backward(self.out_grad)
        if read:
            return sum(t.grad.double().sum().item() for t in self.inputs if t.requires_grad)
        return None


def _conv(lib, x, w, b):
    return lib.nn.functional.conv2d(x, w, b)


def _maxpool(lib, x):
    return lib.nn.functional.max_pool2d(x, 2)


def _randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def step_workload(libs):
    weights = _versus.shared_weights(gpugrad, mnist_net)
    rng = np.random.default_rng(1)
    images = _randn(rng, BATCH, 1, SIDE, SIDE)
    labels = rng.integers(0, 10, BATCH).astype(np.int64)
    return {name: Step(lib, weights, images, labels) for name, lib in libs.items()}


def op_workload(libs, op, shapes, grads, out_shape):
    rng = np.random.default_rng(2)
    arrays = [_randn(rng, *shape) for shape in shapes]
    out_grad = _randn(rng, *out_shape)
    return {name: OpCall(lib, op, arrays, grads, out_grad) for name, lib in libs.items()}


WORKLOADS = {
    "step": step_workload,
    "conv1": lambda libs: op_workload(libs, _conv, [(BATCH, 1, 28, 28), (32, 1, 3, 3), (32,)],
                                      [False, True, True], (BATCH, 32, 26, 26)),
    "conv2": lambda libs: op_workload(libs, _conv,
                                      [(BATCH, 32, 26, 26), (64, 32, 3, 3), (64,)],
                                      [True, True, True], (BATCH, 64, 24, 24)),
    "maxpool": lambda libs: op_workload(libs, _maxpool, [(BATCH, 64, 24, 24)], [True],
                                        (BATCH, 64, 12, 12)),
}


def run_workload(name, libs, args):
    calls = WORKLOADS[name](libs)
    first = {lib_name: call(read=True) for lib_name, call in calls.items()}  # same values
    for call in calls.values():
        for _ in range(args.warmup - 1):
            call()
    per_call = _versus.alternate(calls, args.rounds, args.steps)
    return first, per_call


def report(name, first, per_call):
    label = "first-step loss" if name == "step" else "first-call gradient sum"
    _versus.report(name, label, first, per_call, "call")


def main():
    args = ARGS or parse_args()
    libs = _versus.start(gpugrad, args.threads)
    print(f"numpy {np.__version__}; batch {BATCH}, {SIDE}x{SIDE} inputs, float32; "
          f"{args.warmup} warm-up calls, {args.rounds} rounds x {args.steps} calls")
    names = args.only.split(",") if args.only else list(WORKLOADS)

    def run(name):
        report(name, *run_workload(name, libs, args))
    sys.exit(_versus.run_each(names, run))


if __name__ == "__main__":
    main()
