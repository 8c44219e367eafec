"""``benchmarks/sequence.py --quick`` runs both workloads to the end (timings not checked)."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_sequence_benchmark_quick_run():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "sequence.py"), "--quick", "--rounds", "1",
         "--steps", "1"],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    for workload in ("lstm", "transformer"):
        assert f"\n{workload}: first-step loss" in done.stdout, done.stdout
