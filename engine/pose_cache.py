"""Poses kept on disk: pose files with their music envelope, and the cache of analysed reference videos.

A pose file is a `PoseSequence` saved as `.npz`; its music envelope (engine.audio), when the video had
sound, lies beside it as `<stem>.audio.npy`. The cache keeps them by the video's content and how it was
analysed: `<folder>/<first two hex digits>/<sha256>-<kind>.npz`, so a renamed or re-uploaded copy of a
reference is not analysed twice. Every file is written atomically.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic_file import atomic_path
from engine.sequence import PoseSequence


def file_digest(path: Path) -> str:
    """sha256 of a file's content (hex)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def envelope_path(pose_path: Path) -> Path:
    """Where the music envelope of a pose file lives: beside it, `<stem>.audio.npy`."""
    return pose_path.with_name(pose_path.stem + ".audio.npy")


def load_poses(pose_path: Path) -> tuple[PoseSequence, np.ndarray | None]:
    """A pose file written by `save_poses`, with its music envelope when it has one."""
    env_path = envelope_path(pose_path)
    return PoseSequence.load(pose_path), (np.load(env_path) if env_path.is_file() else None)


def save_poses(seq: PoseSequence, envelope: np.ndarray | None, pose_path: Path) -> None:
    """Write poses, and the envelope beside them, each atomically."""
    seq.save(pose_path)
    if envelope is not None:
        with atomic_path(envelope_path(pose_path)) as tmp, tmp.open("wb") as fh:
            np.save(fh, envelope)


@dataclass(frozen=True)
class PoseCache:
    """Analysed videos' poses by content hash and kind (the backend and analysis rate that made them)."""

    folder: Path

    def path(self, digest: str, kind: str) -> Path:
        return Path(self.folder) / digest[:2] / f"{digest}-{kind}.npz"

    def load(self, digest: str, kind: str) -> tuple[PoseSequence, np.ndarray | None] | None:
        """The cached poses and envelope, or None when that video was not analysed that way yet."""
        path = self.path(digest, kind)
        return load_poses(path) if path.is_file() else None

    def save(self, digest: str, kind: str, seq: PoseSequence, envelope: np.ndarray | None) -> None:
        save_poses(seq, envelope, self.path(digest, kind))
