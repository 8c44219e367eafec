#!/usr/bin/env bash
# One-shot check of gpugrad on a machine with one NVIDIA GPU, run from the repository root:
#
#     bash benchmarks/gpu_check.sh            # logs and summary.txt go to $OUT (or ./gpu_check_out)
#
# Nothing is installed and nothing is downloaded: gpugrad runs from this checkout through
# PYTHONPATH, and the machine must already have numpy, cupy, numba, numba-cuda, pytest,
# hypothesis, safetensors and tqdm (PyTorch, mpi4py, scikit-learn and matplotlib are used
# where present). Every step runs under `timeout`, so the whole check stays within about
# 7 minutes; a step that fails or times out is reported and the next one still runs.
# Without a GPU it says so and exits with status 2 at once.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu_check_out}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# The CPU parts of the benchmarks compare against NumPy as users run it (see README).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
: > "$SUMMARY"

say() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME SECONDS COMMAND...: run under timeout, log to $OUT/NAME.log, one summary line.
step() {
  local name=$1 limit=$2
  shift 2
  local started=$SECONDS
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$? took=$((SECONDS - started)) verdict=ok
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then verdict="TIMED OUT after ${limit}s"
  elif [ $rc -ne 0 ]; then verdict="FAILED (exit $rc)"; fi
  # pytest's closing line, when the step ran pytest
  local counts
  counts=$(grep -E "^(=+ )?[0-9]+ (passed|failed|error)" "$OUT/$name.log" | tail -n 1 | tr -d '=')
  say "$(printf '%-12s %-22s %4ss  %s' "$name" "$verdict" "$took" "${counts# }")"
}

if ! command -v nvidia-smi > /dev/null 2>&1 || ! nvidia-smi -L > /dev/null 2>&1; then
  say "gpu_check: no NVIDIA GPU here (nvidia-smi -L fails); nothing to check"
  exit 2
fi
if ! timeout 60 "$PY" -c "import gpugrad, sys; sys.exit(0 if gpugrad.cuda.is_available() else 1)" \
    > "$OUT/import.log" 2>&1; then
  say "gpu_check: gpugrad sees no CUDA device (is CuPy installed?); see $OUT/import.log"
  exit 2
fi

{
  date -u
  nvidia-smi -L
  "$PY" - <<'EOF'
import importlib, platform
print("python", platform.python_version())
for name in ["numpy", "cupy", "numba", "numba_cuda", "torch", "mpi4py", "pytest", "hypothesis"]:
    try:
        print(f"{name:12s}", getattr(importlib.import_module(name), "__version__", "?"))
    except Exception as err:  # absent or broken: say which
        print(f"{name:12s} unavailable ({type(err).__name__})")
EOF
} > "$OUT/versions.log" 2>&1
say "gpu_check on $(nvidia-smi -L | head -n 1)"

# faulthandler dumps the stacks of a test stuck for 60 s into the log before the step's
# timeout ends it.
PYTEST=("$PY" -m pytest -q -p no:cacheprovider -o faulthandler_timeout=60 -rfEs)
step cuda_tests 170 "${PYTEST[@]}" -m cuda tests
step kernel_tests 50 "${PYTEST[@]}" -m "not mpi" tests/kernels
step selftest 50 "$PY" -m gpugrad.selftest
step bench_kernels 50 "$PY" benchmarks/kernels.py --repeats 7
step bench_mlp 50 "$PY" benchmarks/gpu_mlp.py --steps 20 --rounds 5
step bandwidth 30 "$PY" benchmarks/gpu_bandwidth.py --repeats 11
step train_digits 50 "$PY" examples/train_digits.py --epochs 2 --devices cuda:0 \
  --no-progress --log-dir "$OUT/runs" --out "$OUT/digits"

say ""
grep -h "^RESULT" "$OUT"/bench_mlp.log "$OUT"/bandwidth.log 2>/dev/null | sed 's/^RESULT /  /' \
  | tee -a "$SUMMARY"
grep -h "speedup\|x$" "$OUT/bench_kernels.log" 2>/dev/null | tail -n 12 >> "$SUMMARY"
grep -h "accuracy" "$OUT/train_digits.log" 2>/dev/null | tail -n 1 | tee -a "$SUMMARY"
if grep -q "FAILED\|TIMED OUT" "$SUMMARY"; then exit 1; fi
exit 0
