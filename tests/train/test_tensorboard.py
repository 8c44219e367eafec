"""TensorBoard logs as TensorBoard itself reads them: the event files are loaded with the real
``tensorboard`` package (its EventAccumulator and multiplexer, and the hparams plugin's own
session-group computation), not parsed by hand."""
import os

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn
import gpugrad.nn.functional as F
from gpugrad.train import TensorBoardLogger, Trainer

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
from tensorboard.backend.event_processing import plugin_event_multiplexer  # noqa: E402
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2  # noqa: E402


def _blobs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = np.eye(3, 4)[y] * 3.0 + rng.normal(scale=0.7, size=(n, 4))
    return gg.tensor(x.astype(np.float32)), gg.tensor(y)


def _fit(log_dir, lr=0.05, epochs=3, devices=None, **kwargs):
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = gg.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    trainer = Trainer(model, opt, F.cross_entropy, devices=devices, seed=0, progress=False,
                      log_dir=str(log_dir), **kwargs)
    trainer.fit(_blobs(), epochs=epochs, batch_size=16, val_data=_blobs(32, seed=1))
    return trainer


def _load(folder):
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return acc


def _hparams_data(acc):
    content = acc.PluginTagToContent("hparams")
    return {tag.split("/")[-1]: plugin_data_pb2.HParamsPluginData.FromString(data)
            for tag, data in content.items()}


def test_train_and_validation_are_sibling_runs_with_overlaying_tags(tmp_path):
    trainer = _fit(tmp_path / "exp1", hparams={"note": "test"})
    history = trainer.history
    folder = tmp_path / "exp1"
    subfolders = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert subfolders == ["train", "validation"]  # no timestamped hparams sub-run

    train, validation = _load(folder / "train"), _load(folder / "validation")
    assert set(validation.Tags()["scalars"]) == {"epoch_loss", "epoch_accuracy"}
    assert set(train.Tags()["scalars"]) == {
        "epoch_loss", "epoch_accuracy", "progress/batch_loss", "progress/learning_rate",
        "progress/examples_per_s"}
    # The same tag at the same steps in both runs: one chart overlays the two curves.
    for run, prefix in ((train, ""), (validation, "val_")):
        for name in ("loss", "accuracy"):
            events = run.Scalars(f"epoch_{name}")
            assert [e.step for e in events] == [1, 2, 3]
            np.testing.assert_allclose([e.value for e in events], history[prefix + name],
                                       rtol=1e-6)
    steps = [e.step for e in train.Scalars("progress/batch_loss")]
    assert steps == list(range(1, trainer.global_step + 1))
    assert {"params/0.weight", "grads/2.bias"} <= set(train.Tags()["histograms"])
    assert not train.Tags()["graph"]  # log_graph is off by default


def test_scalars_page_opens_on_loss_and_accuracy(tmp_path):
    _fit(tmp_path / "exp1")
    tags = set()
    for run in ("", "train", "validation"):
        tags |= set(_load(tmp_path / "exp1" / run).Tags()["scalars"])
    # TensorBoard sorts its sections (a tag's part before the first "/") by name and opens
    # the first ones: those must be the loss and accuracy charts, and no hparam metric
    # charts (a single dot each) exist at all.
    sections = sorted({tag.split("/")[0] for tag in tags})
    assert sections[:2] == ["epoch_accuracy", "epoch_loss"]
    assert not [tag for tag in tags if "hparam" in tag]


def test_hparams_are_written_into_the_run_itself(tmp_path):
    trainer = _fit(tmp_path / "exp1", hparams={"note": "test", "betas": (0.9, 0.99)})
    root = _load(tmp_path / "exp1")
    assert root.Tags()["scalars"] == []
    data = _hparams_data(root)
    assert set(data) == {"experiment", "session_start_info", "session_end_info"}
    values = data["session_start_info"].session_start_info.hparams
    assert values["optimizer"].string_value == "SGD"
    assert values["lr"].number_value == pytest.approx(0.05)
    assert values["epochs"].number_value == 3
    assert values["note"].string_value == "test"
    assert values["betas"].string_value == "(0.9, 0.99)"
    metrics = {(m.name.group, m.name.tag) for m in data["experiment"].experiment.metric_infos}
    assert metrics == {(run, f"epoch_{name}") for run in ("train", "validation")
                       for name in ("loss", "accuracy")}
    assert data["session_end_info"].session_end_info.status == api_pb2.STATUS_SUCCESS
    assert trainer.history["val_loss"]


