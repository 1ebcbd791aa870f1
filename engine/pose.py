"""Pose estimation behind one interface, BlazePose mapped to OpenPose BODY_25, by one of two backends.

- `mediapipe`: MediaPipe's own BlazePose "full" graph (mediapipe 0.10.21 solutions API, video-tracking
  mode, one person). Fastest on a CPU. Only `model_complexity=1` is used: 0 and 2 make mediapipe try to
  download a model.
- `torch`: the same two networks in PyTorch (`engine.blazepose`), every person in frame, frames batched
  through the networks; on CUDA in float16 when there is a GPU.

Both read their weights from the mediapipe wheel (`pose_detection.tflite`, `pose_landmark_full.tflite`,
Apache-2.0): nothing is downloaded, ever. A clip is cut into consecutive time segments decoded in parallel
threads (FFmpeg and the networks release the GIL), so several cores work on one clip.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from engine.dancer import follow_dancer
from engine.decode import DecodeReport, VideoInfo, iter_frames, output_size
from engine.errors import InputError, NoDancerError
from engine.progress import Progress, Stage
from engine.sequence import PoseSequence
from engine.skeleton import NUM_JOINTS

log = logging.getLogger(__name__)

BACKENDS = ("mediapipe", "torch")
MIN_SEGMENT_S = 4.0  # a clip shorter than this is not cut into segments

# BODY_25 joint <- BlazePose-33 landmark (None: derived or no source).
_FROM_BLAZEPOSE: tuple[int | None, ...] = (
    0,  # Nose
    None,  # Neck = mean(shoulders)
    12, 14, 16,  # RShoulder, RElbow, RWrist
    11, 13, 15,  # LShoulder, LElbow, LWrist
    None,  # MidHip = mean(hips)
    24, 26, 28,  # RHip, RKnee, RAnkle
    23, 25, 27,  # LHip, LKnee, LAnkle
    5, 2, 8, 7,  # REye, LEye, REar, LEar
    31, None, 29,  # LBigToe (left foot index), LSmallToe (no source), LHeel
    32, None, 30,  # RBigToe, RSmallToe, RHeel
)  # fmt: skip
_DIRECT = np.array([i for i, s in enumerate(_FROM_BLAZEPOSE) if s is not None])
_DIRECT_SRC = np.array([s for s in _FROM_BLAZEPOSE if s is not None])


def blazepose_to_body25(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """Map BlazePose landmarks to BODY_25.

    landmarks: (33, 3) float32, x and y normalised to the frame (0-1), visibility 0-1.
    Returns (25, 3) float32, pixels + confidence. Landmarks outside the frame get confidence 0: BlazePose
    invents plausible limbs (with high visibility) for body parts that are cut off.
    """
    out = np.zeros((NUM_JOINTS, 3), dtype=np.float32)
    xy = landmarks[:, :2] * np.array([width, height], dtype=np.float32)
    conf = landmarks[:, 2].copy()
    inside = (landmarks[:, 0] >= 0) & (landmarks[:, 0] <= 1) & (landmarks[:, 1] >= 0) & (landmarks[:, 1] <= 1)
    conf[~inside] = 0.0
    out[_DIRECT, :2] = xy[_DIRECT_SRC]
    out[_DIRECT, 2] = conf[_DIRECT_SRC]
    for joint, (a, b) in ((1, (11, 12)), (8, (23, 24))):
        out[joint, :2] = (xy[a] + xy[b]) / 2
        out[joint, 2] = min(conf[a], conf[b])
    return out


@dataclass
class People:
    """Everyone the estimator found in a clip, per analysed frame.

    times: (T,) float64 seconds from the video's own timestamps.
    people: per frame, each person's (25, 3) float32 BODY_25 keypoints (pixels of the upright frame +
        confidence); an empty list where nobody was found.
    frame_size, backend, duration, notes: as in `PoseSequence`.
    """

    times: np.ndarray
    people: list[list[np.ndarray]]
    frame_size: tuple[int, int]
    backend: str
    duration: float
    notes: list[str] = field(default_factory=list)


class PoseBackend(Protocol):
    """Turns a video into the BODY_25 keypoints of the people in it."""

    name: str

    def find_people(
        self, info: VideoInfo, fps: float | None, progress: Progress | None = None, timings: dict | None = None
    ) -> People:
        """Everyone in each analysed frame; `timings`, if given, receives the seconds spent decoding
        ("decode") and estimating ("pose"), adding up to about the wall time."""
        ...

    def warm_up(self) -> None:
        """Load the models now rather than at the first clip."""
        ...


def segments(info: VideoInfo, threads: int) -> list[tuple[float, float | None]]:
    """(start, end) seconds of the consecutive parts of a clip analysed in parallel (end None: to the end)."""
    n = max(1, threads) if info.duration >= MIN_SEGMENT_S else 1
    bounds = [info.duration * k / n for k in range(n + 1)]
    return [(bounds[k], bounds[k + 1] if k < n - 1 else None) for k in range(n)]


class _Ticker:
    """Counts analysed frames from any thread and reports the pose stage's progress every 10 frames."""

    def __init__(self, info: VideoInfo, fps: float | None, progress: Progress | None) -> None:
        self.expected = max(1.0, info.duration * (fps or info.fps))
        self.progress = progress
        self.done = 0
        self.lock = threading.Lock()

    def __call__(self, frames: int = 1) -> None:
        with self.lock:
            before, self.done = self.done, self.done + frames
            if self.progress is not None and before // 10 != self.done // 10:
                self.progress(Stage.POSE, min(1.0, self.done / self.expected))


