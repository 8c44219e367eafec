"""TensorBoard logging through tensorboardX (an optional extra, imported on first use)."""
import os

import numpy as np

from ..sparse import RowSparseGrad


def next_run_dir(root="runs", prefix="exp"):
    """The first ``root/<prefix>N`` (N = 1, 2, ...) that does not exist yet: one folder per
    experiment, so runs sit side by side in TensorBoard.

    >>> import tempfile
    >>> os.path.basename(next_run_dir(tempfile.mkdtemp()))
    'exp1'
    """
    n = 1
    while os.path.exists(os.path.join(root, f"{prefix}{n}")):
        n += 1
    return os.path.join(root, f"{prefix}{n}")


class TensorBoardLogger:
    """Scalars, histograms and hyperparameters of one run, written under ``log_dir``."""

    def __init__(self, log_dir):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError("TensorBoard logging needs tensorboardX: "
                              "pip install gpugrad[tensorboard]") from None
        self.log_dir = log_dir
        self.writer = SummaryWriter(logdir=log_dir)

    def scalars(self, values, step, prefix=""):
        """``values`` (name -> number) as scalars ``prefix + name`` at ``step``."""
        for name, value in values.items():
            self.writer.add_scalar(prefix + name, float(value), step)

    def histograms(self, model, step):
        """Every parameter's values and (when set) gradient."""
        for name, p in model.named_parameters():
            self.writer.add_histogram(f"params/{name}", _host(p), step)
            if p.grad is not None:
                grad = p.grad.to_dense() if isinstance(p.grad, RowSparseGrad) else p.grad
                self.writer.add_histogram(f"grads/{name}", _host(grad), step)

    def hparams(self, hparams, metrics):
        """One row of TensorBoard's HPARAMS tab: the run's settings and final metrics."""
        clean = {key: _hparam_value(value) for key, value in hparams.items()}
        self.writer.add_hparams(clean, {f"hparam/{k}": float(v) for k, v in metrics.items()})

    def flush(self):
        self.writer.flush()

    def close(self):
        self.writer.close()


def _host(t):
    return np.asarray(t.detach().cpu().numpy(), dtype=np.float64).reshape(-1)


def _hparam_value(value):
    """TensorBoard takes numbers, strings and bools; anything else is shown as text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
