"""The canonical pose data every stage passes along."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.atomic_file import atomic_path
from engine.errors import KeypointsError
from engine.skeleton import NUM_JOINTS


@dataclass
class PoseSequence:
    """One dancer's body pose over time.

    times: (T,) float64, seconds from the start of the clip (from the video's own timestamps).
    keypoints: (T, 25, 3) float32, OpenPose BODY_25 order; x, y in pixels of the upright frame,
        confidence 0-1 (0 where a joint is missing).
    present: (T,) bool, whether the dancer was found in that frame (keypoints are all zero where not).
    frame_size: (width, height) of the upright frame in pixels.
    backend: name of the pose estimator that made it ("mediapipe-blazepose-full", "openpose-json").
    duration: the clip's duration in seconds (>= the last timestamp).
    notes: what the decoder or estimator noticed that the user should know (lost frames, cropped body).
    """

    times: np.ndarray
    keypoints: np.ndarray
    present: np.ndarray
    frame_size: tuple[int, int]
    backend: str
    duration: float
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, dtype=np.float64)
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32)
        self.present = np.asarray(self.present, dtype=bool)
        t = len(self.times)
        if self.keypoints.shape != (t, NUM_JOINTS, 3) or self.present.shape != (t,):
            raise KeypointsError(
                f"pose data has inconsistent shapes: times {self.times.shape}, "
                f"keypoints {self.keypoints.shape}, present {self.present.shape}"
            )

    def __len__(self) -> int:
        return len(self.times)

    @property
    def frames_with_dancer(self) -> int:
        return int(self.present.sum())

    def save(self, path: Path) -> None:
        """Write to a compressed `.npz` file (atomically: a crash leaves no partial file)."""
        with atomic_path(Path(path)) as tmp, tmp.open("wb") as fh:
            np.savez_compressed(
                fh,
                times=self.times,
                keypoints=self.keypoints,
                present=self.present,
                frame_size=np.asarray(self.frame_size, dtype=np.int64),
                backend=np.asarray(self.backend),
                duration=np.asarray(self.duration, dtype=np.float64),
                notes=np.asarray(self.notes, dtype=str),
            )

    @classmethod
    def load(cls, path: Path) -> PoseSequence:
        """Read a file written by `save`."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                return cls(
                    times=data["times"],
                    keypoints=data["keypoints"],
                    present=data["present"],
                    frame_size=(int(data["frame_size"][0]), int(data["frame_size"][1])),
                    backend=str(data["backend"]),
                    duration=float(data["duration"]),
                    notes=[str(n) for n in data["notes"]],
                )
        except (OSError, KeyError, ValueError) as exc:
            raise KeypointsError(f"cannot read pose file {Path(path).name}: {exc}") from exc
