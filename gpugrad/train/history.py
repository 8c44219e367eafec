"""Training history (a dict of lists) and its loss/accuracy plot."""
import os


class History(dict):
    """Per-epoch metrics as lists: ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``,
    ``lr``, ... plus ``batch_loss`` (every step's loss).

    >>> h = History()
    >>> h.append({"loss": 0.5, "val_loss": 0.7})
    >>> h.append({"loss": 0.25})
    >>> h["loss"], h.last("loss")
    ([0.5, 0.25], 0.25)
    """

    def append(self, logs):
        """Add one epoch's ``logs`` (a dict of numbers)."""
        for key, value in logs.items():
            self.setdefault(key, []).append(float(value))

    def last(self, key, default=None):
        values = self.get(key)
        return values[-1] if values else default

    def plot(self, path, title=None, logy=False):
        """Write the loss and accuracy curves to ``path`` (PNG); see ``plot_history``."""
        return plot_history(self, path, title=title, logy=logy)


def plot_history(history, path, title=None, logy=False):
    """Plot loss (and accuracy, if recorded) per epoch, train and validation, into a PNG.

    ``title`` goes above the panels (``Trainer.plot_history`` names the run, optimizer and
    learning rate); ``logy=True`` draws the loss on a log scale, where a loss that falls by
    orders of magnitude, or one that diverged, stays readable (accuracy stays linear).
    Needs matplotlib (imported here, with the non-interactive Agg backend). Returns ``path``.

    >>> import os, tempfile
    >>> h = History(loss=[1.0, 0.1, 0.01], val_loss=[1.2, 0.2, 0.05])
    >>> path = plot_history(h, os.path.join(tempfile.mkdtemp(), "loss.png"), "demo", logy=True)
    >>> os.path.getsize(path) > 0
    True
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plot_history needs matplotlib: pip install gpugrad[tensorboard]") \
            from None
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    panels = [name for name in ("loss", "accuracy") if history.get(name)]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(5 * max(len(panels), 1), 3.5),
                             squeeze=False)
    for ax, name in zip(axes[0], panels):
        epochs = range(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], marker="o", label="train")
        if history.get("val_" + name):
            ax.plot(range(1, len(history["val_" + name]) + 1), history["val_" + name],
                    marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(name)
        if logy and name == "loss":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
