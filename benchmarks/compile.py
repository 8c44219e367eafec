"""``gg.compile`` against eager gpugrad and PyTorch CPU eager: training steps replayed.

Workloads, float32, 1 BLAS thread by default:

* ``chain``: a 2000-op chain of mul, add, tanh on 4 floats, forward + backward (per op).
* ``mlp``: Linear 784-512-512-10 with ReLU, cross-entropy, SGD, batch 128; also a step
  written by hand in NumPy (the floor of a NumPy-backed library).
* ``convnet``: the MNIST convnet of ``benchmarks/conv.py``, batch 64, SGD with momentum.
* ``transformer``: the 2-block transformer LM of ``benchmarks/sequence.py``, AdamW.
* ``digits``: the main job's training (``examples/train_digits.py`` on one CPU device,
  ``Trainer(compile=True)`` against the eager Trainer); one step is one epoch.

Every step is forward, backward and the optimizer's update and returns the loss read with
``.item()``. The compiled step is ``gg.compile`` of the same function: its first two calls
trace, later calls replay. All variants start from the same weights; the first-step losses
are printed as a check. After warm-up the variants alternate round by round; the script
prints the median time per step of each and ratios measured in the same rounds. When JAX
is installed, the chain and the MLP also run as ``jax.jit`` steps (value and gradient, the
SGD update inside the jitted function), held to one thread with ``--threads 1``.

This process unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE before NumPy loads and limits
BLAS to ``--threads`` threads (see benchmarks/_blas.py); PyTorch gets the same count.

    python benchmarks/compile.py [--steps 5] [--rounds 11] [--threads 1]
                                 [--only chain,mlp,convnet,transformer,digits] [--quick]
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _blas  # noqa: E402
import _versus  # noqa: E402


def parse_args(argv=None):
    parser = _versus.argument_parser(__doc__, "step")
    parser.add_argument("--only", default=None,
                        help="comma-separated workloads (chain, mlp, convnet, transformer, "
                             "digits)")
    return _versus.parse(parser, "step", argv)


ARGS = parse_args() if __name__ == "__main__" else None
_blas.clean_environment(ARGS.threads if ARGS is not None else None)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gpugrad as gg  # noqa: E402
import conv  # noqa: E402
import mlp  # noqa: E402
import sequence  # noqa: E402

CHAIN_OPS = 2000


def chain(x, c, tanh):
    y = x
    for i in range(CHAIN_OPS):
        k = i % 3
        y = y * c if k == 0 else y + c if k == 1 else tanh(y)
    return y


def chain_steps(libs):
    """{variant: step}: the chain's forward + backward; each step returns the output."""
    x = gg.tensor(np.full(4, 0.5, np.float32), requires_grad=True)
    c = gg.tensor(np.full(4, 0.9, np.float32))

    def step(x, c):
        x.grad = None
        y = chain(x, c, gg.tanh).sum()
        y.backward()
        return y
    compiled = gg.compile(step)
    steps = {"eager": lambda: step(x, c).item(), "compiled": lambda: compiled(x, c).item()}
    jax = _jax()
    if jax is not None:
        jnp = jax.numpy
        grad_fn = jax.jit(jax.value_and_grad(lambda x, c: chain(x, c, jnp.tanh).sum()))
        jx, jc = jnp.full(4, 0.5, jnp.float32), jnp.full(4, 0.9, jnp.float32)
        steps["jax.jit"] = lambda: float(grad_fn(jx, jc)[0])
    if "pytorch" in libs:
        torch = libs["pytorch"]
        tx = torch.full((4,), 0.5, requires_grad=True)
        tc = torch.full((4,), 0.9)

        def torch_step():
            tx.grad = None
            y = chain(tx, tc, torch.tanh).sum()
            y.backward()
            return y.item()
        steps["pytorch"] = torch_step
    return steps


def model_steps(libs, build, batch, optimizer):
    """{variant: step} for a model: eager and compiled gpugrad, PyTorch, from one set of
    weights; ``batch(lib)`` gives (x, y), ``optimizer(lib, params)`` the optimizer."""
    weights = _versus.shared_weights(gg, build)
    steps = {}
    for variant in ("eager", "compiled", "pytorch"):
        lib = gg if variant != "pytorch" else libs.get("pytorch")
        if lib is None:
            continue
        steps[variant] = _training_step(lib, build, weights, batch, optimizer,
                                        compiled=variant == "compiled")
    return steps


def _training_step(lib, build, weights, batch, optimizer, compiled):
    model = _versus.load_weights(lib, build(lib), weights)
    opt = optimizer(lib, model.parameters())
    x, y = batch(lib)
    cross_entropy = lib.nn.functional.cross_entropy

    def step(x, y):
        opt.zero_grad()
        logits = model(x)
        loss = cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss
    run = gg.compile(step) if compiled else step
    return lambda: run(x, y).item()


def mlp_build(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 10))


