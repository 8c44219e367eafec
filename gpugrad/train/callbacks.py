"""Callbacks: code the Trainer calls at fixed points of ``fit``.

A callback's ``state_dict()`` goes into checkpoints, so a resumed run continues with the
same best score and patience left.
"""
import math
import os
import re

import numpy as np

import gpugrad as gg


class Callback:
    """Base class; override the hooks you need. ``logs`` maps metric names to numbers.

    >>> class Count(Callback):
    ...     epochs = 0
    ...     def on_epoch_end(self, trainer, epoch, logs):
    ...         self.epochs += 1
    """

    def on_fit_start(self, trainer):
        pass

    def on_epoch_start(self, trainer, epoch):
        pass

    def on_batch_end(self, trainer, step, logs):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass

    def on_fit_end(self, trainer):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


class _Monitor:
    """Tracks the best value of one metric; ``mode`` "min", "max" or "auto" (max for
    accuracies, min otherwise)."""

    def __init__(self, monitor, mode, min_delta=0.0):
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
        self.best = math.inf if mode == "min" else -math.inf

    def value(self, logs):
        if self.monitor not in logs:
            raise KeyError(f"monitored metric {self.monitor!r} is not among {sorted(logs)}; "
                           "pass val_data to monitor validation metrics")
        return float(logs[self.monitor])

    def improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; with ``restore_best``
    the model gets the weights of its best epoch back when training ends.

    Its state (best value, epochs waited, best weights) goes into checkpoints, so a run
    resumed from the epoch that stopped training stops again at once, as the uninterrupted
    run did; give the callback a larger ``patience`` to train on instead.

    >>> stop = EarlyStopping(monitor="val_loss", patience=2)
    >>> stop.monitor.mode
    'min'
    """

    def __init__(self, monitor="val_loss", patience=5, mode="auto", min_delta=0.0,
                 restore_best=False):
        self.monitor = _Monitor(monitor, mode, min_delta)
        self.patience = patience
        self.restore_best = restore_best
        self.wait = 0
        self.stopped_epoch = None
        self.best_state = None

    def on_fit_start(self, trainer):
        if self.wait >= self.patience:
            trainer.stop_training = True

    def on_epoch_end(self, trainer, epoch, logs):
        value = self.monitor.value(logs)
        if self.monitor.improved(value):
            self.monitor.best = value
            self.wait = 0
            if self.restore_best:
                self.best_state = _copy_state(trainer.model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True

    def on_fit_end(self, trainer):
        if self.restore_best and self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)

    def state_dict(self):
        state = {"best": self.monitor.best, "wait": self.wait}
        if self.stopped_epoch is not None:
            state["stopped_epoch"] = self.stopped_epoch
        if self.best_state is not None:
            state["best_state"] = self.best_state
        return state

    def load_state_dict(self, state):
        self.monitor.best = float(state["best"])
        self.wait = int(state["wait"])
        stopped = state.get("stopped_epoch")
        self.stopped_epoch = None if stopped is None else int(stopped)
        self.best_state = state.get("best_state")


class ModelCheckpoint(Callback):
    """Save the whole training state (``trainer.state_dict()``) with ``gg.save`` (atomic):
    ``last.safetensors`` and ``epoch<N>.safetensors`` every ``every`` epochs, and
    ``best.safetensors`` whenever ``monitor`` improves (``save_best``). Only the main
    process writes. ``keep=k`` keeps only the ``k`` newest ``epoch<N>`` files (None: all).
    ``Trainer.fit(resume_from=...)`` continues from any of these files, or from the folder
    (its newest checkpoint). Pruning and resuming look only at these exact names, never at
    the temporary files of a save that was killed midway (``gg.serialization.is_temp_file``).

    >>> import tempfile
    >>> ModelCheckpoint(tempfile.mkdtemp(), every=1, keep=3).keep
    3
    """

    # The Trainer calls this callback's on_epoch_end after the others', so the state it
    # saves holds their updates for this epoch (early stopping's patience, say).
    runs_last = True

    def __init__(self, directory, every=1, save_best=True, monitor="val_loss", mode="auto",
                 keep=None):
        if keep is not None and (not isinstance(keep, int) or keep < 1):
            raise ValueError(f"keep must be a positive int or None, got {keep!r}")
        self.directory = directory
        self.every = every
        self.save_best = save_best
        self.keep = keep
        self.monitor = _Monitor(monitor, mode)
        self.saved = []

    def on_epoch_end(self, trainer, epoch, logs):
        number = epoch + 1
        wants_best = self.save_best and self.monitor.monitor in logs \
            and self.monitor.improved(self.monitor.value(logs))
        if wants_best:
            self.monitor.best = self.monitor.value(logs)
        periodic = self.every and number % self.every == 0
        if not (periodic or wants_best) or not trainer.is_main_process:
            return
        os.makedirs(self.directory, exist_ok=True)
        state = trainer.state_dict()
        if periodic:
            self._save(state, f"epoch{number}.safetensors")
            self._save(state, "last.safetensors")
            self._prune()
        if wants_best:
            self._save(state, "best.safetensors")

    def _prune(self):
        """Delete all but the ``keep`` newest ``epoch<N>.safetensors`` (and the leftovers of
        interrupted saves to them)."""
        if self.keep is None:
            return
        numbered = sorted((int(m[1]), name) for name in os.listdir(self.directory)
                          if (m := _EPOCH_FILE.fullmatch(name)))
        for _, name in numbered[:-self.keep]:
            path = os.path.join(self.directory, name)
            os.remove(path)
            gg.serialization.remove_leftovers(path)

    def _save(self, state, name):
        path = os.path.join(self.directory, name)
        gg.save(state, path)
        self.saved.append(path)

    def state_dict(self):
        return {"best": self.monitor.best}

    def load_state_dict(self, state):
        self.monitor.best = float(state["best"])


_EPOCH_FILE = re.compile(r"epoch([0-9]+)\.safetensors")
_CHECKPOINT_FILE = re.compile(r"(last|best|epoch[0-9]+)\.safetensors")


def checkpoint_file(path):
    """``path`` itself, or for a ``ModelCheckpoint`` folder its newest checkpoint (by
    modification time, among ``last``/``best``/``epoch<N>.safetensors`` only).

    >>> import os, tempfile
    >>> import gpugrad as gg
    >>> folder = tempfile.mkdtemp()
    >>> gg.save({"epoch": 1}, os.path.join(folder, "last.safetensors"))
    >>> os.path.basename(checkpoint_file(folder))
    'last.safetensors'
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        return path
    found = []
    for entry in os.scandir(path):
        if _CHECKPOINT_FILE.fullmatch(entry.name) and entry.is_file():
            # On equal times prefer last over epoch<N> over best (all hold the same state).
            found.append((entry.stat().st_mtime_ns, entry.name.startswith("l"),
                          entry.name.startswith("e"), entry.path))
    if not found:
        raise FileNotFoundError(f"{path}: no checkpoint here (ModelCheckpoint writes "
                                "last.safetensors, best.safetensors and epoch<N>.safetensors)")
    return max(found)[-1]


def _copy_state(state):
    """Host copies of a state dict's tensors (they must not change with the live model)."""
    return {key: np.array(value.detach().cpu().numpy()) for key, value in state.items()}
