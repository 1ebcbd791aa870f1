#!/usr/bin/env bash
# Downloads the wheels the lent GPU machine lacks (it has Python 3.12, torch with CUDA, numpy 2, OpenCV and
# Pillow, and no network) into two git-ignored folders, each small enough for one device call (< 60 MiB):
#   .whl-a: mediapipe 0.10.21 (the BlazePose weights and the MediaPipe backend) + protobuf 4.25 + attrs
#   .whl-b: PyAV 18.1.0 (abi3) + matplotlib and its dependencies (mediapipe's drawing helpers import
#           matplotlib.pyplot when mediapipe is imported; the engine never draws with them)
# Usage: bash scripts/gpu_wheels.sh            (PYVER=3.11 fetches the same set for a local dry run)
set -euo pipefail
cd "$(dirname "$0")/.."
PYVER=${PYVER:-3.12}
fetch() {  # fetch FOLDER NAME==VERSION
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$1" "$2"
}
rm -rf .whl-a .whl-b
fetch .whl-a mediapipe==0.10.21
fetch .whl-a protobuf==4.25.9
fetch .whl-a attrs==26.1.0  # mediapipe.solutions.objectron imports attr
fetch .whl-b av==18.1.0
for wheel in matplotlib==3.11.2 contourpy==1.3.3 cycler==0.12.1 fonttools==4.68.0 kiwisolver==1.5.1 \
    pyparsing==3.3.3 python-dateutil==2.9.0.post0 six==1.17.0 packaging==26.3; do
  fetch .whl-b "$wheel"
done
# Never committed: ignored through the repository's own exclude file (shared by every worktree).
exclude="$(git rev-parse --git-common-dir)/info/exclude"
mkdir -p "$(dirname "$exclude")"
for folder in /.whl-a/ /.whl-b/; do
  grep -qxF "$folder" "$exclude" 2>/dev/null || echo "$folder" >> "$exclude"
done
for folder in .whl-a .whl-b; do
  size=$(du -sm "$folder" | cut -f1)
  ls "$folder"
  if [ "$size" -ge 60 ]; then echo "$folder is $size MiB: over the 60 MiB a device call may carry" >&2; exit 1; fi
  echo "$folder: $size MiB"
done
git status --short --ignored .whl-a .whl-b
