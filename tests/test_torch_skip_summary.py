"""A run without PyTorch says how many comparisons against PyTorch it skipped: the summary
line of ``pytest_terminal_summary`` in conftest.py, checked in a child pytest run whose
``import torch`` fails."""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def test_summary_counts_the_torch_skips(tmp_path):
    (tmp_path / "block_torch.py").write_text("import sys\nsys.modules['torch'] = None\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), HERE]))
    env.pop("GPUGRAD_SIMULATE_CUDA", None)
    cmd = [sys.executable, "-m", "pytest", "-p", "block_torch", "-p", "no:cacheprovider",
           "-q", os.path.join("nn", "test_nn_utils_more.py"),
           os.path.join("nn", "test_nn_vs_torch.py")]
    child = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True, timeout=300)
    out = child.stdout + child.stderr
    assert child.returncode == 0, out
    line = re.search(r"PyTorch comparisons skipped: (\d+) tests and 1 whole test module "
                     r"\(torch not installed: pip install torch\)", out)
    assert line, out
    # every skip of this run is a torch one: the count is pytest's own skipped count less
    # the skipped module
    skipped = int(re.search(r"(\d+) skipped", out).group(1))
    assert int(line.group(1)) == skipped - 1 > 0


def test_no_summary_line_when_nothing_torch_was_skipped(tmp_path):
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
           os.path.join("nn", "test_nn_utils_more.py"), "-k", "gradcheck"]
    child = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stdout
    assert "PyTorch comparisons skipped" not in child.stdout
