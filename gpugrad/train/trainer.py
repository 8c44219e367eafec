"""``Trainer``: the training loop every project writes, written once.

Several devices -> DataParallel; several MPI ranks -> DistributedDataParallel; progress bars,
per-epoch metrics, schedulers, callbacks, TensorBoard, checkpoints that resume exactly.
"""
import contextlib
import math
import os
import time

from tqdm.auto import tqdm

import gpugrad as gg
from ..data import DataLoader, Dataset, TensorDataset
from ..optim.lr_scheduler import ReduceLROnPlateau
from .callbacks import checkpoint_file
from ..data import to_device
from .engines import SingleDevice, make_engine
from .history import History, plot_history
from .tensorboard import TensorBoardLogger


class Trainer:
    """Fit ``model`` with ``optimizer`` on ``loss_fn(outputs, targets)`` (a mean loss).

    * ``devices``: None (the model's device), ``"auto"`` (every GPU, else two CPU
      replicas), or a list such as ``["cuda:0", "cuda:1"]``, ``["cpu"]``, ``["cpu", "cpu"]``.
      Several devices train with ``DataParallel``; under ``mpiexec`` with several ranks,
      with ``DistributedDataParallel`` (one device per rank).
    * ``fit(train_data, epochs, batch_size)``: ``batch_size`` is *per device*, so the
      effective batch is ``batch_size`` x devices (x ranks). Data is a ``Dataset``, a
      tuple ``(inputs..., targets)`` of tensors, or a ``DataLoader`` (used as is). A
      batch's last element is the target; the others are the model's inputs.
    * ``seed``: the shuffling seed of the training loader (default: drawn from gpugrad's CPU
      generator, so ``gg.manual_seed`` fixes it). Under MPI every rank uses rank 0's, so all
      ranks cut their shares out of the same global batches.
    * Metrics per epoch, train and validation: ``loss`` and, for class-index targets,
      ``accuracy``. ``history`` holds them (dict of lists), ``batch_loss`` every step's.
    * ``scheduler`` is stepped per ``"epoch"`` or per ``"batch"``; ``ReduceLROnPlateau``
      gets ``scheduler_monitor`` (default ``val_loss`` if there is validation data, else
      ``loss``).
    * Non-finite loss: ``on_nonfinite="raise"`` stops with ``FloatingPointError`` naming
      the epoch and step; ``"skip"`` drops that batch's update.
    * ``log_dir``: TensorBoard experiment folder (tensorboardX), laid out as Keras' callback
      lays it out: sibling runs ``log_dir/train`` and ``log_dir/validation`` with the same
      tags (``epoch_loss``, ``epoch_accuracy``, ``epoch_<metric>``), so one chart overlays
      train and validation; ``train`` also has ``progress/batch_loss`` per step,
      ``progress/learning_rate``, ``progress/examples_per_s`` and parameter and gradient
      histograms; ``log_dir`` itself holds the hyperparameters, whose HPARAMS metrics are the
      loss and accuracy tags. ``log_graph=True`` also logs the first training step's loss graph
      (``gg.viz.graph``) for the GRAPHS tab, and keeps it as ``trainer.graph``.
    * ``fit(..., resume_from=path)`` continues a ``ModelCheckpoint`` file (or its folder's
      newest) bit-identically: model, optimizer, scheduler, RNG state, loader seed and epoch,
      history, callbacks.
      (The GPU generators are not saved: resume with GPU dropout is not bit-identical.)
    * ``precision`` (PyTorch Lightning's names): ``"32-true"`` (default, also ``"32"``/32);
      ``"16-mixed"`` (GPUs only): the forward and the loss run in ``gg.autocast("cuda")``
      (float16) and a ``gg.amp.GradScaler`` scales the loss, skips the steps whose
      gradients overflowed and adapts the scale (``trainer.scaler``; its state is in the
      checkpoints); ``"bf16-mixed"`` (CPU only: CuPy has no bfloat16): the forward runs in
      ``gg.autocast("cpu")`` (bfloat16), no scaler; ``"64-true"``: the model and the
      floating inputs are cast to float64. Losses and metrics are reported unscaled.
    * ``compile=True`` (one device; not with ``"16-mixed"``): each step's forward and
      backward run as one ``gg.compile``d function (traced on the first two batches of a
      shape, replayed after); the optimizer step stays eager.

    >>> import gpugrad as gg
    >>> _ = gg.manual_seed(0)
    >>> x = gg.randn(64, 4); y = (x.sum(dim=1) > 0).long()
    >>> model = gg.nn.Linear(4, 2)
    >>> trainer = gg.train.Trainer(model, gg.optim.SGD(model.parameters(), lr=0.5),
    ...                            gg.nn.functional.cross_entropy, progress=False)
    >>> history = trainer.fit((x, y), epochs=5, batch_size=16, val_data=(x, y))
    >>> len(history['loss']), history['val_accuracy'][-1] > 0.8
    (5, True)
    """

    def __init__(self, model, optimizer, loss_fn, devices=None, scheduler=None,
                 scheduler_step="epoch", scheduler_monitor=None, callbacks=(), log_dir=None,
                 on_nonfinite="raise", progress=True, seed=None, hparams=None,
                 histograms=True, bucket_cap_mb=25, check_every=None, log_graph=False,
                 precision="32-true", compile=False):  # noqa: A002  (PyTorch Lightning's name)
        if scheduler_step not in ("epoch", "batch"):
            raise ValueError(f"scheduler_step must be 'epoch' or 'batch', got {scheduler_step!r}")
        if on_nonfinite not in ("raise", "skip"):
            raise ValueError(f"on_nonfinite must be 'raise' or 'skip', got {on_nonfinite!r}")
        self.precision = _precision_name(precision)
        if self.precision == "64-true":
            if not hasattr(model, "double"):
                raise TypeError("Trainer: precision='64-true' casts the model with "
                                f"model.double(), which {type(model).__name__} lacks")
            model.double()  # in place, before DataParallel copies it
        self.engine = make_engine(model, devices, bucket_cap_mb=bucket_cap_mb,
                                  check_every=check_every)
        self.scaler = None  # the GradScaler of precision="16-mixed"
        self._autocast = _autocast_for(self.precision, self.engine.devices[0].type)
        if self.precision == "16-mixed":
            self.scaler = gg.amp.GradScaler("cuda")
        self._compiled = self._compile_step() if compile else None
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.scheduler = scheduler
        self.scheduler_step = scheduler_step
        self.scheduler_monitor = scheduler_monitor
        self.callbacks = list(callbacks)
        self.log_dir = log_dir
        self.on_nonfinite = on_nonfinite
        self.progress = progress
        self.seed = seed
        self.extra_hparams = dict(hparams or {})
        self.histograms = histograms
        self.log_graph = log_graph
        self.graph = None  # the first step's loss graph, with log_graph=True
        self._graph_logged = False
        self.history = History()
        self.epoch = 0          # epochs completed
        self.global_step = 0    # optimizer steps taken
        self.stop_training = False
        self.batch_size = None
        self._loader = None
        self._logger = None
        self._bar = None

    @property
    def devices(self):
        return [str(d) for d in self.engine.devices]

    @property
    def is_main_process(self):
        """False on every MPI rank but 0 (they neither print, log nor save)."""
        return self.engine.is_main

    # ---- fit ---------------------------------------------------------------------------
    def fit(self, train_data, epochs, batch_size=32, val_data=None, resume_from=None):
        """Train until ``epochs`` epochs are complete in total; returns ``history``."""
        self.batch_size = batch_size
        self._loader = self._make_loader(train_data, batch_size, shuffle=True)
        if len(self._loader) == 0:
            # Otherwise every epoch "finishes" with loss nan and the model untouched.
            raise ValueError("Trainer.fit: the training data holds no examples, so no step "
                             "would be taken")
        self._loader.seed = self.engine.common_seed(self._loader.seed)
        if resume_from is not None:
            self.load_state_dict(gg.load(checkpoint_file(resume_from)))
        self.stop_training = False
        self._open_logger()
        self._call("on_fit_start")
        for epoch in range(self.epoch, epochs):
            if self.stop_training:  # set by a callback (a resumed, exhausted EarlyStopping)
                break
            self._call("on_epoch_start", epoch)
            lr = self.optimizer.param_groups[0]["lr"]
            logs = self._train_epoch(epoch, epochs)
            if val_data is not None:
                logs.update({f"val_{k}": v
                             for k, v in self.evaluate(val_data, batch_size).items()})
            self._close_bar(logs)
            logs["lr"] = lr
            if self.scheduler is not None and self.scheduler_step == "epoch":
                self._step_scheduler(logs)
            self.epoch = epoch + 1
            self.history.append(logs)
            self._log_epoch(logs)
            self._call("on_epoch_end", epoch, logs)
        self._call("on_fit_end")
        self._close_logger(epochs)
        return self.history

    def _train_epoch(self, epoch, epochs):
        _set_mode(self.model, True)
        self._loader.set_epoch(epoch)
        sums = {"loss": 0.0, "examples": 0, "correct": 0, "counted": 0, "skipped": 0}
        bar = tqdm(total=len(self._loader), desc=f"epoch {epoch + 1}/{epochs}",
                   unit="batch", disable=not (self.progress and self.is_main_process),
                   leave=True, dynamic_ncols=True)
        started = time.perf_counter()
        for step, batch in enumerate(self._loader):
            counts = []
            value = self._train_step(batch, counts, epoch, step)
            if value is None:
                sums["skipped"] += 1
                bar.update(1)
                continue
            n = len(batch[0])
            sums["loss"] += value * n
            sums["examples"] += n
            sums["correct"] += sum(c for c, _ in counts)
            sums["counted"] += sum(m for _, m in counts)
            seconds = time.perf_counter() - started
            bar.set_postfix_str(_postfix({"loss": sums["loss"] / sums["examples"]},
                                         sums["examples"] / max(seconds, 1e-9)), refresh=False)
            bar.update(1)
            self._call("on_batch_end", self.global_step, {"loss": value})
        self._bar = bar  # closed by _close_bar once the validation metrics are in
        seconds = time.perf_counter() - started
        return self._epoch_logs(sums, seconds)

    def _train_step(self, batch, counts, epoch, step):
        """One optimizer step; its loss, or None if the batch was skipped."""
        self.optimizer.zero_grad()
        if self._compiled is None:
            loss = self.engine.forward_backward(self._step_loss(counts), *batch)
        else:
            loss, found = self._compiled(*to_device(batch, self.engine.device))
            counts.extend((int(c.item()) if isinstance(c, gg.Tensor) else c, n)
                          for c, n in found)
        value = float(loss.item())
        if self.scaler is not None:
            value /= self.scaler.get_scale()  # the loss was scaled for backward
        if not math.isfinite(value):
            if self.on_nonfinite == "raise":
                raise FloatingPointError(
                    f"non-finite loss ({value}) at epoch {epoch + 1}, step {step + 1} (global "
                    f"step {self.global_step + 1}); lower the learning rate, check the data, "
                    "or pass on_nonfinite='skip' to drop such batches")
            self.optimizer.zero_grad()
            return None
        if self.scaler is None:
            self.optimizer.step()
        else:  # skipped when a gradient overflowed; the scale adapts either way
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.global_step += 1
        if self.scheduler is not None and self.scheduler_step == "batch":
            self._step_scheduler({"loss": value})
        self.history.setdefault("batch_loss", []).append(value)
        if self._logger is not None:
            self._logger.scalars({"progress/batch_loss": value}, self.global_step)
            if self.graph is not None and not self._graph_logged:
                self._logger.graph(self.graph)
                self._graph_logged = True
        return value

    def _compile_step(self):
        """``compile=True``: forward and backward as one ``gg.compile``d function of the
        batch (on the device already), returning the loss and the correct-prediction
        counts as tensors, so that no host read happens inside it."""
        if type(self.engine) is not SingleDevice:
            raise ValueError("Trainer(compile=True) trains on one device; DataParallel and "
                             "DistributedDataParallel steps are not compiled")
        if self.scaler is not None:
            raise ValueError(f"Trainer(compile=True) does not support precision="
                             f"{self.precision!r} (its GradScaler reads the gradients on "
                             "the host)")

        def forward_backward(*batch):
            found = []
            loss = self.engine.forward_backward(self._step_loss(found, tensors=True), *batch)
            return loss, found
        return gg.compile(forward_backward)

    def _step_loss(self, counts, tensors=False):
        """``loss_fn(model(*inputs), target)`` for one shard; it also counts correct
        predictions (the list append is safe from DataParallel's worker threads), as
        tensors with ``tensors=True``."""
        loss_fn = self.loss_fn
        draw = self.log_graph and self.graph is None and self.is_main_process

        def step_loss(model, *batch):
            *inputs, target = self._cast_batch(batch)
            with self._region():  # entered in each DataParallel worker thread
                outputs = model(*inputs)
                loss = loss_fn(outputs, target)
            counts.append(_correct(outputs, target, tensors))
            if draw and self.graph is None:  # before backward frees the saved tensors
                self.graph = gg.viz.graph(loss, model)
            # backward runs outside the autocast region, as PyTorch advises
            return loss if self.scaler is None else self.scaler.scale(loss)
        return step_loss

    def _region(self):
        """The autocast region of a mixed precision, else nothing."""
        if self._autocast is None:
            return contextlib.nullcontext()
        return gg.autocast(*self._autocast)

    def _cast_batch(self, batch):
        """precision="64-true": floating batch tensors in float64, as the model."""
        if self.precision != "64-true":
            return batch
        return tuple(t.double() if isinstance(t, gg.Tensor) and t.dtype.kind == "f" else t
                     for t in batch)

    def _epoch_logs(self, sums, seconds):
        # Losses are global means and examples count global batches, the same on every
        # rank; correct predictions were counted on this rank's shards only.
        correct, counted = self.engine.all_reduce_sum([sums["correct"], sums["counted"]])
        examples = sums["examples"]
        logs = {"loss": sums["loss"] / examples if examples else float("nan")}
        if counted:
            logs["accuracy"] = correct / counted
        logs["examples_per_s"] = examples / max(seconds, 1e-9)
        if sums["skipped"]:
            logs["skipped_batches"] = sums["skipped"]
        return logs

    def _step_scheduler(self, logs):
        if isinstance(self.scheduler, ReduceLROnPlateau):
            monitor = self.scheduler_monitor or ("val_loss" if "val_loss" in logs else "loss")
            self.scheduler.step(logs[monitor])
        else:
            self.scheduler.step()

    # ---- evaluation --------------------------------------------------------------------
    def evaluate(self, data, batch_size=None):
        """``{"loss": ..., "accuracy": ...}`` (accuracy for class-index targets) on ``data``,
        without gradients, in eval mode (the previous mode is restored)."""
        size = batch_size or self.batch_size or 256
        loader = self._make_loader(data, size, shuffle=False)
        was_training = getattr(self.model, "training", True)
        _set_mode(self.model, False)
        loss_sum, examples, correct, counted = 0.0, 0, 0, 0
        with gg.no_grad():
            for batch in loader:
                part = self.engine.local_part(batch)
                if len(part[0]) == 0:
                    continue
                *inputs, target = self._cast_batch(part)
                with self._region():
                    outputs = self.model(*inputs)
                    loss = self.loss_fn(outputs, target)
                n = len(target)
                loss_sum += float(loss.item()) * n
                examples += n
                right, seen = _correct(outputs, target)
                correct, counted = correct + right, counted + seen
        _set_mode(self.model, was_training)
        loss_sum, examples, correct, counted = self.engine.all_reduce_sum(
            [loss_sum, examples, correct, counted])
        result = {"loss": loss_sum / examples if examples else float("nan")}
        if counted:
            result["accuracy"] = correct / counted
        return result

    # ---- state -------------------------------------------------------------------------
    def state_dict(self):
        """Everything a resumed ``fit`` needs, as ``gg.save`` can store it."""
        state = {"epoch": self.epoch, "global_step": self.global_step,
                 "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "rng": gg.get_rng_state(),
                 "history": {key: list(values) for key, values in self.history.items()},
                 "callbacks": [cb.state_dict() for cb in self.callbacks]}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self._loader is not None:
            state["loader"] = self._loader.state_dict()
        if self.scaler is not None:
            state["grad_scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state):
        """Restore a ``state_dict()`` (e.g. ``gg.load`` of a checkpoint)."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        gg.set_rng_state(state["rng"])
        if self._loader is not None and "loader" in state:
            self._loader.load_state_dict(state["loader"])
        if self.scaler is not None and "grad_scaler" in state:
            self.scaler.load_state_dict(state["grad_scaler"])
        self.history = History({key: list(values) for key, values in state["history"].items()})
        saved = state.get("callbacks", [])
        if len(saved) != len(self.callbacks):
            raise ValueError(f"checkpoint has state for {len(saved)} callbacks, this Trainer "
                             f"has {len(self.callbacks)}")
        for callback, cb_state in zip(self.callbacks, saved):
            callback.load_state_dict(cb_state)
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])

    def plot_history(self, path, title=None, logy=False):
        """Loss and accuracy curves of ``history`` as a PNG (matplotlib), titled with the
        run's name (``log_dir``'s last folder), optimizer and learning rate unless ``title``
        is given; ``logy=True`` puts the loss on a log scale. See ``plot_history``."""
        return plot_history(self.history, path, title=title or self._plot_title(), logy=logy)

    def _plot_title(self):
        """E.g. "exp1: Adam, lr 0.002", or "SGD, lr 0.1 → 0.01" when a scheduler moved it."""
        lrs = self.history.get("lr") or [self.optimizer.param_groups[0]["lr"]]
        lr = f"lr {lrs[0]:g}" if lrs[0] == lrs[-1] else f"lr {lrs[0]:g} → {lrs[-1]:g}"
        title = f"{type(self.optimizer).__name__}, {lr}"
        if self.log_dir is not None:
            title = f"{os.path.basename(os.path.normpath(str(self.log_dir)))}: {title}"
        return title

    # ---- helpers -----------------------------------------------------------------------
    def _make_loader(self, data, per_device, shuffle):
        if isinstance(data, DataLoader):
            return data
        if isinstance(data, (tuple, list)):
            data = TensorDataset(*data)
        if not isinstance(data, Dataset) and not hasattr(data, "__getitem__"):
            raise TypeError(f"expected a Dataset, a DataLoader or a tuple of tensors, got "
                            f"{type(data).__name__}")
        return DataLoader(data, batch_size=per_device * self.engine.replicas, shuffle=shuffle,
                          seed=self.seed)

    def _call(self, hook, *args):
        """Run ``hook`` on every callback; those marked ``runs_last`` after the others."""
        ordered = sorted(self.callbacks, key=lambda cb: getattr(cb, "runs_last", False))
        for callback in ordered:
            getattr(callback, hook)(self, *args)

    def _close_bar(self, logs):
        """End the epoch's progress bar with the epoch's metrics, validation included."""
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.set_postfix_str(_postfix(logs, logs["examples_per_s"]), refresh=False)
            bar.close()

    def _open_logger(self):
        if self.log_dir is not None and self.is_main_process and self._logger is None:
            self._logger = TensorBoardLogger(self.log_dir)

    def _log_epoch(self, logs):
        if self._logger is None:
            return
        # Metrics are "epoch_<name>" in both runs (Keras' tags); what only describes the
        # training (learning rate, throughput, skipped batches) goes to a "progress" group,
        # which sorts after "epoch_*", so TensorBoard opens on the loss and accuracy charts.
        runs = {"train": {}, "validation": {}}
        for key, value in logs.items():
            if key in _PROGRESS_TAGS:
                runs["train"][_PROGRESS_TAGS[key]] = value
            elif key.startswith("val_"):
                runs["validation"][f"epoch_{key[4:]}"] = value
            else:
                runs["train"][f"epoch_{key}"] = value
        for run, values in runs.items():
            if values:
                self._logger.scalars(values, self.epoch, run=run)
        if self.histograms:
            self._logger.histograms(self.model, self.epoch)
        self._logger.flush()

    def _close_logger(self, epochs):
        if self._logger is None:
            return
        # The HPARAMS tab reads the metrics' last values from the train and validation runs.
        metrics = [("validation" if key.startswith("val_") else "train",
                    "epoch_" + key.replace("val_", "")) for key in ("loss", "accuracy",
                                                                     "val_loss", "val_accuracy")
                   if key in self.history]
        self._logger.hparams(self._hparams(epochs), metrics)
        self._logger.close()
        self._logger = None

    def _hparams(self, epochs):
        group = self.optimizer.param_groups[0]
        hparams = {"optimizer": type(self.optimizer).__name__, "epochs": epochs,
                   "batch_size_per_device": self.batch_size, "replicas": self.engine.replicas}
        for key, value in group.items():
            if key != "params":
                hparams[key] = value
        hparams.update(self.extra_hparams)
        return hparams


_PRECISIONS = {"16-mixed": "16-mixed", "16": "16-mixed", 16: "16-mixed",
               "bf16-mixed": "bf16-mixed", "bf16": "bf16-mixed",
               "32-true": "32-true", "32": "32-true", 32: "32-true",
               "64-true": "64-true", "64": "64-true", 64: "64-true"}


def _precision_name(precision):
    """Lightning's precision names, its short forms mapped as Lightning maps them.

    >>> _precision_name(16), _precision_name("bf16"), _precision_name("32")
    ('16-mixed', 'bf16-mixed', '32-true')
    """
    name = _PRECISIONS.get(precision) if isinstance(precision, (str, int)) else None
    if name is None:
        raise ValueError(f"Trainer: precision={precision!r} is not supported; use one of "
                         "'16-mixed', 'bf16-mixed', '32-true', '64-true'")
    return name


def _autocast_for(precision, device_type):
    """(device_type, dtype) of the autocast region a mixed precision runs in, or None.

    >>> _autocast_for("bf16-mixed", "cpu")
    ('cpu', gpugrad.bfloat16)
    """
    if precision == "16-mixed":
        if device_type != "cuda":
            raise ValueError("Trainer: precision='16-mixed' is not supported on the CPU (as "
                             "in PyTorch Lightning: float16 autocast needs a GPU); use "
                             "precision='bf16-mixed' on the CPU")
        return ("cuda", gg.float16)
    if precision == "bf16-mixed":
        if device_type == "cuda":
            raise ValueError("Trainer: precision='bf16-mixed' is not supported on GPUs "
                             "(CuPy has no bfloat16); use precision='16-mixed'")
        return ("cpu", gg.bfloat16)
    return None


_PROGRESS_TAGS = {"lr": "progress/learning_rate", "examples_per_s": "progress/examples_per_s",
                  "skipped_batches": "progress/skipped_batches"}


def _postfix(logs, per_second):
    """A progress bar's text: the epoch's metrics so far, then the throughput.

    >>> _postfix({"loss": 0.5, "val_loss": 0.25}, 1234.5)
    'loss=0.5000, val_loss=0.2500, 1,234 examples/s'
    """
    parts = [f"{key}={logs[key]:.4f}" for key in ("loss", "accuracy", "val_loss",
                                                   "val_accuracy") if key in logs]
    parts.append(f"{per_second:,.0f} examples/s")
    return ", ".join(parts)


def _correct(outputs, target, tensor=False):
    """``(correct, counted)`` for class scores ``(n, C)`` against class indices ``(n,)``;
    ``(0, 0)`` for anything else (regression, say). ``tensor=True``: ``correct`` is a 0-d
    tensor (not read to the host)."""
    if not (isinstance(target, gg.Tensor) and isinstance(outputs, gg.Tensor)):
        return 0, 0
    if target.dtype.kind not in "iu" or outputs.ndim != 2 or target.shape != outputs.shape[:1]:
        return 0, 0
    with gg.no_grad():
        right = (outputs.argmax(1) == target).sum()
    return (right if tensor else int(right.item())), len(target)


def _set_mode(model, training):
    train = getattr(model, "train", None)
    if train is not None:
        train(training)
