#!/usr/bin/env bash
# The GPU check of issue 12, on the lent GPU machine: bench/gpu.py with the GPU visible and hidden.
# The machine has Python 3.12, torch (CUDA), numpy, OpenCV and Pillow; mediapipe and PyAV come as wheels
# (bash scripts/gpu_wheels.sh), unpacked in two calls back to back because one call carries 64 MiB at most:
#   call 1 (carry .whl-a):  bash scripts/gpu_check.sh unpack-a        -> /tmp/site-a
#   call 2 (carry .whl-b):  bash scripts/gpu_check.sh                 -> /tmp/site-b, then the benchmark
# Call 2 writes $OUT/gpu.txt (what it printed) and $OUT/gpu.json, and finishes in under 6 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
OUT=${OUT:-out/gpu}
unpack() {  # unpack WHEEL_FOLDER SITE: a wheel is a zip of what goes into site-packages
  "$PY" - "$1" "$2" <<'PY'
import glob, sys, zipfile
wheels = sorted(glob.glob(sys.argv[1] + "/*.whl"))
if not wheels:
    sys.exit(f"no wheels in {sys.argv[1]}: carry it (bash scripts/gpu_wheels.sh makes it)")
for wheel in wheels:
    zipfile.ZipFile(wheel).extractall(sys.argv[2])
print("unpacked", ", ".join(w.rsplit("/", 1)[-1] for w in wheels), "into", sys.argv[2])
PY
}
if [ "${1:-}" = "unpack-a" ]; then
  unpack .whl-a /tmp/site-a
  exit 0
fi
if [ ! -d /tmp/site-a/mediapipe ]; then
  echo "/tmp/site-a is missing: run 'bash scripts/gpu_check.sh unpack-a' (carrying .whl-a) just before" >&2
  exit 3
fi
unpack .whl-b /tmp/site-b
export PYTHONPATH=/tmp/site-a:/tmp/site-b:.
mkdir -p "$OUT"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$PY" -c "import torch, numpy, cv2, av, mediapipe; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
'| numpy', numpy.__version__, '| cv2', cv2.__version__, '| av', av.__version__, '| mediapipe', mediapipe.__version__)"
  timeout 340 "$PY" bench/gpu.py --json "$OUT/gpu.json"
} 2>&1 | grep -v -e '^W0000' -e '^I0000' -e '^INFO: Created TensorFlow' | tee "$OUT/gpu.txt"