@dataclass
class _Segment:
    times: list[float]
    candidates: list[list[np.ndarray]]
    report: DecodeReport
    decode_s: float = 0.0
    pose_s: float = 0.0


class MediaPipeBackend:
    """BlazePose "full" (mediapipe 0.10.21 solutions API) in video-tracking mode, mapped to BODY_25.

    threads: how many time segments of a clip are analysed in parallel (each with its own graph).
    max_side: frames are scaled so their longer side is at most this many pixels before estimation
        (BlazePose works on 224-256 px crops, so this costs no accuracy and saves conversion time).
    """

    name = "mediapipe-blazepose-full"

    def __init__(self, threads: int = 2, max_side: int = 640) -> None:
        self.threads = max(1, threads)
        self.max_side = max_side
        self._local = threading.local()

    def warm_up(self) -> None:
        self._graph()

    def _graph(self) -> Any:
        graph = getattr(self._local, "graph", None)
        if graph is None:
            import mediapipe as mp  # imported here: heavy, and only this backend needs it

            graph = mp.solutions.pose.Pose(
                static_image_mode=False,
                model_complexity=1,
                smooth_landmarks=True,
                enable_segmentation=False,
                min_detection_confidence=0.5,
                min_tracking_confidence=0.5,
            )
            self._local.graph = graph
        else:
            graph.reset()
        return graph

    def _run_segment(
        self,
        info: VideoInfo,
        fps: float | None,
        bounds: tuple[float, float | None],
        tick: _Ticker,
        decoder_threads: int,
    ) -> _Segment:
        graph = self._graph()
        seg = _Segment([], [], DecodeReport())
        frames = iter_frames(
            info,
            fps=fps,
            start=bounds[0],
            end=bounds[1],
            max_side=self.max_side,
            report=seg.report,
            threads=decoder_threads,
        )
        while True:
            t0 = time.perf_counter()
            item = next(frames, None)
            t1 = time.perf_counter()
            seg.decode_s += t1 - t0
            if item is None:
                break
            t, image = item
            result = graph.process(image)
            seg.pose_s += time.perf_counter() - t1
            people = []
            if result.pose_landmarks is not None:
                lm = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], dtype=np.float32)
                people.append(blazepose_to_body25(lm, info.width, info.height))
            seg.times.append(t)
            seg.candidates.append(people)
            tick()
        return seg

    def find_people(
        self, info: VideoInfo, fps: float | None, progress: Progress | None = None, timings: dict | None = None
    ) -> People:
        """The tracked person in each analysed frame (at most one: the solutions API follows one body).
        `timings` gets thread time divided by the number of segments, so the two add up to the wall time."""
        parts = segments(info, self.threads)
        tick = _Ticker(info, fps, progress)
        if len(parts) == 1:
            found = [self._run_segment(info, fps, parts[0], tick, decoder_threads=0)]
        else:
            with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="pose") as pool:
                # Segments decode in parallel already: one decoder thread each avoids oversubscribing cores.
                futures = [pool.submit(self._run_segment, info, fps, part, tick, 1) for part in parts]
                found = [f.result() for f in futures]
        if timings is not None:
            timings["decode"] = sum(s.decode_s for s in found) / len(parts)
            timings["pose"] = sum(s.pose_s for s in found) / len(parts)
        if progress is not None:
            progress(Stage.POSE, 1.0)
        return People(
            np.array([t for s in found for t in s.times], dtype=np.float64),
            [c for s in found for c in s.candidates],
            (info.width, info.height),
            self.name,
            info.duration,
            _decode_notes(info, [s.report for s in found]),
        )


