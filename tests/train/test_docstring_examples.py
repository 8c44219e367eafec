"""The docstring examples of the training, logging and graph-drawing modules run as written."""
import doctest

import pytest

import gpugrad.train.history
import gpugrad.train.tensorboard
import gpugrad.train.trainer
import gpugrad.viz

MODULES = [gpugrad.viz, gpugrad.train.history, gpugrad.train.trainer]


@pytest.mark.parametrize("module", MODULES + [gpugrad.train.tensorboard],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    if module is gpugrad.train.tensorboard:
        pytest.importorskip("tensorboardX")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