def test_tensorboards_hparams_plugin_lists_one_session_per_experiment(tmp_path):
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import backend_context, list_session_groups

    histories = {name: _fit(tmp_path / name, lr=lr).history
                 for name, lr in (("exp1", 0.05), ("exp2", 0.01))}
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    assert sorted(multiplexer.Runs()) == ["exp1", "exp1/train", "exp1/validation",
                                          "exp2", "exp2/train", "exp2/validation"]
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(tmp_path))
    tb_context = base_plugin.TBContext(logdir=str(tmp_path), multiplexer=multiplexer,
                                       data_provider=provider)
    request = api_pb2.ListSessionGroupsRequest(
        allowed_statuses=[api_pb2.STATUS_SUCCESS, api_pb2.STATUS_UNKNOWN], start_index=0,
        slice_size=10)
    response = list_session_groups.Handler(context.RequestContext(),
                                           backend_context.Context(tb_context), "",
                                           request).run()
    groups = {group.name: group for group in response.session_groups}
    assert sorted(groups) == ["exp1", "exp2"]  # each experiment listed once
    for name, history in histories.items():
        got = {(m.name.group, m.name.tag): m.value for m in groups[name].metric_values}
        assert got[("validation", "epoch_loss")] == pytest.approx(history["val_loss"][-1])
        assert got[("train", "epoch_accuracy")] == pytest.approx(history["accuracy"][-1])
        assert groups[name].hparams["lr"].number_value == pytest.approx(
            {"exp1": 0.05, "exp2": 0.01}[name])


@pytest.mark.parametrize("devices", [None, ["cpu", "cpu"]], ids=["one_device", "two_replicas"])
def test_log_graph_writes_the_first_steps_loss_graph(tmp_path, devices):
    trainer = _fit(tmp_path / "exp1", devices=devices, log_graph=True, epochs=1)
    train = _load(tmp_path / "exp1" / "train")
    assert train.Tags()["graph"]
    nodes = {node.name: node for node in train.Graph().node}
    ops = {name: node.op for name, node in nodes.items()}
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        assert ops[name] == "Parameter"
    assert ops["Linear"] == ops["Linear_1"] == "Linear"
    assert ops["Relu"] == "Relu" and ops["SoftmaxCrossEntropy"] == "SoftmaxCrossEntropy"
    assert list(nodes["Linear"].input) == ["0.weight", "0.bias"]
    assert list(nodes["Linear_1"].input) == ["Relu", "2.weight", "2.bias"]
    per_replica = 16
    shape = [d.size for d in nodes["Linear"].attr["_output_shapes"].list.shape[0].dim]
    assert shape == [per_replica, 16]
    from tensorboardX.proto.types_pb2 import DataType
    assert nodes["Relu"].attr["dtype"].type == DataType.Value("DT_FLOAT")
    assert trainer.graph is not None and trainer.graph.output.shape == ()
    assert not _load(tmp_path / "exp1" / "validation").Tags()["graph"]


def test_log_graph_without_a_log_dir_keeps_the_graph():
    gg.manual_seed(0)
    model = nn.Linear(4, 3)
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    trainer = Trainer(model, opt, F.cross_entropy, progress=False, log_graph=True)
    trainer.fit(_blobs(), epochs=1, batch_size=32)
    assert [node.name for node in trainer.graph.nodes][:3] == ["weight", "bias", "Linear"]


def test_logger_hparams_default_to_the_epoch_metrics(tmp_path):
    logger = TensorBoardLogger(str(tmp_path))
    logger.scalars({"epoch_loss": 1.0, "progress/learning_rate": 0.1}, step=1)
    logger.scalars({"epoch_loss": 2.0}, step=1, run="validation")
    logger.hparams({"lr": np.float32(0.1), "n": np.int64(3), "flag": True, "skip": None},
                   status="failure")
    logger.close()
    data = _hparams_data(_load(tmp_path))
    metrics = [(m.name.group, m.name.tag) for m in data["experiment"].experiment.metric_infos]
    assert metrics == [("train", "epoch_loss"), ("validation", "epoch_loss")]
    values = data["session_start_info"].session_start_info.hparams
    assert values["lr"].number_value == pytest.approx(0.1)
    assert values["n"].number_value == 3 and values["flag"].bool_value
    assert "skip" not in values
    assert data["session_end_info"].session_end_info.status == api_pb2.STATUS_FAILURE
