"""Run under ``mpiexec -n 2`` by test_grad_scaler.py: DDP + autocast + GradScaler, with an
overflow injected on rank 1 only at some steps; every rank writes its scales and params."""
import argparse

import numpy as np

import gpugrad as gg
import gpugrad.distributed as dist

F = gg.nn.functional


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    dist.init()
    rank = dist.rank()
    gg.manual_seed(rank)  # different inits: DDP's broadcast makes them equal
    model = gg.nn.Sequential(gg.nn.Linear(4, 8), gg.nn.ReLU(), gg.nn.Linear(8, 3))
    ddp = dist.DistributedDataParallel(model)
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    scaler = gg.amp.GradScaler("cpu", init_scale=256.0, growth_interval=2)
    rng = np.random.default_rng(0)
    scales, params = [], []
    for step in range(6):
        x = rng.standard_normal((8, 4)).astype(np.float32)
        y = rng.integers(0, 3, size=8)
        x, y = x[rank * 4:(rank + 1) * 4], y[rank * 4:(rank + 1) * 4]
        if rank == 1 and step in (2, 3):
            x[0, 0] = np.inf  # only this rank's gradient overflows

        def loss_fn(m, xb, yb):
            with gg.autocast("cpu", dtype=gg.float16):
                loss = F.cross_entropy(m(xb), yb)
            return scaler.scale(loss)
        opt.zero_grad()
        ddp.forward_backward(loss_fn, gg.tensor(x), gg.tensor(y))
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        params.append(np.concatenate([p.detach().numpy().ravel() for p in model.parameters()]))
    np.savez(f"{args.out}.{rank}.npz", scales=np.array(scales), params=np.array(params))


if __name__ == "__main__":
    main()
