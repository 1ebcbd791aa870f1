"""Controlled changes to a real pose sequence, for behaviour tests of the score.

Every function returns a new PoseSequence; `severity` grows with how far the attempt departs from the
original performance.
"""

from __future__ import annotations

import numpy as np

from engine.sequence import PoseSequence
from engine.skeleton import MIRROR, J


def with_frames(seq: PoseSequence, times: np.ndarray, keypoints: np.ndarray, present: np.ndarray | None = None):
    present = np.ones(len(times), dtype=bool) if present is None else present
    duration = float(times[-1] + (times[1] - times[0] if len(times) > 1 else 0.0))
    return PoseSequence(times, keypoints.astype(np.float32), present, seq.frame_size, seq.backend, duration)


def sample(seq: PoseSequence, source_times: np.ndarray) -> np.ndarray:
    """Keypoints of `seq` at arbitrary times (linear interpolation of x, y; nearest confidence)."""
    out = np.empty((len(source_times), 25, 3), dtype=np.float32)
    t = seq.times
    for j in range(25):
        for c in range(2):
            out[:, j, c] = np.interp(source_times, t, seq.keypoints[:, j, c])
    idx = np.clip(np.searchsorted(t, source_times), 0, len(t) - 1)
    out[:, :, 2] = seq.keypoints[idx, :, 2]
    return out


def body_height(seq: PoseSequence) -> float:
    kp = seq.keypoints
    return float(np.median(np.abs(kp[:, J["Nose"], 1] - kp[:, J["RAnkle"], 1])))


def shift(seq: PoseSequence, seconds: float) -> PoseSequence:
    """The same performance starting `seconds` later: the attempt holds the first pose until then."""
    fps = 1 / float(np.median(np.diff(seq.times)))
    pad = int(round(seconds * fps))
    kp = np.concatenate([np.repeat(seq.keypoints[:1], pad, axis=0), seq.keypoints])
    return with_frames(seq, np.arange(len(kp)) / fps, kp)


def pad_still(seq: PoseSequence, before: float, after: float) -> PoseSequence:
    fps = 1 / float(np.median(np.diff(seq.times)))
    a, b = int(round(before * fps)), int(round(after * fps))
    kp = np.concatenate(
        [np.repeat(seq.keypoints[:1], a, axis=0), seq.keypoints, np.repeat(seq.keypoints[-1:], b, axis=0)]
    )
    return with_frames(seq, np.arange(len(kp)) / fps, kp)


def affine(seq: PoseSequence, scale: float, dx: float, dy: float, frame_size: tuple[int, int] | None = None):
    """Zoom by `scale` about the frame centre and move by (dx, dy) pixels; optionally a new frame size (crop)."""
    w, h = seq.frame_size
    kp = seq.keypoints.copy()
    kp[..., 0] = (kp[..., 0] - w / 2) * scale + w / 2 + dx
    kp[..., 1] = (kp[..., 1] - h / 2) * scale + h / 2 + dy
    out = with_frames(seq, seq.times, kp, seq.present)
    if frame_size is not None:
        out.frame_size = frame_size
    return out


def resample_fps(seq: PoseSequence, fps: float, jitter: float = 0.0, seed: int = 0) -> PoseSequence:
    """The same performance filmed at another (optionally variable) frame rate."""
    rng = np.random.default_rng(seed)
    times = np.arange(0, seq.times[-1], 1 / fps)
    if jitter:
        times = np.sort(np.clip(times + rng.uniform(-jitter, jitter, len(times)) / fps, 0, seq.times[-1]))
    return with_frames(seq, times, sample(seq, times))


def mirror(seq: PoseSequence) -> PoseSequence:
    w, _ = seq.frame_size
    kp = seq.keypoints[:, list(MIRROR)].copy()
    kp[..., 0] = np.where(kp[..., 2] > 0, w - kp[..., 0], 0)
    return with_frames(seq, seq.times, kp, seq.present)


def joint_noise(seq: PoseSequence, severity: float, seed: int = 0) -> PoseSequence:
    """Gaussian noise on every joint, sigma = severity x body height."""
    rng = np.random.default_rng(seed)
    kp = seq.keypoints.copy()
    kp[..., :2] += rng.normal(0, severity * body_height(seq), kp[..., :2].shape)
    return with_frames(seq, seq.times, kp, seq.present)


