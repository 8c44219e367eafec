"""A learning-rate sweep: the digits MLP trained once per learning rate. The sweep is one
TensorBoard folder (``runs/lr_sweepN``) with one experiment per learning rate in it
(``lr_1e-01/train``, ``lr_1e-01/validation``, ...), so ``tensorboard --logdir
runs/lr_sweepN`` overlays every run's ``epoch_loss`` in one chart (switch its y axis to log
scale: the diverged runs' losses are orders of magnitude above the others) and the HPARAMS
tab lists one row per learning rate, ``lr`` a number it can put on a log axis.

    python examples/lr_sweep.py --lrs 0.3,0.1,0.03,0.01 --epochs 10

Too high a learning rate oscillates or diverges, too low a one stalls. A run whose final
loss is not finite, or above chance level (ln 10 for ten classes, what guessing scores), is
reported as diverged; huge losses print in scientific notation.
"""
import argparse
import math
import os

import numpy as np

import gpugrad as gg
import gpugrad.nn.functional as F
from digits_common import load_digits_tensors, make_mlp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lrs", default="1.0,0.3,0.1,0.03,0.01,0.003")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--devices", default="cpu")
    parser.add_argument("--log-dir", default=None,
                        help="the sweep's TensorBoard folder (default: a new runs/lr_sweepN)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def run(lr, args, train, val):
    """One run: the same initial weights and batch order, only the learning rate differs."""
    gg.manual_seed(args.seed)
    model = make_mlp()
    optimizer = gg.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    trainer = gg.train.Trainer(model, optimizer, F.cross_entropy,
                               devices=args.devices.split(","),
                               log_dir=os.path.join(args.log_dir, run_name(lr)), seed=args.seed,
                               on_nonfinite="skip", progress=False, hparams={"sweep": "lr"})
    history = trainer.fit(train, epochs=args.epochs, batch_size=args.batch_size, val_data=val)
    return history


def run_name(lr):
    """The run's folder: the learning rate in scientific notation (``lr_1e-01``,
    ``lr_2.5e-03``), the way a log-scale sweep reads."""
    return "lr_" + np.format_float_scientific(lr, trim="-", exp_digits=2)


CHANCE_LOSS = math.log(10)  # cross-entropy of a uniform guess over the ten digits


def diverged(history):
    """Did the run blow up: a final loss that is not finite, or worse than guessing?"""
    losses = [history.last("loss"), history.last("val_loss")]
    return not all(math.isfinite(v) and v <= CHANCE_LOSS for v in losses)


def number(value):
    """A loss as a person reads it: 0.1234, 5.83e+04 when huge, nan/inf as they are."""
    if math.isfinite(value) and abs(value) >= 1e4:
        return f"{value:.2e}"
    return f"{value:.4f}"


def main(argv=None):
    args = parse_args(argv)
    args.log_dir = args.log_dir or gg.train.next_run_dir("runs", "lr_sweep")
    train, val = load_digits_tensors(seed=args.seed)
    results = {}
    print(f"{'lr':>8}  {'train loss':>10}  {'val loss':>10}  {'val acc':>7}  status")
    for lr in (float(s) for s in args.lrs.split(",")):
        history = run(lr, args, train, val)
        results[lr] = history
        skipped = int(sum(history.get("skipped_batches", [])))
        status = "diverged" if diverged(history) else "ok"
        if skipped:
            status += f" ({skipped} non-finite batches skipped)"
        print(f"{lr:>8g}  {number(history.last('loss')):>10}  "
              f"{number(history.last('val_loss')):>10}  "
              f"{100 * history.last('val_accuracy'):>6.2f}%  {status}", flush=True)
    stable = [lr for lr in results if not diverged(results[lr])]
    if stable:
        best = max(stable, key=lambda lr: results[lr].last("val_accuracy"))
        print(f"best learning rate: {best:g} ({100 * results[best].last('val_accuracy'):.2f}% "
              "validation accuracy)")
    else:
        print("every learning rate diverged: try smaller ones")
    print(f"TensorBoard: tensorboard --logdir {args.log_dir}")
    return results


if __name__ == "__main__":
    main()