class TorchBackend:
    """BlazePose in PyTorch (`engine.blazepose`): every person in frame; frames batched through the networks.

    A clip is cut into `streams` time segments followed side by side (each as MediaPipe tracks, frame after
    frame); every step puts the next frame of each stream through the networks as one batch, while
    `threads` decoder threads get the following frames ready. device: torch device of the networks
    ("cpu", "cuda", "cuda:1"), float16 on CUDA. max_side: as for `MediaPipeBackend`.
    """

    name = "torch-blazepose-full"
    MIN_STREAM_S = 1.5  # a stream starts by detecting its people afresh: not for every second

    def __init__(self, threads: int = 2, device: str = "cpu", streams: int | None = None, max_side: int = 640) -> None:
        self.threads = max(1, threads)
        self.device = device
        self.streams = max(1, streams if streams is not None else (16 if device.startswith("cuda") else threads))
        self.max_side = max_side

    def warm_up(self) -> None:
        _blazepose(self.device)

    def find_people(
        self, info: VideoInfo, fps: float | None, progress: Progress | None = None, timings: dict | None = None
    ) -> People:
        """Everyone in each analysed frame, tracked and smoothed (see `engine.blazepose`)."""
        from engine.blazepose import Stream, smooth_people  # torch: imported with the backend that needs it

        t_start = time.perf_counter()
        model = _blazepose(self.device)
        n = min(self.streams, max(1, int(info.duration / self.MIN_STREAM_S)))
        parts = [(info.duration * k / n, info.duration * (k + 1) / n if k < n - 1 else None) for k in range(n)]
        reports = [DecodeReport() for _ in parts]
        frames = [
            iter_frames(info, fps=fps, start=a, end=b, max_side=self.max_side, report=reports[k], threads=1)
            for k, (a, b) in enumerate(parts)
        ]
        streams = [Stream() for _ in parts]
        found: list[list[tuple[float, Any]]] = [[] for _ in parts]
        tick = _Ticker(info, fps, progress)
        pose_s = 0.0
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="decode") as pool:
            upcoming = {k: pool.submit(next, frames[k], None) for k in range(n)}
            while upcoming:
                ready = {k: item for k, future in upcoming.items() if (item := future.result()) is not None}
                # The next frames decode while the networks work on these.
                upcoming = {k: pool.submit(next, frames[k], None) for k in ready}
                if not ready:
                    break
                t0 = time.perf_counter()
                people = model.step([image for _, image in ready.values()], [streams[k] for k in ready])
                pose_s += time.perf_counter() - t0
                for (k, (t, _)), found_here in zip(ready.items(), people, strict=True):
                    found[k].append((t, found_here))
                tick(len(ready))
        ordered = [item for part in found for item in part]
        t0 = time.perf_counter()
        smoothed = smooth_people([people for _, people in ordered])
        pose_s += time.perf_counter() - t0
        size = _analysed_size(info, self.max_side)
        people_per_frame = [
            [blazepose_to_body25(_normalised(p, size), info.width, info.height) for p in frame] for frame in smoothed
        ]
        if timings is not None:
            timings["pose"] = pose_s
            timings["decode"] = time.perf_counter() - t_start - pose_s
        if progress is not None:
            progress(Stage.POSE, 1.0)
        return People(
            np.array([t for t, _ in ordered], dtype=np.float64),
            people_per_frame,
            (info.width, info.height),
            self.name,
            info.duration,
            _decode_notes(info, reports),
        )


