"""The installed package must contain every subpackage, and import without CuPy."""
import pathlib
import subprocess
import sys

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "gpugrad").rglob("__init__.py")}
    found.add("gpugrad.kernels")
    assert found == listed


def test_import_needs_neither_cupy_nor_numba_cuda():
    code = ("import sys, gpugrad, gpugrad.nn, gpugrad.optim, gpugrad.kernels; "
            "bad = [m for m in ('cupy', 'numba.cuda') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
