"""Normalisation: from keypoints in pixels to body configuration on a uniform time grid.

A pose is described by the direction of each limb (unit vectors in the image plane, computed in pixels so
the frame's aspect ratio is respected). Directions do not change when the dancer stands elsewhere, appears
bigger or smaller, or the video is cropped, so those never affect the score. Each limb carries a weight:
the joints' confidence times how visible the limb is (a limb pointing at the camera looks short and its
direction is noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.sequence import PoseSequence
from engine.skeleton import LIMB_MIRROR, LIMB_MIRROR_REVERSED, LIMBS

_A = np.array([limb[1] for limb in LIMBS])
_B = np.array([limb[2] for limb in LIMBS])
MAX_GAP_S = 0.45  # interpolate over missing detections up to this long; longer gaps stay missing


@dataclass
class LimbTrack:
    """Limb directions on a uniform time grid.

    times: (N,) float64 seconds (grid, step 1/rate).
    dirs: (N, L, 2) float32 unit vectors (x right, y down) per limb of `engine.skeleton.LIMBS`.
    weights: (N, L) float32 0-1, confidence x visibility (0 where unknown).
    velocity: (N, L, 2) float32, d(dirs)/dt in 1/s.
    """

    times: np.ndarray
    dirs: np.ndarray
    weights: np.ndarray
    velocity: np.ndarray
    rate: float

    def mirrored(self) -> LimbTrack:
        """The same movement seen in a mirror (left and right swapped, x reversed)."""
        sign = np.where(np.array(LIMB_MIRROR_REVERSED), -1.0, 1.0).astype(np.float32)[None, :, None]
        flip = np.array([-1.0, 1.0], dtype=np.float32)
        idx = np.array(LIMB_MIRROR)
        return LimbTrack(
            self.times,
            self.dirs[:, idx] * flip * sign,
            self.weights[:, idx],
            self.velocity[:, idx] * flip * sign,
            self.rate,
        )


def limb_directions(seq: PoseSequence) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame limb directions and weights.

    Returns dirs (T, L, 2) float32 unit vectors and weights (T, L) float32 0-1 (0 where the dancer is absent).
    """
    kp = seq.keypoints
    vec = kp[:, _B, :2] - kp[:, _A, :2]
    length = np.linalg.norm(vec, axis=-1)
    conf = np.minimum(kp[:, _A, 2], kp[:, _B, 2])
    conf = np.where(seq.present[:, None], conf, 0.0)
    conf = np.where(length > 1e-3, conf, 0.0)
    # Visibility: length relative to the limb's typical (90th percentile) length in this clip.
    typical = np.array(
        [
            np.percentile(length[conf[:, k] > 0.3, k], 90) if (conf[:, k] > 0.3).sum() >= 3 else 0.0
            for k in range(len(LIMBS))
        ]
    )
    rel = np.divide(length, typical[None, :], out=np.zeros_like(length), where=typical[None, :] > 0)
    visibility = np.clip((rel - 0.15) / 0.35, 0.0, 1.0)
    dirs = np.divide(vec, length[..., None], out=np.zeros_like(vec), where=length[..., None] > 1e-3)
    weights = np.clip(conf, 0.0, 1.0) * visibility
    return dirs.astype(np.float32), weights.astype(np.float32)


def resample(seq: PoseSequence, rate: float, start: float | None = None, end: float | None = None) -> LimbTrack:
    """Limb directions on a uniform grid at `rate` Hz from `start` to `end` seconds (default: the clip).

    Directions are interpolated between the nearest analysed frames (then renormalised); grid points
    further than MAX_GAP_S/2 from any frame with a dancer get weight 0.
    """
    dirs, weights = limb_directions(seq)
    t = seq.times
    start = float(t[0]) if start is None else start
    end = float(t[-1]) if end is None else end
    n = max(2, int(np.floor((end - start) * rate + 1e-6)) + 1)
    grid = start + np.arange(n) / rate
    valid = weights.sum(axis=1) > 0
    out_dirs = np.zeros((n, len(LIMBS), 2), dtype=np.float32)
    out_w = np.zeros((n, len(LIMBS)), dtype=np.float32)
    if valid.sum() >= 2:
        tv = t[valid]
        dv, wv = dirs[valid], weights[valid]
        for k in range(len(LIMBS)):
            for c in range(2):
                out_dirs[:, k, c] = np.interp(grid, tv, dv[:, k, c])
            out_w[:, k] = np.interp(grid, tv, wv[:, k])
        # Distance to the nearest analysed frame with the dancer: far means unknown.
        pos = np.searchsorted(tv, grid)
        left = tv[np.clip(pos - 1, 0, len(tv) - 1)]
        right = tv[np.clip(pos, 0, len(tv) - 1)]
        near = np.minimum(np.abs(grid - left), np.abs(right - grid))
        gap = np.where((pos > 0) & (pos < len(tv)), right - left, np.inf)
        known = (near <= 1e-6) | (gap <= MAX_GAP_S)
        out_w[~known] = 0.0
    norm = np.linalg.norm(out_dirs, axis=-1, keepdims=True)
    out_dirs = np.divide(out_dirs, norm, out=np.zeros_like(out_dirs), where=norm > 1e-6)
    out_w = np.where(norm[..., 0] > 0.3, out_w, 0.0)
    velocity = np.gradient(out_dirs, 1.0 / rate, axis=0).astype(np.float32)
    return LimbTrack(grid, out_dirs, out_w.astype(np.float32), velocity, rate)


