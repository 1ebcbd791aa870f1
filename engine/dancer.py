"""Choosing and following the main dancer when a frame holds several people (or a bystander walks in)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.skeleton import NUM_JOINTS

MIN_CONFIDENCE = 0.2
MIN_JOINTS = 5


@dataclass
class _Track:
    frames: list[int] = field(default_factory=list)
    people: list[np.ndarray] = field(default_factory=list)
    weight: float = 0.0
    last_centre: np.ndarray | None = None
    last_height: float = 0.0
    last_time: float = 0.0


def describe_person(person: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Centre (2,) in pixels and height in pixels of a person's confident joints, or None if too few.

    person: (25, 3) float32, pixels + confidence.
    """
    ok = person[:, 2] >= MIN_CONFIDENCE
    if ok.sum() < MIN_JOINTS:
        return None
    pts = person[ok, :2]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return (lo + hi) / 2, float(max(hi[1] - lo[1], (hi[0] - lo[0]) * 0.5, 1.0))


def follow_dancer(
    candidates: list[list[np.ndarray]], times: np.ndarray, frame_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Pick the main dancer and follow them through the clip, never switching to someone else.

    candidates: per frame, the people detected, each (25, 3) float32 pixels + confidence.
    times: (T,) float64 seconds.
    Returns keypoints (T, 25, 3) float32 (zeros where the dancer is absent) and present (T,) bool.

    People are linked frame to frame into tracks (a person moves at most about one body height per
    second); the dancer is the track with the most presence weighted by size and centrality, so a
    bystander crossing the frame, however large, never takes over.
    """
    w, h = frame_size
    centre_of_frame = np.array([w / 2, h / 2], dtype=np.float64)
    diag = float(np.hypot(w, h)) or 1.0
    tracks: list[_Track] = []
    for i, people in enumerate(candidates):
        t = float(times[i])
        described = [(p, found) for p in people if (found := describe_person(p)) is not None]
        taken: set[int] = set()
        # Greedy nearest matching, the closest pairs first.
        pairs = []
        for ti, track in enumerate(tracks):
            if track.last_centre is None:
                continue
            gap = max(t - track.last_time, 1e-3)
            reach = track.last_height * (0.6 + 1.2 * gap)
            for pi, (_, (c, ht)) in enumerate(described):
                d = float(np.linalg.norm(c - track.last_centre))
                size_ratio = ht / max(track.last_height, 1.0)
                if d <= reach and 0.5 <= size_ratio <= 2.0:
                    pairs.append((d, ti, pi))
        pairs.sort()
        used_tracks: set[int] = set()
        assignment: dict[int, int] = {}
        for _, ti, pi in pairs:
            if ti in used_tracks or pi in taken:
                continue
            used_tracks.add(ti)
            taken.add(pi)
            assignment[pi] = ti
        for pi, (person, (c, ht)) in enumerate(described):
            if pi not in assignment:
                tracks.append(_Track())
                assignment[pi] = len(tracks) - 1
            ti = assignment[pi]
            track = tracks[ti]
            track.frames.append(i)
            track.people.append(person)
            centrality = 1.0 - min(1.0, float(np.linalg.norm(c - centre_of_frame)) / (diag / 2))
            track.weight += (ht / h) * (0.5 + centrality)
            track.last_centre, track.last_height, track.last_time = c, ht, t
    keypoints = np.zeros((len(candidates), NUM_JOINTS, 3), dtype=np.float32)
    present = np.zeros(len(candidates), dtype=bool)
    if tracks:
        best = max(tracks, key=lambda tr: tr.weight)
        for i, person in zip(best.frames, best.people, strict=True):
            keypoints[i] = person
            present[i] = True
    return keypoints, present
