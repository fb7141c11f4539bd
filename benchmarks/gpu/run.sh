#!/usr/bin/env bash
# The device run, from a fresh machine with no internet (run benchmarks/gpu/prepare.sh here first):
#
#   OUT=/some/dir bash benchmarks/gpu/run.sh        # default OUT: ./gpu-out
#
# Installs the carried wheels offline, runs the CUDA tests, then each part of the suite in its own
# process under a hard time limit (its soft budget, checked before each row, is 30 s less), and
# writes OUT/suite.md. Under 8 minutes: the limits below add up to 460 s, plus the install. Each
# part saves its JSON after every row, so a part that is stopped still returns what it finished.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-gpu-out}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/run.log") 2>&1
export PYTHONUNBUFFERED=1

SITE=/tmp/lzn-site  # the wheels go beside the image's packages, not over them
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target "$SITE" benchmarks/gpu/wheels/*.whl || exit 1
export PYTHONPATH="$PWD/src:$SITE${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

echo "== CUDA tests"
timeout 60 python3 -m pytest -q -p no:cacheprovider tests/zoning/test_cuda.py \
  tests/data/test_augment.py::test_views_stay_on_the_gpu 2>&1 | tee "$OUT/cuda-tests.txt"

part() {  # name, hard limit in seconds
  echo "== $1 (at most $2 s)"
  timeout --kill-after=10 "$2" python3 benchmarks/gpu/suite.py --part "$1" --out "$OUT" \
    --budget $(($2 - 30)) || echo "part $1 ended with exit code $? (124: its time limit)"
}
part latent_flow 110
part training 200
part sampling 90
python3 benchmarks/gpu/suite.py --report --out "$OUT"
