"""The TFLite reader runs MediaPipe's BlazePose networks as the TFLite interpreter does.

The reference outputs were recorded with Google's own interpreter (scripts/blazepose_reference.py) on a
fixed image; the networks here are read from the installed mediapipe wheel.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from models import blazepose
from models.tflite import TFLiteError, TFLiteModule, _Table, read_graph
from tests.models.probe import probe_image

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "blazepose" / "reference.npz"


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return dict(data)


def close(ours: torch.Tensor, theirs: np.ndarray) -> float:
    """Largest difference relative to the output's own range."""
    return float(np.abs(ours.numpy() - theirs).max() / max(np.abs(theirs).max(), 1e-6))


def test_the_detector_computes_what_the_tflite_interpreter_computes(reference):
    detector = blazepose.build_detector()
    with torch.inference_mode():
        regressors, scores = detector(torch.from_numpy(2 * probe_image(224) - 1))
    assert regressors.shape == (1, 2254, 12) and scores.shape == (1, 2254, 1)
    assert close(regressors, reference["detector_regressors"]) < 1e-4
    assert close(scores, reference["detector_scores"]) < 1e-4


def test_the_landmark_model_computes_what_the_tflite_interpreter_computes(reference):
    landmarker = blazepose.build_landmarker()
    with torch.inference_mode():
        landmarks, presence, heatmap = landmarker(torch.from_numpy(probe_image(256)))
    assert landmarks.shape == (1, 195) and presence.shape == (1, 1) and heatmap.shape == (1, 64, 64, 39)
    assert close(landmarks, reference["landmarks"]) < 1e-4
    assert abs(presence.item() - reference["presence"].item()) < 1e-4
    assert close(heatmap[:, ::4, ::4, :], reference["heatmap_every_4th"]) < 1e-4


def test_channels_first_input_and_batches_give_the_same_outputs():
    landmarker = blazepose.build_landmarker()
    x = torch.from_numpy(np.concatenate([probe_image(256), probe_image(256)[:, ::-1]]).copy())
    with torch.inference_mode():
        nhwc = landmarker(x)
        nchw = landmarker(x.permute(0, 3, 1, 2).contiguous(), channels_last=False)
        single = landmarker(x[1:])
    for a, b in zip(nhwc, nchw, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-3)
    assert torch.allclose(nhwc[0][1:], single[0], rtol=1e-4, atol=1e-3)


def test_only_the_requested_outputs_are_computed():
    graph = read_graph(blazepose.locate(blazepose.LANDMARKER_FILE))
    full, trimmed = TFLiteModule(graph), TFLiteModule(graph, outputs=(0, 1, 3))
    assert len(trimmed._plan) < len(full._plan)  # the segmentation and world-landmark heads are left out


def test_a_file_that_is_not_a_tflite_model_is_refused(tmp_path):
    fake = tmp_path / "pose.tflite"
    fake.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(TFLiteError, match="not a TFLite model"):
        read_graph(fake)


def test_an_operator_it_cannot_run_is_refused_by_name_at_load(tmp_path):
    """The first operator code of the detector rewritten to FULLY_CONNECTED (9): refused, not run wrongly."""
    model = tmp_path / "changed.tflite"
    shutil.copy(blazepose.locate(blazepose.DETECTOR_FILE), model)
    buf = bytearray(model.read_bytes())
    root = _Table(bytes(buf), struct.unpack_from("<I", buf, 0)[0])
    code = root.tables(1)[0]
    for field, fmt in ((0, "<b"), (3, "<i")):  # the deprecated byte code and the int32 one
        at = code._field(field)
        if at is not None:
            struct.pack_into(fmt, buf, at, 9)
    model.write_bytes(bytes(buf))
    with pytest.raises(TFLiteError, match="operator 9"):
        read_graph(model)


def test_missing_weights_say_which_wheel_to_install(monkeypatch):
    monkeypatch.setattr(blazepose.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(blazepose.WeightsNotFoundError, match=r"pip install mediapipe==0\.10\.21"):
        blazepose.locate(blazepose.DETECTOR_FILE)
