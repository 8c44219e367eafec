"""Shared fixtures: every backend test runs on the CPU, and on CUDA where a GPU exists.

CUDA cases carry the ``cuda`` marker; the default ``-m 'not cuda'`` (pyproject) deselects
them, and ``GPUGRAD_SIMULATE_CUDA=2 python -m pytest -m cuda`` runs them on two simulated
devices (the README's test command does both). A cuda test that only real hardware can
answer carries ``gpu_hardware(reason)`` and is skipped on simulated devices with it.
"""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends import checks as _checks

# With GPUGRAD_SIMULATE_CUDA set, this installs the simulated ``cupy`` before any test
# module asks for it.
gg.cuda.is_available()

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
if gg.cuda.device_count() > 1:
    # Tensors on the second GPU while the first is current: every replica but the first
    # lives so, and an array created on the current device instead of the tensor's fails.
    DEVICES.append(pytest.param("cuda:1", marks=pytest.mark.cuda))


@pytest.fixture(params=DEVICES)
def device(request):
    """The device a backend-parametrized test runs on."""
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    gg.manual_seed(0)
    np.random.seed(0)
    yield
    # A GPU index check a test left queued must not fail the next test's synchronisation.
    _checks.discard_pending()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_collection_modifyitems(config, items):
    if not gg.cuda.is_simulated():
        return
    for item in items:
        marker = item.get_closest_marker("gpu_hardware")
        if marker is not None:
            reason = marker.args[0] if marker.args else "needs a real GPU"
            item.add_marker(pytest.mark.skip(reason=f"simulated devices: {reason}"))


def pytest_terminal_summary(terminalreporter):
    """Say how many comparisons against PyTorch were skipped (every torch-dependent skip
    names torch or PyTorch in its reason), so a run without PyTorch does not pass quietly."""
    import re
    tests = modules = 0
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(
            report.longrepr)
        if re.search("torch", reason, re.IGNORECASE):
            if report.when == "collect":  # a whole module (pytest.importorskip("torch"))
                modules += 1
            else:
                tests += 1
    if not tests and not modules:
        return
    try:
        import torch  # noqa: F401
        why = "run with -rs for the reasons"
    except ImportError:
        why = "torch not installed: pip install torch"
    counted = f"{tests}"
    if modules:
        counted += f" tests and {modules} whole test module{'s' if modules > 1 else ''}"
    terminalreporter.write_line(f"PyTorch comparisons skipped: {counted} ({why})")
