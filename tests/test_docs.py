"""The documentation site: its examples run as written, and it builds without a warning.

Every ``pycon`` block of a page under ``docs/`` is a doctest (``gg`` is not predefined
there: the pages import what they use). The build runs ``mkdocs build --strict`` into a
temporary folder; it needs the ``docs`` extra (part of ``dev``) and no network.
"""
import doctest
import pathlib
import os
import re
import subprocess
import sys

import pytest

import gpugrad as gg

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md"))
_BLOCK = re.compile(r"^```pycon\n(.*?)^```", re.S | re.M)


def test_pages_found():
    names = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert {"index.md", "getting-started.md", "coming-from-pytorch.md", "multi-gpu.md",
            "semantics.md", "reference/tensor.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_page_examples_run(page):
    text = page.read_text()
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    globs = {}  # one namespace per page: later blocks use what earlier ones defined
    gg.manual_seed(0)
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start(1))
        test = parser.get_doctest(match.group(1), globs, page.name, str(page), line)
        runner.run(test, out=report.append, clear_globs=False)
        globs = test.globs  # DocTest copied them
    assert runner.failures == 0, "".join(report)


def test_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs build needs the docs extra (mkdocs)")
    pytest.importorskip("mkdocstrings", reason="the docs build needs the docs extra")
    pytest.importorskip("material", reason="the docs build needs mkdocs-material")
    site = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                            str(site)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env=_offline_env())
    assert build.returncode == 0, build.stdout + build.stderr
    for page in ["index.html", "coming-from-pytorch/index.html", "reference/tensor/index.html"]:
        assert (site / page).exists(), page
    tensor_page = (site / "reference/tensor/index.html").read_text()
    assert "gpugrad.Tensor.backward" in tensor_page  # the reference came from the docstrings
    assert "&gt;&gt;&gt;" in tensor_page and "<blockquote>" not in tensor_page


def _offline_env():
    env = dict(os.environ)
    env["NO_MKDOCS_2_WARNING"] = "1"  # Material's banner about MkDocs 2, not our warning
    return env


def test_reference_pages_cover_the_public_modules():
    text = "\n".join(p.read_text() for p in (DOCS / "reference").glob("*.md"))
    for module in ["gpugrad.Tensor", "gpugrad.nn", "gpugrad.nn.functional", "gpugrad.nn.init",
                   "gpugrad.optim", "gpugrad.optim.lr_scheduler", "gpugrad.data",
                   "gpugrad.train", "gpugrad.parallel", "gpugrad.distributed",
                   "gpugrad.func", "gpugrad.cuda"]:
        assert f"::: {module}\n" in text, module


def test_build_is_offline():
    # Material's Google-fonts link and the social-card plugin fetch from the network.
    config = (ROOT / "mkdocs.yml").read_text()
    assert re.search(r"^\s+font: false$", config, re.M)
    assert "social" not in config
