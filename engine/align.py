"""Alignment in time: where the attempt's dance starts, how fast it runs, whether it is mirrored, and drift.

1. A global search over a straight time map `t_attempt = offset + stretch * t_reference`, for the attempt as
   filmed and as a mirror image: every offset with enough overlap and stretches from 0.74 to 1.34 (tempos
   from 1.35x down to 0.75x), scored by
   the weighted agreement of limb directions and limb motion. When both clips have the same music, the
   soundtracks fix the offset (to within `AUDIO_WINDOW_S`) and the poses refine it.
2. A bounded dynamic time warping around that straight line: each reference moment may match an attempt
   moment at most `BAND_S` seconds away from it, and the warp may move by at most one grid step per step,
   so local drift is followed without letting a different dance be stitched together from loose pieces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from engine.features import LimbTrack, limb_weights, sample_at
from engine.skeleton import LATERAL, REST_DIRECTION

log = logging.getLogger(__name__)

STRETCH_MIN, STRETCH_MAX, STRETCH_STEPS = 0.74, 1.34, 31  # attempt seconds per reference second
STRETCH_PRIOR = 0.2  # objective penalty per unit |log stretch|: a tempo change must buy a clearly better fit
MIN_OVERLAP = 0.3  # a candidate offset must cover this share of the reference
COVERAGE_WEIGHT = 0.8  # objective penalty per unit of the reference left uncovered that the tempo could reach
MOTION_WEIGHT = 0.3  # how much agreement of limb motion counts against agreement of limb direction
MOTION_SCALE = 1.0  # 1/s: limb speeds well below this count as still in the search
BAND_S = 0.5  # the warp may stray this far from the straight time map
WARP_STEP_COST = 0.02  # cost of each grid step the warp moves (keeps it smooth)
AUDIO_WINDOW_S = 0.75  # with matching music, the dance offset lies within this of the music's offset
MIRROR_MARGIN = 0.01  # the mirror image must fit better by this much to be chosen
MOMENT_FLOOR = 0.1  # a still moment at the standing pose counts this much (relative to the busiest)


@dataclass
class Alignment:
    """How the attempt's time maps onto the reference's.

    ref_times: (M,) float64, reference grid times in seconds.
    attempt_times: (M,) float64, matched attempt times in seconds (NaN where the attempt has no counterpart).
    drift: (M,) float64 seconds, attempt_times minus the straight time map (the warp's local deviation).
    offset_s: attempt time minus reference time where the reference's dance starts.
    """

    mirrored: bool
    offset: float  # straight map intercept: t_attempt = offset + stretch * t_reference
    stretch: float
    offset_s: float
    ref_times: np.ndarray
    attempt_times: np.ndarray
    drift: np.ndarray
    fit: float  # the search objective at the chosen map (higher is better)

    @property
    def tempo(self) -> float:
        """Attempt speed relative to the reference (1.0 = same; 1.25 = a quarter faster)."""
        return 1.0 / self.stretch

    offset_source: str = "pose"
    music_lag_s: float | None = None  # dance offset minus music offset (positive: late to the music)
    credible: bool = True  # False: the best fit sits at the edge of the tempo search, or nothing overlapped

    @property
    def straight_times(self) -> np.ndarray:
        """(M,) float64 seconds: the attempt times of the straight map, without the warp's local drift."""
        return self.offset + self.stretch * self.ref_times


def _frame_features(track: LimbTrack, velocity_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Flattened weighted features for similarity by matrix product.

    Returns feat (N, L*4) and w (N, L): feat_i . feat_j = sum_l w_il w_jl (d.d' + MOTION_WEIGHT m.m'), where
    m = v / sqrt(|v|^2 + MOTION_SCALE^2) is the limb's velocity softly normalised to length < 1, so motion
    counts as agreement of direction (fast or slow alike) and a fast stretch cannot outweigh the poses.
    """
    w = track.weights
    d = track.dirs * w[..., None]
    v = track.velocity * velocity_scale
    m = v / np.sqrt((v * v).sum(-1, keepdims=True) + MOTION_SCALE**2)
    m = m * np.sqrt(MOTION_WEIGHT) * w[..., None]
    return np.concatenate([d, m], axis=-1).reshape(len(w), -1), w


def moment_importance(track: LimbTrack) -> np.ndarray:
    """(N,) float32: how much each reference moment matters.

    A dance is what differs from standing still: moments count MOMENT_FLOOR at rest and up to 1 when the
    limbs that move in this dance point away from their rest direction or move fast.
    """
    w = track.weights * limb_weights(track)[None, :]
    rest = np.array(REST_DIRECTION, dtype=np.float32)
    cos = (track.dirs * rest[None]).sum(-1)
    cos = np.where(np.array(LATERAL)[None, :], np.abs(cos), cos)
    away = 1.0 - np.clip(cos, -1.0, 1.0)  # (N, L): 0 at rest, 2 pointing the other way
    speed = np.linalg.norm(track.velocity, axis=-1)
    wsum = w.sum(axis=1)
    deviation = np.divide((away * w).sum(axis=1), wsum, out=np.zeros(len(w)), where=wsum > 0)
    motion = np.divide((speed * w).sum(axis=1), wsum, out=np.zeros(len(w)), where=wsum > 0)

    def relative(x: np.ndarray) -> np.ndarray:
        scale = np.percentile(x, 90) if x.size else 0.0
        return np.clip(x / scale, 0.0, 1.0) if scale > 1e-6 else np.zeros_like(x)

    present = (track.weights.sum(axis=1) > 0).astype(np.float32)
    activity = np.maximum(relative(deviation), relative(motion))
    return (present * (MOMENT_FLOOR + (1 - MOMENT_FLOOR) * activity)).astype(np.float32)


def _stretch_grid() -> np.ndarray:
    grid = np.exp(np.linspace(np.log(STRETCH_MIN), np.log(STRETCH_MAX), STRETCH_STEPS))
    return np.unique(np.concatenate([grid, [1.0]]))


def _search(
    ref: LimbTrack, att: LimbTrack, importance: np.ndarray, offset_window: tuple[float, float] | None
) -> tuple[float, float, float]:
    """Best (objective, offset, stretch) for one orientation of the attempt."""
    f_ref, w_ref = _frame_features(ref)
    n = len(ref.times)
    total = float(importance.sum()) or 1.0
    best = (-np.inf, 0.0, 1.0)
    for stretch in _stretch_grid():
        # The attempt sampled every stretch/rate seconds: one step per reference grid step.
        steps = int(np.floor((att.times[-1] - att.times[0]) * ref.rate / stretch)) + 1
        if steps < 2:
            continue
        t_att = att.times[0] + stretch * np.arange(steps) / ref.rate
        d, w, v = sample_at(att, t_att)
        scaled = LimbTrack(t_att, d, w, v * stretch, ref.rate)
        f_att, w_att = _frame_features(scaled)
        num = f_ref @ f_att.T  # (n, steps)
        den = w_ref @ w_att.T
        sim = np.divide(num, den, out=np.zeros_like(num), where=den > 1e-3) * (den > 1e-3)
        sim *= importance[:, None]
        # lag = j - i; objective = sum over the diagonal / total importance.
        lags = np.arange(-(n - 1), steps)
        sums = np.array([np.trace(sim, offset=int(lag)) for lag in lags])
        coverage = np.array([float(importance[max(0, -lag) : min(n, steps - lag)].sum()) for lag in lags]) / total
        # Mean agreement over the overlap, with a mild preference for covering more of the reference.
        mean = np.divide(sums / total, coverage, out=np.zeros_like(sums), where=coverage > 0)
        # Covering less of the reference than this tempo could reach costs: a routine that repeats must not
        # be matched one repetition late, with a sliver of overlap.
        reach = float(coverage.max(initial=0.0))
        scores = np.where(coverage >= MIN_OVERLAP, mean - COVERAGE_WEIGHT * (reach - coverage), -np.inf)
        offsets = att.times[0] + stretch * (lags / ref.rate) - stretch * ref.times[0]
        if offset_window is not None:
            lo, hi = offset_window
            scores = np.where((offsets >= lo) & (offsets <= hi), scores, -np.inf)
        scores = scores - STRETCH_PRIOR * abs(np.log(stretch))
        k = int(np.argmax(scores))
        if not np.isfinite(scores[k]):
            continue
        offset = float(offsets[k])
        if 0 < k < len(scores) - 1 and np.isfinite(scores[k - 1]) and np.isfinite(scores[k + 1]):
            a, b, c = scores[k - 1], scores[k], scores[k + 1]
            denom = a - 2 * b + c
            if denom < 0:
                shift = float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
                offset += shift * stretch / ref.rate
        if scores[k] > best[0]:
            best = (float(scores[k]), offset, float(stretch))
    return best


def _warp(ref: LimbTrack, att: LimbTrack, offset: float, stretch: float) -> tuple[np.ndarray, np.ndarray]:
    """Banded DTW around the straight map. Returns matched attempt times (NaN: none) and drift (s)."""
    k_max = int(round(BAND_S * ref.rate))
    shifts = np.arange(-k_max, k_max + 1) / ref.rate  # seconds of attempt time
    base = offset + stretch * ref.times  # (n,)
    cand = base[:, None] + shifts[None, :]  # (n, K)
    d, w, _ = sample_at(att, cand)  # (n, K, L, 2), (n, K, L)
    pair_w = ref.weights[:, None, :] * w
    cos = np.einsum("nlc,nklc->nkl", ref.dirs, d)
    den = pair_w.sum(axis=-1)
    agree = np.divide((pair_w * cos).sum(axis=-1), den, out=np.zeros_like(den), where=den > 1e-3)
    cost = np.where(den > 1e-3, 1.0 - agree, 1.0)  # (n, K); 1.0 where unknown
    n, kk = cost.shape
    acc = cost[0].copy()
    back = np.zeros((n, kk), dtype=np.int64)
    idx = np.arange(kk)
    for i in range(1, n):
        options = np.full((3, kk), np.inf)
        options[1] = acc
        options[0, 1:] = acc[:-1] + WARP_STEP_COST  # came from k-1
        options[2, :-1] = acc[1:] + WARP_STEP_COST  # came from k+1
        choice = np.argmin(options, axis=0)
        acc = options[choice, idx] + cost[i]
        back[i] = idx + choice - 1
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(np.argmin(acc + np.abs(idx - k_max) * 1e-6))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    matched = cand[np.arange(n), path]
    known = w[np.arange(n), path].sum(axis=-1) > 0
    matched = np.where(known, matched, np.nan)
    return matched, shifts[path]


def align(
    ref: LimbTrack,
    att: LimbTrack,
    *,
    audio_offsets: list[float] | None = None,
    allow_mirror: bool = True,
) -> Alignment:
    """Find the time map from the reference to the attempt (see the module docstring).

    audio_offsets: candidate offsets of the shared music (attempt minus reference time, seconds), when the
        soundtracks agree; the pose fit is searched near each and the best is kept.
    """
    importance = moment_importance(ref)
    candidates: list[tuple[float | None, tuple[float, float] | None]] = [
        (o, (o - AUDIO_WINDOW_S, o + AUDIO_WINDOW_S)) for o in (audio_offsets or [])
    ]
    orientations = [(False, att)] + ([(True, att.mirrored())] if allow_mirror else [])
    fits = []
    for audio_offset, window in candidates or [(None, None)]:
        for mirrored, track in orientations:
            fit, offset, stretch = _search(ref, track, importance, window)
            # The mirror image must fit clearly better to be chosen.
            fits.append(
                (fit - (MIRROR_MARGIN if mirrored else 0.0), fit, offset, stretch, mirrored, track, audio_offset)
            )
    _, fit, offset, stretch, mirrored, att, audio_offset = max(fits, key=lambda f: f[0])
    if not np.isfinite(fit) and candidates:
        log.info("no pose fit near the music's offsets %s; searching by poses alone", audio_offsets)
        return align(ref, orientations[0][1], audio_offsets=None, allow_mirror=allow_mirror)
    if not np.isfinite(fit):
        # The attempt is too short to overlap enough of the reference: match from the start.
        offset, stretch, fit = float(att.times[0] - ref.times[0]), 1.0, float("-inf")
    grid = _stretch_grid()
    credible = bool(np.isfinite(fit)) and grid[0] < stretch < grid[-1]
    matched, drift = _warp(ref, att, offset, stretch)
    start = float(ref.times[np.argmax(ref.weights.sum(axis=1) > 0)])
    offset_s = offset + (stretch - 1.0) * start
    return Alignment(
        mirrored=mirrored,
        offset=offset,
        stretch=stretch,
        offset_s=offset_s,
        ref_times=ref.times,
        attempt_times=matched,
        drift=drift,
        fit=fit,
        offset_source="audio" if audio_offset is not None else "pose",
        music_lag_s=None if audio_offset is None else float(offset - audio_offset),
        credible=credible,
    )
