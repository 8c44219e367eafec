"""``gg.utils.tensorboard.SummaryWriter``: gpugrad tensors (CPU or GPU) go in, and the event
files read back with TensorBoard's own EventAccumulator."""
import subprocess
import sys

import numpy as np
import pytest

import gpugrad as gg

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

from gpugrad.utils.tensorboard import SummaryWriter  # noqa: E402


def _load(folder):
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0,
                                                                         "histograms": 0,
                                                                         "images": 0})
    acc.Reload()
    return acc


def test_tensors_are_written_and_read_back(device, tmp_path):
    values = gg.randn(200, device=device)
    with SummaryWriter(str(tmp_path)) as writer:
        for step in range(3):
            writer.add_scalar("loss", gg.tensor(1.0 / (step + 1), device=device), step)
        writer.add_scalar("lr", 0.1, gg.tensor(7))
        writer.add_histogram("w", values, global_step=1)
        writer.add_image("img", gg.rand(3, 5, 4, device=device), 2)
        writer.add_images("batch", gg.rand(2, 1, 4, 4, device=device), 2)
    acc = _load(tmp_path)
    loss = acc.Scalars("loss")
    assert [e.step for e in loss] == [0, 1, 2]
    np.testing.assert_allclose([e.value for e in loss], [1.0, 0.5, 1.0 / 3], rtol=1e-6)
    assert [(e.step, e.value) for e in acc.Scalars("lr")] == [(7, pytest.approx(0.1))]
    (hist,) = acc.Histograms("w")
    host = values.cpu().numpy()
    assert hist.step == 1 and hist.histogram_value.num == 200
    np.testing.assert_allclose([hist.histogram_value.min, hist.histogram_value.max,
                                hist.histogram_value.sum], [host.min(), host.max(), host.sum()],
                               rtol=1e-5)
    (img,) = acc.Images("img")
    assert (img.step, img.height, img.width) == (2, 5, 4)
    (grid,) = acc.Images("batch")
    assert grid.step == 2


def test_add_scalars_and_pr_curve(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_scalars("loss", {"train": gg.tensor(0.5), "val": 0.25}, 4)
        writer.add_pr_curve("pr", gg.tensor([0, 1, 1, 0]), gg.tensor([0.1, 0.8, 0.6, 0.3]),
                            0)
    # add_scalars writes one sub-run per tag (main_tag/tag), as tensorboardX does
    assert sorted(p.name for p in (tmp_path / "loss").iterdir()) == ["train", "val"]
    (event,) = _load(tmp_path / "loss" / "train").Scalars("loss")
    assert (event.step, event.value) == (4, 0.5)
    assert "pr" in _load(tmp_path).Tags()["tensors"]


def test_missing_tensorboardx_names_the_extra():
    code = ("import sys; sys.modules['tensorboardX'] = None\n"
            "from gpugrad.utils.tensorboard import SummaryWriter\n"
            "try:\n    SummaryWriter('x')\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert "pip install gpugrad[tensorboard]" in out.stdout, out.stderr