def sample_at(track: LimbTrack, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directions, weights and velocities of a grid track at arbitrary times (linear interpolation).

    times: (...,) float64 seconds. Returns dirs (..., L, 2), weights (..., L) (0 outside the track), velocity.
    """
    pos = (np.asarray(times, dtype=np.float64) - track.times[0]) * track.rate
    inside = (pos >= 0) & (pos <= len(track.times) - 1)
    pos = np.clip(pos, 0, len(track.times) - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, len(track.times) - 1)
    f = (pos - i0)[..., None].astype(np.float32)
    dirs = track.dirs[i0] * (1 - f[..., None]) + track.dirs[i1] * f[..., None]
    norm = np.linalg.norm(dirs, axis=-1, keepdims=True)
    dirs = np.divide(dirs, norm, out=np.zeros_like(dirs), where=norm > 1e-6)
    weights = np.minimum(track.weights[i0], track.weights[i1]) * inside[..., None]
    velocity = track.velocity[i0] * (1 - f[..., None]) + track.velocity[i1] * f[..., None]
    return dirs, weights.astype(np.float32), velocity


LIMB_FULL_SD_DEG = 25.0  # a limb whose direction varies this much over the dance (circular SD) counts fully
LIMB_FLOOR = 0.15  # a limb that barely moves in the dance still counts this much
HEAD_LIMB_SHARE = 0.5  # the head's limbs (neck, eyes) count at most this much: style, not choreography


def direction_range(track: LimbTrack, mask: np.ndarray | None = None) -> np.ndarray:
    """(L,) float32 degrees: each limb's circular standard deviation of direction over the track's moments
    (`mask`: (N,) bool, the moments to use; weighted by the limbs' confidence). 0 for a limb never seen."""
    w = track.weights if mask is None else track.weights * mask[:, None]
    total = w.sum(axis=0)
    mean = np.divide(
        (track.dirs * w[..., None]).sum(axis=0), total[:, None], out=np.zeros((len(total), 2)), where=total[:, None] > 0
    )
    length = np.clip(np.linalg.norm(mean, axis=-1), 1e-6, 1.0)
    sd = np.degrees(np.sqrt(-2.0 * np.log(length)))
    return np.where(total > 0, sd, 0.0).astype(np.float32)


def limb_weights(track: LimbTrack, mask: np.ndarray | None = None) -> np.ndarray:
    """(L,) float32 in [LIMB_FLOOR, 1]: how much each limb counts in this dance.

    Flat and capped: every limb that moves through LIMB_FULL_SD_DEG or more counts fully, so no single wide-
    ranging limb (in practice a forearm, the most style-dependent and noisiest limb) carries the score; a limb
    that moves less counts in proportion, down to LIMB_FLOOR; the head's limbs count half.
    """
    return weights_of_ranges(direction_range(track, mask))


def weights_of_ranges(ranges_deg: np.ndarray) -> np.ndarray:
    """`limb_weights` from limb direction ranges already measured ((L,) degrees, as `direction_range`)."""
    rel = np.clip(ranges_deg / LIMB_FULL_SD_DEG, LIMB_FLOOR, 1.0)
    head = np.array([limb[3] == "head" for limb in LIMBS])
    return np.where(head, HEAD_LIMB_SHARE * rel, rel).astype(np.float32)
