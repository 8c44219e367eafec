"""The installed package must contain every subpackage, import without CuPy, and carry its
license, URLs and ``py.typed``."""
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

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


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_an_spdx_expression_with_its_file():
    project = _pyproject()
    assert project["project"]["license"] == "MIT"
    assert project["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "the gpugrad developers" in text
    # A license string needs setuptools 77 or later to build.
    (setuptools,) = [r for r in project["build-system"]["requires"] if "setuptools" in r]
    assert int(setuptools.split(">=")[1].split(".")[0]) >= 77


def test_project_urls_point_somewhere_real():
    urls = _pyproject()["project"]["urls"]
    assert {"Documentation", "Changelog"} <= set(urls)
    for label, url in urls.items():
        assert url.startswith("https://") or (ROOT / url).is_file(), (label, url)


def test_dev_extra_installs_tensorboard_for_the_log_tests():
    dev = _pyproject()["project"]["optional-dependencies"]["dev"]
    assert any(req.split(">")[0] == "tensorboard" for req in dev)


@pytest.mark.slow
def test_wheel_ships_py_typed_and_the_license(tmp_path):
    """Build a wheel from a copy of the tree (the build writes build/ next to its sources)."""
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip("the installed setuptools is too old for an SPDX license string")
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "runs", "out", "*.egg-info", "__pycache__",
        ".pytest_cache", ".hypothesis", "tests", "benchmarks", "examples"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(src)], check=True)
    (wheel,) = (tmp_path / "dist").glob("gpugrad-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = z.read(metadata).decode()
    assert "gpugrad/py.typed" in names and "gpugrad/viz.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in meta.splitlines()
    assert "Project-URL: Changelog, CHANGELOG.md" in meta.splitlines()


def test_a_bare_checkout_on_pythonpath_imports_the_kernels(tmp_path):
    """No install at all (a lent GPU machine runs gpugrad so): gpugrad/_source_tree.py maps
    the top-level kernels/ folder as gpugrad.kernels. The editable install's finder is
    removed first, as it would otherwise answer."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for folder in ("gpugrad", "kernels"):
        shutil.copytree(os.path.join(root, folder), tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path "
            "if 'editable' not in getattr(f, '__module__', '')]; "
            "import gpugrad, gpugrad.kernels.softmax as s; "
            "print(gpugrad.__file__); print(s.__file__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(tmp_path)), cwd=tmp_path,
                         check=True).stdout.split()
    assert out == [str(tmp_path / "gpugrad" / "__init__.py"),
                   str(tmp_path / "kernels" / "softmax.py")]
