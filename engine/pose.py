"""Pose estimation behind one interface: MediaPipe BlazePose (default) mapped to OpenPose BODY_25.

The BlazePose "full" model ships inside the mediapipe 0.10.21 wheel (`pose_detection.tflite`,
`pose_landmark_full.tflite`, Apache-2.0): nothing is downloaded, ever. Only `model_complexity=1` is used
because 0 and 2 make mediapipe try to download a model.

A clip is cut into consecutive time segments analysed in parallel threads, each with its own decoder
and its own BlazePose graph (both release the GIL), so two cores work on one clip.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from engine.dancer import follow_dancer
from engine.decode import DecodeReport, VideoInfo, iter_frames
from engine.errors import NoDancerError
from engine.sequence import PoseSequence
from engine.skeleton import NUM_JOINTS

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]

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


class PoseBackend(Protocol):
    """Turns a video into the main dancer's BODY_25 keypoints."""

    name: str

    def estimate(
        self, info: VideoInfo, fps: float | None, progress: Progress | None = None, timings: dict | None = None
    ) -> PoseSequence:
        """The main dancer's poses; `timings`, if given, receives the seconds spent decoding and estimating."""
        ...


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

    def _graph(self):
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
        start: float,
        end: float | None,
        tick: Callable[[], None],
        decoder_threads: int,
    ) -> _Segment:
        graph = self._graph()
        seg = _Segment([], [], DecodeReport())
        frames = iter_frames(
            info,
            fps=fps,
            start=start,
            end=end,
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

    def estimate(
        self, info: VideoInfo, fps: float | None, progress: Progress | None = None, timings: dict | None = None
    ) -> PoseSequence:
        """The main dancer's poses; `timings`, if given, receives the seconds spent decoding and estimating
        (thread time divided by the number of threads, so the two add up to about the wall time)."""
        n = self.threads if info.duration >= 4.0 else 1
        bounds = [info.duration * k / n for k in range(n + 1)]
        expected = max(1.0, info.duration * (fps or info.fps))
        done = [0]
        lock = threading.Lock()

        def tick() -> None:
            with lock:
                done[0] += 1
                if progress is not None and done[0] % 10 == 0:
                    progress("pose", min(1.0, done[0] / expected))

        if n == 1:
            segments = [self._run_segment(info, fps, 0.0, None, tick, decoder_threads=0)]
        else:
            with ThreadPoolExecutor(max_workers=n, thread_name_prefix="pose") as pool:
                futures = [
                    # Segments decode in parallel already: one decoder thread each avoids oversubscribing cores.
                    pool.submit(self._run_segment, info, fps, bounds[k], bounds[k + 1] if k < n - 1 else None, tick, 1)
                    for k in range(n)
                ]
                segments = [f.result() for f in futures]
        if timings is not None:
            timings["decode"] = sum(s.decode_s for s in segments) / n
            timings["pose"] = sum(s.pose_s for s in segments) / n
        times = np.array([t for s in segments for t in s.times], dtype=np.float64)
        candidates = [c for s in segments for c in s.candidates]
        if progress is not None:
            progress("pose", 1.0)
        notes = _decode_notes(info, segments)
        if len(times) == 0:
            raise NoDancerError("no frame of that video could be decoded", code="unreadable_video")
        keypoints, present = follow_dancer(candidates, times, (info.width, info.height))
        seq = PoseSequence(times, keypoints, present, (info.width, info.height), self.name, info.duration, notes)
        check_dancer(seq)
        seq.notes.extend(_framing_notes(seq))
        return seq


def _decode_notes(info: VideoInfo, segments: list[_Segment]) -> list[str]:
    notes = []
    corrupt = sum(s.report.corrupt_packets for s in segments)
    last = max((s.report.last_time for s in segments), default=0.0)
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
