"""Data parallelism by hand: split each batch over several devices with DataParallel.

    python examples/multi_gpu.py                  # auto: two GPUs, one GPU, or two CPU replicas
    python examples/multi_gpu.py --devices cuda:0,cuda:1 --per-device-batch 64
    python examples/multi_gpu.py --devices cpu,cpu

Each device fits ``--per-device-batch`` examples; together they train with an effective
batch of per-device batch x devices. DataParallel averages the gradients (weighted by shard
size), so the learning rate needs no rescaling: the update equals the one a single device
would make with the whole batch.
"""
import argparse
import time

import gpugrad as gg
import gpugrad.nn.functional as F
from digits_common import default_devices, load_digits_tensors, make_mlp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", default="auto",
                        help="comma-separated, e.g. cuda:0,cuda:1 or cpu,cpu; auto (the "
                             "default): two GPUs if present, else one GPU, else two CPU replicas")
    parser.add_argument("--per-device-batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def loss_fn(model, x, y):
    return F.cross_entropy(model(x), y)


def main(argv=None):
    args = parse_args(argv)
    if args.devices == "auto":
        devices = default_devices()
        gpus = gg.cuda.device_count()
        found = f"{gpus} GPU{'s' if gpus != 1 else ''} found" if gpus else "no GPU found"
        print(f"--devices auto ({found}): {', '.join(devices)}")
    else:
        devices = args.devices.split(",")
    gg.manual_seed(args.seed)
    (x_train, y_train), (x_val, y_val) = load_digits_tensors(seed=args.seed)
    model = make_mlp().to(devices[0])
    dp = gg.parallel.DataParallel(model, devices=devices)
    optimizer = gg.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    batch = args.per_device_batch * len(devices)
    loader = gg.data.DataLoader(gg.data.TensorDataset(x_train, y_train), batch_size=batch,
                                shuffle=True, seed=args.seed)
    print(f"devices {', '.join(str(d) for d in dp.devices)}: "
          f"{args.per_device_batch} per device, effective batch {batch}")
    for epoch in range(args.epochs):
        started, total, seen, reduce = time.perf_counter(), 0.0, 0, 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = dp.forward_backward(loss_fn, x, y)
            optimizer.step()
            total, seen = total + loss.item() * len(x), seen + len(x)
            reduce += dp.last_reduce_seconds
        seconds = time.perf_counter() - started
        with gg.no_grad():
            logits = model(x_val.to(devices[0]))
            val = (logits.argmax(1) == y_val.to(devices[0])).float().mean().item()
        print(f"epoch {epoch + 1}/{args.epochs}  loss {total / seen:.4f}  "
              f"val accuracy {100 * val:.2f}%  {seen / seconds:.0f} examples/s  "
              f"reduce {1000 * reduce / len(loader):.2f} ms/step")
    dp.close()
    return val


if __name__ == "__main__":
    main()
