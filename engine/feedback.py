"""Feedback a dancer can act on: which body part, which moment, early or late, too small, mirrored."""

from __future__ import annotations

import numpy as np

from engine.align import Alignment
from engine.features import LimbTrack, sample_at
from engine.result import WeakMoment
from engine.score import Deviations
from engine.skeleton import LIMBS
from engine.timecode import clock

# Body parts as a dancer names them: (name, limb indices, part for the JSON).
GROUPS: tuple[tuple[str, tuple[int, ...], str], ...] = tuple(
    (name, tuple(k for k, limb in enumerate(LIMBS) if limb[3] == part and limb[4] == side), part)
    for name, part, side in (
        ("left arm", "arms", "left"),
        ("right arm", "arms", "right"),
        ("left leg", "legs", "left"),
        ("right leg", "legs", "right"),
        ("torso", "torso", "centre"),
        ("head", "head", "centre"),
    )
)
WEAK_BELOW = 0.5  # group accuracy under which a moment is weak
MIN_WEAK_S = 0.6  # shortest weak stretch worth telling
MERGE_GAP_S = 0.4
LAG_SEARCH_S = 0.6  # how far to look for the same pose earlier or later
MIN_LAG_S = 0.15
MAX_WEAK = 5


def _stretches(mask: np.ndarray, times: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges [i, j) of runs of True, runs closer than MERGE_GAP_S merged, shorter than MIN_WEAK_S dropped."""
    runs: list[list[int]] = []
    for i, on in enumerate(mask):
        if not on:
            continue
        if runs and times[i] - times[runs[-1][1] - 1] <= MERGE_GAP_S:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    step = float(times[1] - times[0]) if len(times) > 1 else 0.1
    return [(a, b) for a, b in runs if times[b - 1] - times[a] + step >= MIN_WEAK_S]


def _group_accuracy(limb_acc: np.ndarray, weights: np.ndarray, limbs: tuple[int, ...]) -> np.ndarray:
    w = weights[:, limbs]
    total = w.sum(axis=1)
    acc = np.divide((limb_acc[:, limbs] * w).sum(axis=1), total, out=np.full(len(w), np.nan), where=total > 1e-6)
    return acc


def _lag_of(
    ref: LimbTrack, att: LimbTrack, matched: np.ndarray, limbs: tuple[int, ...], a: int, b: int
) -> tuple[float, float, float]:
    """(best shift s, error at 0, error at best shift): the same pose seen s seconds later in the attempt."""
    shifts = np.arange(-LAG_SEARCH_S, LAG_SEARCH_S + 1e-9, 0.05)
    times = matched[a:b]
    ok = np.isfinite(times)
    if ok.sum() < 3:
        return 0.0, np.nan, np.nan
    cand = times[ok][None, :] + shifts[:, None]
    d, w, _ = sample_at(att, cand)
    rd, rw = ref.dirs[a:b][ok][:, limbs], ref.weights[a:b][ok][:, limbs]
    cos = np.clip((d[:, :, limbs] * rd[None]).sum(-1), -1, 1)
    ww = w[:, :, limbs] * rw[None]
    err = np.degrees(np.arccos(cos))
    mean_err = (err * ww).sum((1, 2)) / np.maximum(ww.sum((1, 2)), 1e-6)
    zero = int(np.argmin(np.abs(shifts)))
    best = int(np.argmin(mean_err))
    return float(shifts[best]), float(mean_err[zero]), float(mean_err[best])


def weak_moments(
    ref: LimbTrack, att: LimbTrack, alignment: Alignment, limb_acc: np.ndarray, deviations: Deviations
) -> list[WeakMoment]:
    """The worst stretches per body part, in reference time, with early/late where the pose came shifted."""
    found: list[tuple[float, WeakMoment]] = []
    times = alignment.ref_times
    for name, limbs, part in GROUPS:
        acc = _group_accuracy(limb_acc, deviations.pair_weight, limbs)
        weak = np.nan_to_num(acc, nan=1.0) < WEAK_BELOW
        weak &= deviations.moment_weight > 0
        for a, b in _stretches(weak, times):
            shift, err0, err_best = _lag_of(ref, att, alignment.attempt_times, limbs, a, b)
            if abs(shift) >= MIN_LAG_S and np.isfinite(err0) and err_best < 0.6 * err0:
                note = f"{name} {'late' if shift > 0 else 'early'} by about {abs(shift):.1f} s"
            else:
                note = f"{name} off"
            badness = float(np.nansum(1.0 - acc[a:b]) * deviations.moment_weight[a:b].mean())
            end = float(times[b - 1] + (times[1] - times[0] if len(times) > 1 else 0.0))
            found.append((badness, WeakMoment(float(times[a]), end, part, note)))
    found.sort(key=lambda x: -x[0])
    top = found[0][0] if found else 1.0
    for badness, moment in found:
        moment.severity = float(badness / top) if top > 0 else 0.0
    return sorted((w for _, w in found[:MAX_WEAK]), key=lambda w: w.start_s)


def amplitude_notes(ref: LimbTrack, deviations: Deviations, alignment: Alignment) -> list[str]:
    """'legs too small in the second half': compare how much each part moves, per half of the dance."""
    notes: list[str] = []
    covered = deviations.covered > 0
    n = len(alignment.ref_times)
    if covered.sum() < 10:
        return notes
    att_dirs, att_w = deviations.att_dirs, deviations.att_weights
    for part in ("arms", "legs"):
        limbs = [k for k, limb in enumerate(LIMBS) if limb[3] == part]
        for label, sl in (("in the first half", slice(0, n // 2)), ("in the second half", slice(n // 2, n))):
            ok = covered[sl]
            if ok.sum() < 5:
                continue
            r = ref.dirs[sl][ok][:, limbs]
            a = att_dirs[sl][ok][:, limbs]
            w = (ref.weights[sl][ok][:, limbs] * att_w[sl][ok][:, limbs]) > 0.2
            if w.sum() < 10:
                continue
            spread_r = _spread(r, w)
            spread_a = _spread(a, w)
            if spread_r < 0.15:
                continue
            ratio = spread_a / spread_r
            if ratio < 0.6:
                notes.append(f"{part} too small {label}: make the movement bigger")
            elif ratio > 1.7:
                notes.append(f"{part} too big {label}: keep the movement tighter")
    return notes


def _spread(dirs: np.ndarray, ok: np.ndarray) -> float:
    """Mean distance of each limb's direction from its average direction (how much the limb moves)."""
    total = 0.0
    count = 0
    for k in range(dirs.shape[1]):
        v = dirs[ok[:, k], k]
        if len(v) < 3:
            continue
        total += float(np.linalg.norm(v - v.mean(axis=0), axis=-1).mean())
        count += 1
    return total / count if count else 0.0


def sentences(
    score: float,
    weak: list[WeakMoment],
    amplitude: list[str],
    alignment: Alignment,
    deviations: Deviations,
    notes: list[str],
    match: float,
) -> list[str]:
    """Short sentences a dancer can act on, most useful first (`match`: 0-1, the scorer's limb match)."""
    out: list[str] = []
    worst = sorted(weak, key=lambda w: -w.severity)[:3]
    for w in sorted(worst, key=lambda w: w.start_s):
        out.append(f"{w.note} at {clock(w.start_s)}-{clock(w.end_s)}")
    out.extend(amplitude[:2])
    tempo = alignment.tempo
    if abs(np.log(tempo)) > 0.06:
        out.append(
            f"you danced {'faster' if tempo > 1 else 'slower'} than the reference "
            f"({tempo:.2f}x its speed): follow the music"
        )
    if alignment.music_lag_s is not None and deviations.music_lag >= 0.15:
        lag = alignment.music_lag_s
        out.append(f"you were {'behind' if lag > 0 else 'ahead of'} the music by about {abs(lag):.1f} s")
    if not alignment.credible:
        out.append("we could not find the reference dance in your video: is it the right dance?")
    elif match < 0.35:
        out.append("your moves do not follow the reference's: learn the order of the moves first")
    uncovered = 1.0 - deviations.coverage
    if uncovered > 0.1:
        out.append(f"{uncovered:.0%} of the dance is missing from your video: record the whole routine")
    if alignment.mirrored:
        out.append("you danced it mirrored: that's fine for this dance")
    out.extend(notes)
    if not out:
        out.append(
            "great match: every part in time and in shape" if score >= 8.5 else "keep practising the whole routine"
        )
    return out
