"""Small inputs the render tests build for themselves: videos made with PyAV, poses, results, MP4 boxes."""

from __future__ import annotations

import struct
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.result import MomentTrack, ScoreResult, WeakMoment
from engine.sequence import PoseSequence
from engine.skeleton import LIMBS, PARTS

# (H * 3 / 2, W) uint8 yuv420p planes for frame k; drawing in YUV directly keeps generation cheap.
Painter = Callable[[int, np.ndarray], None]

AUDIO_CODECS = {"aac": ("aac", "fltp"), "mp3": ("libmp3lame", "fltp"), "opus": ("libopus", "flt")}


def solid_yuv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """BT.601 limited-range YUV of an RGB colour (what libx264 + swscale use by default)."""
    r, g, b = rgb
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return round(y), round(u), round(v)


def fill(planes: np.ndarray, width: int, height: int, rgb: tuple[int, int, int], box=None) -> None:
    """Paint `rgb` into the yuv420p planes, whole frame or box (x0, y0, x1, y1) with even coordinates."""
    y, u, v = solid_yuv(rgb)
    x0, y0, x1, y1 = box or (0, 0, width, height)
    planes[y0:y1, x0:x1] = y
    # The chroma planes sit below luma: U then V, each (H/2, W/2), stored as H/4 rows of width W.
    cu = planes[height : height + height // 4].reshape(height // 2, width // 2)
    cv = planes[height + height // 4 :].reshape(height // 2, width // 2)
    cu[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = u
    cv[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = v


def moving_box(colour=(40, 90, 200), box=(230, 60, 60)) -> Painter:
    """Plain background with a box sliding left to right: cheap to encode and to decode."""

    def paint(k: int, planes: np.ndarray) -> None:
        height = planes.shape[0] * 2 // 3
        width = planes.shape[1]
        fill(planes, width, height, colour)
        side = (min(width, height) // 6) // 2 * 2
        x = (k * 8) % max(2, width - side) // 2 * 2
        fill(planes, width, height, box, (x, height // 3 // 2 * 2, x + side, height // 3 // 2 * 2 + side))

    return paint


def make_video(
    path: Path,
    size: tuple[int, int] = (320, 240),
    duration_s: float = 2.0,
    fps: int = 30,
    audio: str | None = None,
    rotation: int = 0,
    painter: Painter | None = None,
    times: list[float] | None = None,
) -> Path:
    """Write an H.264 MP4 (`audio`: None, "aac", "mp3" or "opus") of stored size `size` (width, height).

    rotation: display rotation metadata in degrees counter-clockwise (-90 is a portrait phone clip).
    times: each frame's timestamp in seconds (variable frame rate), instead of k / fps.
    """
    width, height = size
    painter = painter or moving_box()
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "30"}
        clock = Fraction(1, 1000) if times is not None else Fraction(1, fps)
        video.time_base = video.codec_context.time_base = clock
        if rotation:
            video.set_display_rotation(rotation)
        sound = None
        if audio:
            codec, sample_fmt = AUDIO_CODECS[audio]
            sound = out.add_stream(codec, rate=48000)
            sound.layout = "stereo"
        planes = np.zeros((height * 3 // 2, width), dtype=np.uint8)
        times = times if times is not None else [k / fps for k in range(round(duration_s * fps))]
        for k, t in enumerate(times):
            painter(k, planes)
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = round(t / clock)
            frame.time_base = clock
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if sound is not None:
            _write_tone(out, sound, duration_s, sample_fmt)
    return path


def _write_tone(out, sound, duration_s: float, sample_fmt: str) -> None:
    rate, chunk = 48000, 960 if sample_fmt == "flt" else 1152
    total = int(duration_s * rate)
    resampler = av.AudioResampler(format=sound.codec_context.format.name, layout="stereo", rate=rate,
                                  frame_size=sound.codec_context.frame_size or 1024)  # fmt: skip
    for start in range(0, total, chunk):
        n = min(chunk, total - start)
        t = (np.arange(start, start + n) / rate).astype(np.float32)
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate = rate
        frame.pts = start
        for f in resampler.resample(frame):
            out.mux(sound.encode(f))
    for f in resampler.resample(None):
        out.mux(sound.encode(f))
    out.mux(sound.encode(None))


# Joint positions of a standing person with arms out: (dx, dy) in body heights from the nose.
_STANDING = (
    (0, 0), (0, .15), (-.1, .15), (-.2, .2), (-.3, .15), (.1, .15), (.2, .25), (.25, .35), (0, .5),
    (-.06, .5), (-.08, .75), (-.09, 1), (.06, .5), (.08, .75), (.09, 1), (-.02, -.02), (.02, -.02),
    (-.04, 0), (.04, 0), (.12, 1), (.13, 1), (.08, 1.02), (-.12, 1), (-.13, 1), (-.08, 1.02),
)  # fmt: skip


def standing_pose(width: int, height: int) -> np.ndarray:
    """(25, 3) float32, pixels + confidence: a person standing mid-frame, arms out, every joint seen."""
    offsets = np.asarray(_STANDING, dtype=np.float32) * height * 0.7
    pose = np.full((25, 3), 0.9, dtype=np.float32)
    pose[:, 0] = width / 2 + offsets[:, 0]
    pose[:, 1] = height * 0.15 + offsets[:, 1]
    return pose


def pose_sequence(
    frame_size: tuple[int, int], duration_s: float, fps: float = 10.0, pose: np.ndarray | None = None
) -> PoseSequence:
    """The same pose in every analysed frame (sampled at `fps`), as the pose stage would hand it over."""
    times = np.arange(0, duration_s, 1 / fps)
    pose = standing_pose(*frame_size) if pose is None else pose
    return PoseSequence(
        times=times,
        keypoints=np.repeat(pose[None], len(times), axis=0),
        present=np.ones(len(times), dtype=bool),
        frame_size=frame_size,
        backend="test",
        duration=duration_s,
    )


def score_result(
    duration_s: float,
    *,
    offset_s: float = 0.0,
    mirrored: bool = False,
    limb_error: float | np.ndarray = 0.0,
    weak: list[WeakMoment] | None = None,
) -> ScoreResult:
    """A result whose alignment maps attempt time t to reference time t - offset_s."""
    ref_times = np.arange(0, duration_s, 0.1)
    errors = np.broadcast_to(np.asarray(limb_error, dtype=np.float32), (len(LIMBS),))
    track = MomentTrack(
        ref_times=ref_times,
        attempt_times=ref_times + offset_s,
        limb_error=np.repeat(errors[None], len(ref_times), axis=0),
        moment_score=(100 * (0.5 + 0.5 * np.cos(ref_times))).astype(np.float32),
    )
    return ScoreResult(
        score=7.4,
        form=78.0,
        timing=85.0,
        parts=dict(zip(PARTS, (81.0, 64.0, 90.0, 95.0), strict=True)),
        mirrored=mirrored,
        offset_s=offset_s,
        tempo=1.0,
        weak_moments=weak if weak is not None else [WeakMoment(0.5, 1.0, "arms", "left arm late")],
        feedback=[
            "Your legs were off at 0:01: bend the knees deeper.",
            "Timing was good.",
            "Arms a bit late.",
        ],
        frames={
            "reference": {"analysed": 20, "with_dancer": 20},
            "attempt": {"analysed": 20, "with_dancer": 20},
        },
        backend="test",
        seconds={},
        track=track,
    )


def top_level_boxes(path: Path) -> list[str]:
    """The names of the top-level MP4 boxes in file order (e.g. ftyp, moov, free, mdat)."""
    names = []
    with open(path, "rb") as f:
        while header := f.read(8):
            size, name = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
                f.seek(size - 16, 1)
            elif size == 0:
                names.append(name.decode("latin-1"))
                break
            else:
                f.seek(size - 8, 1)
            names.append(name.decode("latin-1"))
    return names


def frame_at(path: Path, t: float) -> np.ndarray:
    """(H, W, 3) uint8 RGB: the first decoded frame of `path` at or after `t` seconds."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time >= t - 1e-3:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"{path} has no frame at {t} s")


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) inclusive bounds of the True pixels of a (H, W) mask."""
    ys, xs = np.nonzero(mask)
    assert len(xs), "no pixels matched"
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def panel_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the solid region of a (H, W) mask: rows and columns at least 30% matched."""
    cols = np.flatnonzero(mask.mean(axis=0) > 0.3)
    rows = np.flatnonzero(mask.mean(axis=1) > 0.3)
    assert len(cols) and len(rows), "no solid region matched"
    return int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())


def with_joints(frame_size: tuple[int, int], joints: dict[int, tuple[float, float]]) -> np.ndarray:
    """(25, 3) float32: only `joints` seen (confidence 0.9) at the given pixels, the rest missing."""
    pose = np.zeros((25, 3), dtype=np.float32)
    for j, (x, y) in joints.items():
        pose[j] = (x, y, 0.9)
    return pose
