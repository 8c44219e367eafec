"""A learning-rate sweep: the digits MLP trained once per learning rate, each run in its own
TensorBoard folder, so ``tensorboard --logdir runs/lr_sweep`` overlays the loss curves and
the HPARAMS tab compares the final metrics.

    python examples/lr_sweep.py --lrs 0.3,0.1,0.03,0.01 --epochs 10

Too high a learning rate oscillates or diverges, too low a one stalls.
"""
import argparse
import os

import gpugrad as gg
import gpugrad.nn.functional as F
from digits_common import load_digits_tensors, make_mlp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lrs", default="1.0,0.3,0.1,0.03,0.01,0.003")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--devices", default="cpu")
    parser.add_argument("--log-dir", default="runs/lr_sweep")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def run(lr, args, train, val):
    """One run: the same initial weights and batch order, only the learning rate differs."""
    gg.manual_seed(args.seed)
    model = make_mlp()
    optimizer = gg.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    trainer = gg.train.Trainer(model, optimizer, F.cross_entropy,
                               devices=args.devices.split(","),
                               log_dir=os.path.join(args.log_dir, f"lr_{lr:g}"), seed=args.seed,
                               on_nonfinite="skip", progress=False, hparams={"sweep": "lr"})
    history = trainer.fit(train, epochs=args.epochs, batch_size=args.batch_size, val_data=val)
    return history


def main(argv=None):
    args = parse_args(argv)
    train, val = load_digits_tensors(seed=args.seed)
    results = {}
    print(f"{'lr':>8}  {'train loss':>10}  {'val loss':>9}  {'val acc':>8}")
    for lr in (float(s) for s in args.lrs.split(",")):
        history = run(lr, args, train, val)
        results[lr] = history
        print(f"{lr:>8g}  {history.last('loss'):>10.4f}  {history.last('val_loss'):>9.4f}  "
              f"{100 * history.last('val_accuracy'):>7.2f}%", flush=True)
    best = max(results, key=lambda lr: results[lr].last("val_accuracy"))
    print(f"best learning rate: {best:g}; runs in {args.log_dir}/")
    return results


if __name__ == "__main__":
    main()
