"""Record what the TFLite interpreter itself computes for the BlazePose networks on a fixed image, so
tests/models/test_tflite.py can check that models/tflite.py runs the same graphs (tests/data/blazepose/).

The interpreter (`ai-edge-litert`, Google's TFLite runtime) is not a dependency of the project: run this
with a separate environment that has it and numpy, pointing at the mediapipe package's folder:

    python3.11 -m venv /tmp/litert && /tmp/litert/bin/pip install ai-edge-litert==2.3.0 numpy
    /tmp/litert/bin/python scripts/blazepose_reference.py "$(.venv/bin/python -c \
        'import importlib.util; print(importlib.util.find_spec("mediapipe").submodule_search_locations[0])')"
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.models.probe import probe_image  # noqa: E402

OUT = ROOT / "tests" / "data" / "blazepose" / "reference.npz"


def run(model: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    """The model's outputs by name (Identity, Identity_1, ...: the graph's output order)."""
    interpreter = Interpreter(model_path=str(model), num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}


def main() -> None:
    mediapipe = Path(sys.argv[1])
    detector = run(mediapipe / "modules/pose_detection/pose_detection.tflite", 2 * probe_image(224) - 1)
    regressors, scores = detector["Identity"], detector["Identity_1"]
    outputs = run(mediapipe / "modules/pose_landmark/pose_landmark_full.tflite", probe_image(256))
    landmarks, flag, heatmap = outputs["Identity"], outputs["Identity_1"], outputs["Identity_3"]
    assert landmarks.shape == (1, 195) and flag.shape == (1, 1) and heatmap.shape == (1, 64, 64, 39)
    np.savez_compressed(
        OUT,
        detector_regressors=regressors,
        detector_scores=scores,
        landmarks=landmarks,
        presence=flag,
        heatmap_every_4th=heatmap[:, ::4, ::4, :],
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
