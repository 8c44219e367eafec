"""Shared fixtures: every backend test runs on the CPU, and on CUDA where a GPU exists.

CUDA cases carry the ``cuda`` marker; the default ``-m 'not cuda'`` (pyproject) deselects
them on machines without a GPU instead of skipping them silently.
"""
import numpy as np
import pytest

import gpugrad as gg

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


@pytest.fixture(params=DEVICES)
def device(request):
    """The device a backend-parametrized test runs on."""
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    gg.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
