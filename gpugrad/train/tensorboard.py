"""TensorBoard logging through tensorboardX (an optional extra, imported on first use)."""
import numbers
import os
import time

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
    """One experiment's TensorBoard logs, laid out the way Keras' TensorBoard callback lays
    them out, so runs compare as the course material shows:

    * ``log_dir/train`` and ``log_dir/validation`` are sibling runs with the same tags
      (``epoch_loss``, ``epoch_accuracy``, ...): one chart overlays the two curves, and
      several experiments under one root sit side by side;
    * ``log_dir`` itself holds the hyperparameters (``hparams``): it is the HPARAMS tab's
      session, whose metrics are the last values of those tags in its train and validation
      runs. Nothing is logged twice and no timestamped sub-run is made.

    >>> import tempfile
    >>> logger = TensorBoardLogger(tempfile.mkdtemp())
    >>> logger.scalars({"epoch_loss": 0.5}, step=1, run="validation")
    >>> logger.hparams({"lr": 0.1})
    >>> logger.close()
    >>> sorted(name for name in os.listdir(logger.log_dir) if not name.startswith("events"))
    ['validation']
    """

    def __init__(self, log_dir):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError("TensorBoard logging needs tensorboardX: "
                              "pip install gpugrad[tensorboard]") from None
        self.log_dir = log_dir
        self._summary_writer = SummaryWriter
        self._writers = {}
        self._tags = {}  # run -> scalar tags written there, for the HPARAMS metrics
        self._started = time.time()

    def writer(self, run=""):
        """The tensorboardX ``SummaryWriter`` of run ``log_dir/run`` (``""``: ``log_dir``
        itself), opened on first use."""
        if run not in self._writers:
            folder = os.path.join(self.log_dir, run) if run else self.log_dir
            self._writers[run] = self._summary_writer(logdir=folder)
        return self._writers[run]

    def scalars(self, values, step, run="train"):
        """``values`` (tag -> number) as scalars of ``run`` at ``step``."""
        writer = self.writer(run)
        for tag, value in values.items():
            writer.add_scalar(tag, float(value), step)
            self._tags.setdefault(run, set()).add(tag)

    def histograms(self, model, step, run="train"):
        """Every parameter's values and (when set) gradient."""
        writer = self.writer(run)
        for name, p in model.named_parameters():
            writer.add_histogram(f"params/{name}", _host(p), step)
            if p.grad is not None:
                grad = p.grad.to_dense() if isinstance(p.grad, RowSparseGrad) else p.grad
                writer.add_histogram(f"grads/{name}", _host(grad), step)

    def graph(self, graph, run="train"):
        """An autograd graph (``gg.viz.graph(...)``) for the GRAPHS tab, in ``run``."""
        from tensorboardX.proto.event_pb2 import Event
        graph_def = graph.to_graph_def() if hasattr(graph, "to_graph_def") else graph
        event = Event(graph_def=graph_def.SerializeToString())
        self.writer(run)._get_file_writer().add_event(event)

    def hparams(self, hparams, metrics=None, status="success"):
        """One row of the HPARAMS tab, written into ``log_dir`` itself: the settings
        ``hparams`` (numbers, strings, bools; anything else as text) and, as its metrics,
        the ``(run, tag)`` scalars in ``metrics`` (default: every ``epoch_*`` tag logged).
        ``status`` is "success", "failure" or "running"."""
        if metrics is None:
            metrics = [(run, tag) for run in sorted(self._tags) for tag in sorted(self._tags[run])
                       if tag.startswith("epoch_")]
        clean = {key: _hparam_value(value) for key, value in hparams.items()
                 if value is not None}
        writer = self.writer("")._get_file_writer()
        for summary in _hparams_summaries(clean, metrics, self._started, status):
            writer.add_summary(summary)

    def flush(self):
        for writer in self._writers.values():
            writer.flush()

    def close(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def _hparams_summaries(hparams, metrics, started, status):
    """The hparams plugin's three summaries: the experiment (which hparams and metrics
    exist), the session's start (its values) and end (its status)."""
    from tensorboardX.proto import api_pb2
    from tensorboardX.proto.plugin_hparams_pb2 import (HParamsPluginData, SessionEndInfo,
                                                       SessionStartInfo)
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

    start = SessionStartInfo(start_time_secs=started)
    infos = []
    for key, value in hparams.items():
        if isinstance(value, bool):
            start.hparams[key].bool_value, kind = value, "DATA_TYPE_BOOL"
        elif isinstance(value, (int, float)):
            start.hparams[key].number_value, kind = float(value), "DATA_TYPE_FLOAT64"
        else:
            start.hparams[key].string_value, kind = value, "DATA_TYPE_STRING"
        infos.append(api_pb2.HParamInfo(name=key, type=api_pb2.DataType.Value(kind)))
    experiment = api_pb2.Experiment(
        hparam_infos=infos, time_created_secs=started,
        metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(group=run, tag=tag))
                      for run, tag in metrics])
    end = SessionEndInfo(status=api_pb2.Status.Value(f"STATUS_{status.upper()}"),
                         end_time_secs=time.time())
    parts = [("experiment", HParamsPluginData(experiment=experiment)),
             ("session_start_info", HParamsPluginData(session_start_info=start)),
             ("session_end_info", HParamsPluginData(session_end_info=end))]
    summaries = []
    for name, data in parts:
        plugin = SummaryMetadata.PluginData(plugin_name="hparams",
                                            content=data.SerializeToString())
        value = Summary.Value(tag=f"_hparams_/{name}",
                              metadata=SummaryMetadata(plugin_data=plugin))
        summaries.append(Summary(value=[value]))
    return summaries


def _host(t):
    return np.asarray(t.detach().cpu().numpy(), dtype=np.float64).reshape(-1)


def _hparam_value(value):
    """TensorBoard takes numbers, strings and bools; anything else is shown as text."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Real):  # NumPy scalars too
        return float(value)
    return str(value)
