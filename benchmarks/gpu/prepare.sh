#!/usr/bin/env bash
# Run here, with the package registry reachable: downloads the pure-Python (and kornia_rs) wheels
# that the device image lacks into benchmarks/gpu/wheels/ (git-ignored), for run.sh to install
# offline. The device has Python 3.12, torch, triton, lightning, scipy, scikit-learn, matplotlib,
# safetensors, pyyaml, pandas, protobuf and typing_extensions; these are the rest of lzn's needs.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p wheels
rm -f wheels/*.whl  # one version of each: two stop the whole install

# Versions pinned to those the project's tests run with here.
WHEELS=(
  kornia==0.9.0 kornia_rs==0.2.0                                # batched GPU augmentations
  jsonargparse==4.53.0 docstring_parser==0.18.0 typeshed_client==2.15.0  # LightningCLI
  tensorboardX==2.6.5
  mlxtend==0.25.0
)
PLATFORMS=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
  manylinux1_x86_64; do
  PLATFORMS+=(--platform "$p")
done
for w in "${WHEELS[@]}"; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${PLATFORMS[@]}" -d wheels "$w"
done
ls -l wheels