RIGHT_LEG = [J["RKnee"], J["RAnkle"], J["RHeel"], J["RBigToe"], J["RSmallToe"]]


def freeze_limb(seq: PoseSequence, severity: float, joints: list[int] = RIGHT_LEG, anchor: int = J["RHip"]):
    """The limb stays as it was at the start (relative to where it attaches) for a share `severity` of the clip."""
    kp = seq.keypoints.copy()
    n = len(kp)
    length = int(round(severity * n))
    start = 0
    if length:
        rel = kp[start, joints, :2] - kp[start, anchor, :2]
        for i in range(start, start + length):
            kp[i, joints, :2] = kp[i, anchor, :2] + rel
    return with_frames(seq, seq.times, kp, seq.present)


def other_movement(seq: PoseSequence, times: np.ndarray, period: float = 1.2) -> np.ndarray:
    """Jumping jacks built on the dancer's own standing pose: arms and legs swing out and in (keypoints)."""
    base = seq.keypoints[most_upright(seq)].copy()
    out = np.repeat(base[None], len(times), axis=0)
    phase = 0.5 - 0.5 * np.cos(2 * np.pi * times / period)  # 0 -> 1 -> 0
    for side, sign in (("R", -1.0), ("L", 1.0)):
        sh, hip = J[f"{side}Shoulder"], J[f"{side}Hip"]
        arm = [J[f"{side}Elbow"], J[f"{side}Wrist"]]
        leg = [J[f"{side}Knee"], J[f"{side}Ankle"], J[f"{side}Heel"], J[f"{side}BigToe"], J[f"{side}SmallToe"]]
        for joints, pivot, amplitude in ((arm, sh, 2.6), (leg, hip, 0.45)):
            angle = sign * amplitude * phase  # radians, outwards
            c, s = np.cos(angle), np.sin(angle)
            rel = base[joints, :2] - base[pivot, :2]
            out[:, joints, 0] = base[pivot, 0] + c[:, None] * rel[:, 0] - s[:, None] * rel[:, 1]
            out[:, joints, 1] = base[pivot, 1] + s[:, None] * rel[:, 0] + c[:, None] * rel[:, 1]
    return out


def replace_section(seq: PoseSequence, severity: float) -> PoseSequence:
    """A share `severity` of the clip (in the middle) replaced by other movement."""
    kp = seq.keypoints.copy()
    n = len(kp)
    length = int(round(severity * n))
    start = (n - length) // 2
    if length:
        kp[start : start + length] = other_movement(seq, seq.times[start : start + length] - seq.times[start])
    return with_frames(seq, seq.times, kp, seq.present)


def tempo(seq: PoseSequence, factor: float) -> PoseSequence:
    """The performance danced `factor` times as fast (attempt time = reference time / factor)."""
    fps = 1 / float(np.median(np.diff(seq.times)))
    times = np.arange(0, seq.times[-1] / factor, 1 / fps)
    return with_frames(seq, times, sample(seq, times * factor))


def growing_lag(seq: PoseSequence, final_lag: float) -> PoseSequence:
    """The dancer falls behind more and more: `final_lag` seconds late by the end (lag grows as t^2)."""
    fps = 1 / float(np.median(np.diff(seq.times)))
    end = seq.times[-1]
    times = np.arange(0, end + final_lag, 1 / fps)
    source = times - final_lag * np.clip(times / end, 0, 1) ** 2
    return with_frames(seq, times, sample(seq, np.clip(source, 0, end)))


def most_upright(seq: PoseSequence) -> int:
    """Index of the frame where the dancer stands tallest (nose highest above the ankles)."""
    kp = seq.keypoints
    return int(np.argmax(kp[:, J["RAnkle"], 1] - kp[:, J["Nose"], 1]))


def standing_still(seq: PoseSequence, index: int | None = None, seed: int = 0) -> PoseSequence:
    """The dancer standing upright and still for the whole clip, with a little estimator jitter."""
    rng = np.random.default_rng(seed)
    index = most_upright(seq) if index is None else index
    kp = np.repeat(seq.keypoints[index : index + 1], len(seq), axis=0).copy()
    kp[..., :2] += rng.normal(0, 0.004 * body_height(seq), kp[..., :2].shape)
    return with_frames(seq, seq.times, kp, seq.present)
