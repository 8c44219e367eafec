"""The main job: an MLP (64-128-10, ReLU, Adam) on scikit-learn's 8x8 digits, trained on two
devices (two GPUs if present, else one GPU, else two CPU replicas), with validation,
TensorBoard logs under runs/ and a loss-curve PNG.

    python examples/train_digits.py --epochs 20
    python examples/train_digits.py --devices cpu            # one device
    python examples/train_digits.py --devices cpu --compile  # steps replayed by gg.compile
    tensorboard --logdir runs
"""
import argparse
import os

import gpugrad as gg
import gpugrad.nn.functional as F
from digits_common import default_devices, load_digits_tensors, make_mlp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--devices", default="auto",
                        help="comma-separated, e.g. cuda:0,cuda:1 or cpu,cpu (default: auto)")
    parser.add_argument("--batch-size", type=int, default=32, help="per device")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--log-dir", default=None,
                        help="TensorBoard run folder (default: a new runs/digitsN)")
    parser.add_argument("--out", default="out/digits",
                        help="folder for the loss-curve PNG and checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--compile", action="store_true",
                        help="replay each step with gg.compile (one device: --devices cpu)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    gg.manual_seed(args.seed)
    devices = default_devices() if args.devices == "auto" else args.devices.split(",")
    train, val = load_digits_tensors(seed=args.seed)
    model = make_mlp()
    optimizer = gg.optim.Adam(model.parameters(), lr=args.lr)
    log_dir = _log_dir(args.log_dir)
    trainer = gg.train.Trainer(
        model, optimizer, F.cross_entropy, devices=devices, log_dir=log_dir, seed=args.seed,
        progress=not args.no_progress, compile=args.compile,
        callbacks=[gg.train.ModelCheckpoint(os.path.join(args.out, "checkpoints"),
                                            every=args.epochs, monitor="val_accuracy")])
    print(f"devices: {', '.join(trainer.devices)} (effective batch "
          f"{args.batch_size * len(trainer.devices)})")
    history = trainer.fit(train, epochs=args.epochs, batch_size=args.batch_size, val_data=val)
    accuracy = history.last("val_accuracy")
    print(f"final validation accuracy: {100 * accuracy:.2f}%")
    if log_dir is not None:
        print(f"TensorBoard logs: {log_dir}")
    try:
        print(f"loss curve: {trainer.plot_history(os.path.join(args.out, 'loss_curve.png'))}")
    except ImportError as err:  # matplotlib is an optional extra too
        print(f"no loss curve: {err}")
    return accuracy


def _log_dir(asked):
    """Where TensorBoard logs go: ``asked``, else a new runs/digitsN; none without
    tensorboardX (an optional extra), so the example also runs where it is missing."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        print("TensorBoard logging off: tensorboardX is not installed "
              "(pip install gpugrad[tensorboard])")
        return None
    return asked or gg.train.next_run_dir("runs", "digits")


if __name__ == "__main__":
    main()
