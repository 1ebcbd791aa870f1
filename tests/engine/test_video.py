"""The whole pipeline on real video: decoding, rotation, pose estimation, alignment and scoring."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from engine.api import EngineSettings, compare
from engine.decode import probe
from tests.engine.cli_runner import dancescore

pytestmark = pytest.mark.slow


def transform_video(
    src: Path,
    dst: Path,
    *,
    fps: float | None = None,
    crop: tuple[int, int, int, int] | None = None,
    hflip: bool = False,
    rotate_stored: bool = False,
    squeeze: int = 1,
    crf: int = 23,
) -> Path:
    """Re-encode `src` as a user's phone or editor might: another frame rate, cropped, mirrored, stored
    sideways with rotation metadata (a portrait phone clip), or anamorphic: `squeeze` times narrower with a
    sample aspect ratio of `squeeze`:1 (non-square pixels, as DV and some editors write)."""
    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        rate = Fraction(fps).limit_denominator(1001) if fps else stream.average_rate
        frames = [(float(f.time), f.to_ndarray(format="rgb24")) for f in inp.decode(stream)]
    with av.open(str(dst), "w") as out:
        image = frames[0][1]
        if crop:
            x0, y0, x1, y1 = crop
            image = image[y0:y1, x0:x1]
        h, w = image.shape[:2]
        if rotate_stored:
            h, w = w, h
        w //= squeeze
        v = out.add_stream("libx264", rate=rate)
        v.width, v.height, v.pix_fmt = w // 2 * 2, h // 2 * 2, "yuv420p"
        if squeeze > 1:
            v.codec_context.sample_aspect_ratio = Fraction(squeeze, 1)
        v.options = {"crf": str(crf), "preset": "ultrafast"}
        if rotate_stored:
            v.set_display_rotation(-90)  # display: rotate 90 degrees clockwise
        duration = frames[-1][0] + 1 / 30
        n = int(round(duration * float(rate)))
        times = np.array([t for t, _ in frames])
        for k in range(n):
            t = k / float(rate)
            img = frames[int(np.clip(np.searchsorted(times, t + 1e-6) - 1, 0, len(frames) - 1))][1]
            if crop:
                img = img[y0:y1, x0:x1]
            if hflip:
                img = img[:, ::-1]
            if rotate_stored:
                img = np.rot90(img, 1)  # stored rotated counter-clockwise; the player turns it back
            if squeeze > 1:
                img = cv2.resize(np.ascontiguousarray(img), (w, img.shape[0]), interpolation=cv2.INTER_AREA)
            img = np.ascontiguousarray(img[: v.height, : v.width])
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = k
            frame.time_base = Fraction(1) / rate
            for packet in v.encode(frame):
                out.mux(packet)
        for packet in v.encode(None):
            out.mux(packet)
    return dst


@pytest.fixture(scope="module")
def engine_settings(tmp_path_factory) -> EngineSettings:
    return EngineSettings(cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def ref_score(engine_settings, data_dir):
    return compare(data_dir / "squat_reference.mp4", data_dir / "squat_reference.mp4", engine_settings)


def test_video_against_itself(ref_score, engine_settings):
    assert ref_score.score >= 9.8
    assert ref_score.backend == "mediapipe-blazepose-full"
    analysed = ref_score.frames["attempt"]["analysed"]
    assert abs(analysed - 7.0 * engine_settings.analysis_fps) <= 2  # the 7 s clip at the analysis rate
    assert ref_score.frames["attempt"]["with_dancer"] == analysed


def test_zoomed_offset_copy_through_the_cli(data_dir, tmp_path):
    run = dancescore(
        "compare", data_dir / "squat_reference.mp4", data_dir / "squat_zoomed_offset.mp4", "--json",
        "--cache-dir", tmp_path,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    result = run.json()
    assert result["score"] >= 9.0
    assert abs(result["offset_s"] - (-0.3)) <= 0.1
    assert not result["mirrored"]


@pytest.mark.parametrize(
    "change",
    [
        {"fps": 24.0, "crf": 30},
        {"crop": (200, 0, 1100, 720)},
        {"hflip": True},
        {"rotate_stored": True, "fps": 25.0},
        {"squeeze": 2},
    ],
    ids=["24fps-reencoded", "cropped", "mirrored", "portrait-phone-rotation", "anamorphic-2x"],
)
def test_the_same_performance_filmed_differently_scores_the_same(
    engine_settings, data_dir, tmp_path, ref_score, change
):
    attempt = transform_video(data_dir / "squat_reference.mp4", tmp_path / "attempt.mp4", **change)
    result = compare(data_dir / "squat_reference.mp4", attempt, engine_settings)
    assert abs(result.score - ref_score.score) <= 0.5, result.feedback
    assert result.mirrored is bool(change.get("hflip"))


def test_rotation_metadata_is_applied(data_dir, tmp_path):
    attempt = transform_video(data_dir / "squat_reference.mp4", tmp_path / "phone.mp4", rotate_stored=True)
    info = probe(attempt)
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (1280, 720)  # upright, as the viewer sees it


def test_non_square_pixels_are_shown_as_meant(data_dir, tmp_path):
    attempt = transform_video(data_dir / "squat_reference.mp4", tmp_path / "dv.mp4", squeeze=2, fps=10.0)
    with av.open(str(attempt)) as container:
        stored = container.streams.video[0].codec_context
        assert (stored.width, stored.height) == (640, 720)
    info = probe(attempt)
    assert (info.width, info.height) == (1280, 720)  # as a player shows it


def test_reference_is_analysed_once(engine_settings, data_dir):
    cached = list(Path(engine_settings.cache_dir).rglob("*.npz"))
    assert len(cached) == 1  # the reference's poses, keyed by its content hash
    result = compare(data_dir / "squat_reference.mp4", data_dir / "squat_zoomed_offset.mp4", engine_settings)
    assert result.seconds["total"] > 0
    assert list(Path(engine_settings.cache_dir).rglob("*.npz")) == cached


def test_extract_writes_one_openpose_file_per_frame(data_dir, tmp_path):
    run = dancescore("extract", data_dir / "squat_zoomed_offset.mp4", "-o", tmp_path / "out", "--json")
    assert run.code == 0, run.stderr
    files = sorted((tmp_path / "out").glob("*_keypoints.json"))
    assert len(files) == 204 == run.json()["frames"]
