"""What a person reads: the progress bars' text and the loss-curve PNG's title and axes."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.train import History, Trainer, plot_history


def _blobs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = np.eye(3, 4)[y] * 3.0 + rng.normal(scale=0.7, size=(n, 4))
    return gg.tensor(x.astype(np.float32)), gg.tensor(y)


def _trainer(lr=0.05, scheduler=None, **kwargs):
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = gg.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    if scheduler:
        scheduler = gg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    return Trainer(model, opt, F.cross_entropy, seed=0, scheduler=scheduler, **kwargs)


def test_progress_bars_end_with_the_validation_metrics_and_a_throughput(capsys):
    trainer = _trainer(progress=True)
    history = trainer.fit(_blobs(), epochs=2, batch_size=16, val_data=_blobs(32, seed=1))
    err = capsys.readouterr().err
    lines = [line for line in err.replace("\r", "\n").splitlines() if "4/4" in line]
    for epoch in (1, 2):
        final = [line for line in lines if line.startswith(f"epoch {epoch}/2")][-1]
        i = epoch - 1
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert f"{key}={history[key][i]:.4f}" in final, (key, final)
        assert final.rstrip().endswith("examples/s]")
    assert "ex_s" not in err


def test_plot_title_and_log_scale_loss_axis(tmp_path, monkeypatch):
    from matplotlib.figure import Figure
    saved = []
    real_savefig = Figure.savefig

    def spy(fig, *args, **kwargs):
        saved.append(fig)
        return real_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    trainer = _trainer(scheduler=True, progress=False, log_dir=str(tmp_path / "runs" / "exp7"))
    trainer.fit(_blobs(), epochs=3, batch_size=16, val_data=_blobs(32, seed=1))
    trainer.plot_history(str(tmp_path / "a.png"), logy=True)
    trainer.plot_history(str(tmp_path / "b.png"), title="mine")
    loss_ax, acc_ax = saved[0].axes
    assert saved[0]._suptitle.get_text() == "exp7: SGD, lr 0.05 → 0.0125"
    assert loss_ax.get_yscale() == "log" and acc_ax.get_yscale() == "linear"
    assert saved[1]._suptitle.get_text() == "mine"
    assert saved[1].axes[0].get_yscale() == "linear"
    for name in ("a.png", "b.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_title_without_a_log_dir_and_plain_history(tmp_path, monkeypatch):
    trainer = _trainer(lr=0.1, progress=False)
    assert trainer._plot_title() == "SGD, lr 0.1"
    h = History(loss=[1.0, 0.5])
    path = h.plot(str(tmp_path / "h.png"), title="plain", logy=True)
    assert (tmp_path / "h.png").stat().st_size > 0 and path.endswith("h.png")
    assert plot_history(h, str(tmp_path / "i.png")).endswith("i.png")


@pytest.mark.parametrize("logy", [False, True])
def test_plot_history_draws_every_curve(tmp_path, monkeypatch, logy):
    from matplotlib.figure import Figure
    saved = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: saved.append(fig))
    h = History(loss=[1.0, 0.1], val_loss=[1.5, 0.2], accuracy=[0.5, 0.9])
    plot_history(h, str(tmp_path / "c.png"), title="t", logy=logy)
    loss_ax, acc_ax = saved[0].axes
    assert [list(line.get_ydata()) for line in loss_ax.lines] == [[1.0, 0.1], [1.5, 0.2]]
    assert loss_ax.get_yscale() == ("log" if logy else "linear")
    assert [list(line.get_ydata()) for line in acc_ax.lines] == [[0.5, 0.9]]
