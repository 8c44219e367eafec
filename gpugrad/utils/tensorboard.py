"""PyTorch's ``torch.utils.tensorboard`` path: ``SummaryWriter`` is tensorboardX's writer
(the ``tensorboard`` extra: ``pip install gpugrad[tensorboard]``) taking gpugrad tensors
wherever it takes arrays: they are copied to NumPy on the CPU first.

>>> import tempfile
>>> with SummaryWriter(tempfile.mkdtemp()) as writer:
...     writer.add_scalar("loss", gg.tensor(0.25), global_step=1)
...     writer.add_histogram("weights", gg.randn(100), global_step=1)
"""
from ..tensor import Tensor

try:
    from tensorboardX import SummaryWriter as _TensorboardXWriter
except ImportError:  # the optional extra: SummaryWriter() says how to install it
    _TensorboardXWriter = object

__all__ = ["SummaryWriter"]


def _host(value):
    """``value`` with gpugrad tensors (also inside lists, tuples and dicts) as NumPy arrays."""
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {k: _host(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
        return type(value)(_host(v) for v in value)
    return value


def _scalar(value):
    return value.item() if isinstance(value, Tensor) else value


class SummaryWriter(_TensorboardXWriter):
    """tensorboardX's ``SummaryWriter`` (same arguments: ``logdir``/``log_dir``,
    ``comment``, ``purge_step``, ``max_queue``, ``flush_secs``, ``filename_suffix``) whose
    ``add_*`` methods accept gpugrad tensors on any device.

    >>> import tempfile
    >>> writer = SummaryWriter(tempfile.mkdtemp())
    >>> writer.add_image("img", gg.rand(3, 4, 4), global_step=0)
    >>> writer.close()
    """

    def __init__(self, *args, **kwargs):
        if _TensorboardXWriter is object:
            raise ImportError("gpugrad.utils.tensorboard.SummaryWriter needs tensorboardX: "
                              "pip install gpugrad[tensorboard] (or pip install tensorboardX)")
        super().__init__(*args, **kwargs)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, **kwargs):
        """One number (a Python number or a one-element tensor) under ``tag`` at
        ``global_step``.

        >>> import tempfile
        >>> with SummaryWriter(tempfile.mkdtemp()) as w:
        ...     w.add_scalar("acc", gg.tensor([0.5]), 3)
        """
        return super().add_scalar(tag, _scalar(scalar_value), _scalar(global_step), walltime,
                                  **kwargs)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several numbers (tag -> number or one-element tensor) charted together.

        >>> import tempfile
        >>> with SummaryWriter(tempfile.mkdtemp()) as w:
        ...     w.add_scalars("loss", {"train": gg.tensor(0.3), "val": 0.4}, 1)
        """
        values = {k: _scalar(v) for k, v in tag_scalar_dict.items()}
        return super().add_scalars(main_tag, values, _scalar(global_step), walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        """A histogram of the entries of ``values`` (a tensor or array).

        >>> import tempfile
        >>> with SummaryWriter(tempfile.mkdtemp()) as w:
        ...     w.add_histogram("w", gg.randn(3, 3), 0)
        """
        return super().add_histogram(tag, _host(values), _scalar(global_step), bins, walltime,
                                     max_bins)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image: a (C, H, W) tensor (``dataformats`` says otherwise), float in [0, 1]
        or uint8.

        >>> import tempfile
        >>> with SummaryWriter(tempfile.mkdtemp()) as w:
        ...     w.add_image("x", gg.zeros(1, 2, 2), 0)
        """
        return super().add_image(tag, _host(img_tensor), _scalar(global_step), walltime,
                                 dataformats)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None,
                   dataformats="NCHW"):
        """A batch of images: an (N, C, H, W) tensor shown as a grid.

        >>> import tempfile
        >>> with SummaryWriter(tempfile.mkdtemp()) as w:
        ...     w.add_images("xs", gg.rand(2, 3, 4, 4), 0)
        """
        return super().add_images(tag, _host(img_tensor), _scalar(global_step), walltime,
                                  dataformats)

    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None, tag="default",
                      metadata_header=None):
        """Points (rows of ``mat``) for the projector, with optional labels.

        >>> import tempfile
        >>> with SummaryWriter(tempfile.mkdtemp()) as w:
        ...     w.add_embedding(gg.randn(4, 3), metadata=["a", "b", "c", "d"])
        """
        return super().add_embedding(_host(mat), metadata, _host(label_img),
                                     _scalar(global_step), tag, metadata_header)

    def add_pr_curve(self, tag, labels, predictions, global_step=None, num_thresholds=127,
                     weights=None, walltime=None):
        """A precision-recall curve of ``predictions`` (probabilities) against 0/1
        ``labels``.

        >>> import tempfile
        >>> with SummaryWriter(tempfile.mkdtemp()) as w:
        ...     w.add_pr_curve("pr", gg.tensor([0, 1, 1]), gg.tensor([0.2, 0.7, 0.9]), 0)
        """
        return super().add_pr_curve(tag, _host(labels), _host(predictions),
                                    _scalar(global_step), num_thresholds, _host(weights),
                                    walltime)