@lru_cache(maxsize=2)
def _blazepose(device: str) -> Any:
    from engine.blazepose import BlazePose

    return BlazePose(device)


def _analysed_size(info: VideoInfo, max_side: int) -> tuple[int, int]:
    """(width, height) of the upright frames as `iter_frames` yields them at `max_side`."""
    w, h = output_size(info, max_side)
    return (h, w) if info.rotation % 180 else (w, h)


def _normalised(landmarks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(33, 3) x, y pixels of the analysed frame + visibility -> x, y as fractions of the frame."""
    out = landmarks.astype(np.float32)
    out[:, 0] /= size[0]
    out[:, 1] /= size[1]
    return out


def create_backend(name: str, threads: int = 2, device: str = "cpu", streams: int | None = None) -> PoseBackend:
    """A pose backend by name: "mediapipe", "torch", or "auto" (torch on a CUDA device, else mediapipe:
    on a CPU MediaPipe's graph is about 4x faster than the same networks in PyTorch, see docs/benchmarks.md)."""
    if name == "auto":
        name = "torch" if device.startswith("cuda") else "mediapipe"
    if name == "mediapipe":
        return MediaPipeBackend(threads=threads)
    if name == "torch":
        return TorchBackend(threads=threads, device=device, streams=streams)
    raise InputError(f"unknown pose backend {name!r}: choose one of auto, {', '.join(BACKENDS)}", code="bad_option")


def main_dancer(people: People) -> PoseSequence:
    """The main dancer's poses, followed through the clip (`engine.dancer`), with advice on framing.

    Raises NoDancerError when no frame could be decoded or the dancer is missing from most of the clip."""
    if len(people.times) == 0:
        raise NoDancerError("no frame of that video could be decoded", code="unreadable_video")
    keypoints, present = follow_dancer(people.people, people.times, people.frame_size)
    seq = PoseSequence(
        people.times, keypoints, present, people.frame_size, people.backend, people.duration, list(people.notes)
    )
    check_dancer(seq)
    seq.notes.extend(_framing_notes(seq))
    return seq


def _decode_notes(info: VideoInfo, reports: list[DecodeReport]) -> list[str]:
    """What the user should know about how decoding went: damaged pieces skipped, a file cut short."""
    notes = []
    corrupt = sum(r.corrupt_packets for r in reports)
    last = max((r.last_time for r in reports), default=0.0)
    frame_dt = 1.0 / max(info.fps, 1.0)
    if corrupt:
        notes.append(f"{corrupt} damaged piece(s) of the video were skipped; the rest was analysed")
    if last + 3 * frame_dt + 0.25 < info.duration:
        lost = info.duration - last
        notes.append(
            f"the video file is cut short: it declares {info.duration:.1f} s but its frames end at "
            f"{last:.1f} s ({lost:.1f} s lost)"
        )
    return notes


def check_dancer(seq: PoseSequence, min_fraction: float = 0.25) -> None:
    """Raise NoDancerError unless a dancer is found in enough of the clip."""
    found = seq.frames_with_dancer
    if found == 0:
        raise NoDancerError(
            "no person found in that video: film the whole body, well lit, facing the camera", code="no_dancer"
        )
    if found < max(3, min_fraction * len(seq)):
        raise NoDancerError(
            f"a person was found in only {found} of {len(seq)} analysed frames: keep the whole body in frame "
            "for the whole dance",
            code="dancer_mostly_missing",
        )


def _framing_notes(seq: PoseSequence) -> list[str]:
    """Advice when the body is often cut off by the frame edge (feet or head out of frame)."""
    kp = seq.keypoints[seq.present]
    if len(kp) == 0:
        return []
    ankles = kp[:, [11, 14], 2]
    head = kp[:, 0, 2]
    notes = []
    if float((ankles.max(axis=1) == 0).mean()) > 0.3:
        notes.append("your feet are out of frame in much of the clip: film the whole body for a fair leg score")
    if float((head == 0).mean()) > 0.3:
        notes.append("your head is out of frame in much of the clip")
    return notes