def mlp_steps(libs):
    images, labels = mlp._batch(128)
    steps = model_steps(libs, mlp_build, lambda lib: (lib.from_numpy(images),
                                                      lib.from_numpy(labels)),
                        lambda lib, params: lib.optim.SGD(params, lr=mlp.LR))
    weights = _pairs(_versus.shared_weights(gg, mlp_build))
    hand = mlp.HandNumpy()
    hand.layers = [(p.copy(), q.copy()) for p, q in weights]
    steps["hand numpy"] = lambda: hand.step(images, labels)
    jax = _jax()
    if jax is not None:
        steps["jax.jit"] = _jax_mlp_step(jax, weights, images, labels)
    return steps


def _jax():
    """JAX when it is installed (None otherwise), held to one thread for --threads 1."""
    try:
        import jax
    except ImportError:
        return None
    return jax


def _jax_mlp_step(jax, weights, images, labels):
    """The MLP's SGD step as one ``jax.jit`` function of the parameters."""
    jnp = jax.numpy

    def loss(params, x, y):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w.T + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h)
        return -jnp.take_along_axis(logp, y[:, None], axis=1).mean()

    @jax.jit
    def step(params, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        return value, jax.tree_util.tree_map(lambda p, g: p - mlp.LR * g, params, grads)
    state = {"params": [(jnp.asarray(w), jnp.asarray(b)) for w, b in weights]}
    x, y = jnp.asarray(images), jnp.asarray(labels)

    def run():
        value, state["params"] = step(state["params"], x, y)
        return float(value)
    return run


def _pairs(weights):
    arrays = list(weights.values())
    return list(zip(arrays[0::2], arrays[1::2]))


def convnet_steps(libs):
    rng = np.random.default_rng(1)
    images = rng.standard_normal((conv.BATCH, 1, conv.SIDE, conv.SIDE)).astype(np.float32)
    labels = rng.integers(0, 10, conv.BATCH)
    return model_steps(libs, conv.mnist_net,
                       lambda lib: (lib.from_numpy(images), lib.from_numpy(labels)),
                       lambda lib, params: lib.optim.SGD(params, lr=conv.LR,
                                                         momentum=conv.MOMENTUM))


def transformer_steps(libs):
    tokens = np.random.default_rng(1).integers(0, sequence.VOCAB,
                                               (sequence.BATCH, sequence.SEQ + 1))
    return model_steps(
        libs, sequence.transformer_lm,
        lambda lib: (lib.from_numpy(np.ascontiguousarray(tokens[:, :-1])),
                     lib.from_numpy(np.ascontiguousarray(tokens[:, 1:]))),
        lambda lib, params: lib.optim.AdamW(params, lr=sequence.LR))


def digits_steps(libs):
    """The main job (examples/train_digits.py) on one CPU device: one epoch per step."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "examples"))
    from digits_common import load_digits_tensors, make_mlp  # needs scikit-learn
    train, _ = load_digits_tensors(seed=0)
    steps = {}
    for variant in ("eager", "compiled"):
        gg.manual_seed(0)
        model = make_mlp()
        trainer = gg.train.Trainer(model, gg.optim.Adam(model.parameters(), lr=2e-3),
                                   gg.nn.functional.cross_entropy, devices=["cpu"],
                                   progress=False, seed=0, compile=variant == "compiled")

        def epoch(trainer=trainer):
            return trainer.fit(train, epochs=trainer.epoch + 1, batch_size=32).last("loss")
        steps[variant] = epoch
    return steps


WORKLOADS = {"chain": chain_steps, "mlp": mlp_steps, "convnet": convnet_steps,
             "transformer": transformer_steps, "digits": digits_steps}


def run_workload(name, libs, args):
    steps = WORKLOADS[name](libs)
    first = {variant: step() for variant, step in steps.items()}
    for step in steps.values():
        for _ in range(args.warmup + 1):  # the compiled step traces twice
            step()
    times = _versus.alternate(steps, args.rounds, args.steps)
    report(name, first, times)
    return times


def report(name, first, times):
    per = CHAIN_OPS / 1e3 if name == "chain" else 1.0  # chain: microseconds per op
    unit = "us/op" if name == "chain" else "ms/epoch" if name == "digits" else "ms/step"
    print(f"\n{name}: first-step value " +
          ", ".join(f"{v} {x:.6g}" for v, x in first.items()))
    for variant, ms in times.items():
        print(f"  {variant:<11}{statistics.median(ms) / per:>9.2f} {unit}")
    for a, b in (("compiled", "pytorch"), ("eager", "pytorch"), ("compiled", "eager"),
                 ("compiled", "hand numpy"), ("eager", "hand numpy"), ("jax.jit", "pytorch")):
        if a in times and b in times:
            ratios = [x / y for x, y in zip(times[a], times[b])]
            print(f"  {a} / {b}: {statistics.median(ratios):.2f}x (median per-round ratio)")


def main():
    args = ARGS or parse_args()
    libs = _versus.start(gg, args.threads)
    print(f"numpy {np.__version__}; {args.warmup} warm-up steps (+1 for tracing), "
          f"{args.rounds} rounds x {args.steps} steps")
    names = args.only.split(",") if args.only else list(WORKLOADS)
    sys.exit(_versus.run_each(names, lambda name: run_workload(name, libs, args)))


if __name__ == "__main__":
    main()
