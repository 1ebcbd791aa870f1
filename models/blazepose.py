"""MediaPipe BlazePose's two networks as PyTorch modules, weights read from the mediapipe wheel's own files.

The pose detector (`pose_detection.tflite`, input 224x224 RGB in [-1, 1]) and the full landmark model
(`pose_landmark_full.tflite`, input 256x256 RGB in [0, 1]) ship inside the mediapipe 0.10.21 wheel under
Apache-2.0. They are read at first use with `models.tflite`; nothing is downloaded and mediapipe itself is
not imported (the wheel is only located), so this works wherever the wheel's files are installed.

Outputs (batch N first, TFLite's own layout):
    detector:   regressors (N, 2254, 12) float32: box x, y, w, h and 4 keypoints (x, y), in 224-pixel units
                relative to the anchor; scores (N, 2254, 1) float32 logits.
    landmarker: landmarks (N, 195) float32: 39 x (x, y, z in 256-pixel units, visibility and presence
                logits); presence (N, 1) float32 0-1; heatmap (N, 64, 64, 39) float32 logits.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from models.tflite import TFLiteModule, read_graph

DETECTOR_FILE = ("modules", "pose_detection", "pose_detection.tflite")
LANDMARKER_FILE = ("modules", "pose_landmark", "pose_landmark_full.tflite")
DETECTOR_SIZE = 224
LANDMARKER_SIZE = 256
MEDIAPIPE_WHEEL = "mediapipe==0.10.21"


class WeightsNotFoundError(FileNotFoundError):
    """The mediapipe wheel that carries the BlazePose weights is not installed."""


def locate(parts: tuple[str, ...]) -> Path:
    """Path of a file inside the installed mediapipe package, found without importing mediapipe."""
    spec = importlib.util.find_spec("mediapipe")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root, *parts)
        if path.is_file():
            return path
    raise WeightsNotFoundError(
        f"the BlazePose weights ({'/'.join(parts)}) come from the {MEDIAPIPE_WHEEL} wheel, which is not "
        f"installed here: pip install {MEDIAPIPE_WHEEL}"
    )


def build_detector() -> TFLiteModule:
    """The pose detector, in eval mode on the CPU (float32)."""
    return TFLiteModule(read_graph(locate(DETECTOR_FILE))).eval()


def build_landmarker() -> TFLiteModule:
    """The full landmark model without its segmentation and world-landmark heads (not used), eval mode."""
    return TFLiteModule(read_graph(locate(LANDMARKER_FILE)), outputs=(0, 1, 3)).eval()
