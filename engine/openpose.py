"""OpenPose `--write_json` directories: read into and write from a PoseSequence, losslessly.

OpenPose writes one `<name>_<frame:012d>_keypoints.json` per frame, each with `people[i].pose_keypoints_2d`
(75 numbers: x, y, confidence for the 25 BODY_25 joints). It records neither timestamps nor the frame size;
we add an optional `dancescore.json` beside the frames holding both, so a directory we write reads back
exactly. Without it, frame i is at i / fps and the frame size is taken from the keypoints' extent.
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path

import numpy as np

from engine.dancer import follow_dancer
from engine.errors import KeypointsError
from engine.sequence import PoseSequence
from engine.skeleton import NUM_JOINTS

log = logging.getLogger(__name__)

BACKEND = "openpose-json"
SIDECAR = "dancescore.json"
_FRAME_NUMBER = re.compile(r"_(\d+)_keypoints\.json$")


def list_frames(directory: Path) -> list[Path]:
    """The `*_keypoints.json` files of a directory in frame order."""
    files = list(Path(directory).glob("*_keypoints.json"))

    def order(p: Path) -> tuple[int, str]:
        m = _FRAME_NUMBER.search(p.name)
        return (int(m.group(1)) if m else -1, p.name)

    return sorted(files, key=order)


def read_people(path: Path) -> list[np.ndarray]:
    """People in one OpenPose frame file, each (25, 3) float32 pixels + confidence."""
    try:
        data = json.loads(path.read_text())
        people = []
        for person in data.get("people", []):
            flat = np.asarray(person.get("pose_keypoints_2d", []), dtype=np.float32)
            if flat.size == 0:
                continue
            if flat.size != NUM_JOINTS * 3:
                raise KeypointsError(
                    f"{path.name}: pose_keypoints_2d has {flat.size} numbers; BODY_25 needs 75 "
                    "(run OpenPose with --model_pose BODY_25)"
                )
            people.append(flat.reshape(NUM_JOINTS, 3))
        return people
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise KeypointsError(f"{path.name} is not a valid OpenPose keypoints file: {exc}") from exc


def read_directory(directory: Path, fps: float = 30.0) -> PoseSequence:
    """Read an OpenPose JSON directory; with several people per frame, follow the main dancer."""
    directory = Path(directory)
    if not directory.is_dir():
        raise KeypointsError(f"{directory} is not a directory of OpenPose keypoint files")
    files = list_frames(directory)
    if not files:
        raise KeypointsError(f"{directory.name} holds no *_keypoints.json files (OpenPose --write_json output)")
    if not (fps > 0 and math.isfinite(fps)):
        raise KeypointsError(f"the frame rate must be a positive number, not {fps}")
    candidates = [read_people(f) for f in files]
    meta = _read_sidecar(directory, len(files))
    if meta is not None:
        times = np.asarray(meta["times"], dtype=np.float64)
        frame_size = (int(meta["frame_size"][0]), int(meta["frame_size"][1]))
        duration = float(meta["duration"])
        backend = str(meta.get("backend", BACKEND))
    else:
        times = np.arange(len(files), dtype=np.float64) / fps
        frame_size = _extent(candidates)
        duration = len(files) / fps
        backend = BACKEND
    keypoints, present = follow_dancer(candidates, times, frame_size)
    return PoseSequence(times, keypoints, present, frame_size, backend, duration)


def _read_sidecar(directory: Path, n: int) -> dict | None:
    path = directory / SIDECAR
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
        if len(meta["times"]) != n:
            log.warning("%s lists %d times for %d frames: ignored", path, len(meta["times"]), n)
            return None
        return meta
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("unreadable %s: %s", path, exc)
        return None


def _extent(candidates: list[list[np.ndarray]]) -> tuple[int, int]:
    pts = [p[p[:, 2] > 0, :2] for people in candidates for p in people]
    pts = [p for p in pts if len(p)]
    if not pts:
        return (1280, 720)
    hi = np.concatenate(pts).max(axis=0)
    return (int(math.ceil(hi[0] * 1.05)) // 2 * 2 + 2, int(math.ceil(hi[1] * 1.05)) // 2 * 2 + 2)


def write_directory(
    sequence: PoseSequence, directory: Path, name: str = "video", people: list[list[np.ndarray]] | None = None
) -> list[Path]:
    """Write one OpenPose-format file per frame of `sequence`.

    people: every person of each frame ((25, 3) float32 each), written as OpenPose does (its `people` list);
    default: the sequence's dancer alone (an empty list where no dancer was found).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if people is None:
        people = [[sequence.keypoints[i]] if sequence.present[i] else [] for i in range(len(sequence))]
    if len(people) != len(sequence):
        raise ValueError(f"{len(people)} frames of people for {len(sequence)} frames of poses")
    written = []
    for i, frame in enumerate(people):
        entries = [
            {
                "person_id": [-1],
                "pose_keypoints_2d": [float(v) for v in person.reshape(-1)],
                "face_keypoints_2d": [],
                "hand_left_keypoints_2d": [],
                "hand_right_keypoints_2d": [],
                "pose_keypoints_3d": [],
                "face_keypoints_3d": [],
                "hand_left_keypoints_3d": [],
                "hand_right_keypoints_3d": [],
            }
            for person in frame
        ]
        path = directory / f"{name}_{i:012d}_keypoints.json"
        path.write_text(json.dumps({"version": 1.3, "people": entries}))
        written.append(path)
    meta = {
        "times": [float(t) for t in sequence.times],
        "frame_size": list(sequence.frame_size),
        "duration": float(sequence.duration),
        "backend": sequence.backend,
    }
    (directory / SIDECAR).write_text(json.dumps(meta))
    return written
