"""How people differ when they dance the same routine: a generator of "another dancer" and its yardstick.

`another_dancer(seq, level, seed)` turns a keypoint sequence into another person dancing the same routine;
`limb_errors(reference, attempt)` measures how far two performances are apart: the angle between the
directions of the 8 arm and leg limbs (upper arms, forearms, thighs, shins) at each moment, after the best
constant time lag (within +-4 s, 0.1 s steps, chosen by the mean of (1 - cos)/2) and the better of plain and
mirrored. `quantiles` gives the p50/p75/p90 of those angles in degrees over time and limbs.

What another dancer changes (sizes: the fields of `Differences`; each drawn once per seed; "level"
scales the dancing, see below):
- body proportions: each bone's length x (1 + N(0, proportion_sd)), left and right alike;
- amplitude per limb: the limb's angle about its mean direction x (1 + N(0, amplitude_sd)) (SD 0.18: one
  dancer swings an arm a fifth wider or narrower than another);
- style: a constant per-limb angle offset N(0, style_offset_deg) plus a slowly wandering one (an
  Ornstein-Uhlenbeck process, stationary SD style_wander_deg, time constant style_wander_tau_s);
- timing: a global lag (OU, SD global_lag_s, tau global_lag_tau_s) and a lag per limb (OU, SD limb_lag_s,
  tau limb_lag_tau_s), and a tempo change x (1 + N(0, tempo_sd));
- variants: a limb (with the limb below it) doing something else briefly, at variant_rate_hz events per
  second, variant_deg about (x 0.7-1.3, either sign), each 0.6-1.5 s long with smooth onset and release;
- pose-estimator noise of another recording: every bone turned by N(0, noise_deg) and its length scaled by
  1 + N(0, noise_deg in radians), wandering with time constant noise_tau_s (estimators smooth over frames).
  Noise on bones rather than on joints keeps a short bone (the hip line of a dancer seen from the side)
  pointing where it points, as estimators do; joints further down a chain get noisier, as they do;
- `offset_s`: the whole clip starts that much later (the first pose held), or earlier (cut) if negative.

`level` scales it: 0 is an exact copy (on the base's own frame times); 1 a typical competent other dancer;
2 a loose but recognisable one; 4 and more barely the routine. Proportions and keypoint noise belong to
another body and another recording rather than to how well it is danced: they grow with the level up to 1
and stay there. Everything else is proportional to the level. The random draws do not depend on the level,
so for one seed a higher level is the same dancer, only looser.

Fitted by `python scripts/fit_people.py` (numbers below from its run on 2026-11-27), on this repo's own poses:
MediaPipe BlazePose on the CPU through `engine.api`, every frame up to 30 fps, cached by `bench.pose_store`
under /work/notes/cache/<stem>.npz. The yardstick is `limb_errors` above.

Real cross-person pairs of the same routine (../shared/media/dev-only-2/README.md s1-s6, ../shared/media/
dev-only feelreal): limb errors in degrees, and the robust SD of each moving 2 s window's own lag
(`local_lags`) with the number of such windows:

    pair      reference                attempt                  p50    p75    p90   lag s  mirror  lag SD (n)
    s1        punch_ref_man_office     punch_woman_blue          7.3   14.9   30.1   +0.1  no      0.025 (2)
    s2        punch_ref_man_office     punch_man_livingroom      7.9   15.2   31.6   -0.1  no      0.000 (2)
    s3        punch_woman_blue         punch_man_livingroom      6.1   12.2   25.8   -0.1  no      0.025 (2)
    s4        armdance_ref_woman_grey  armdance_girl_a          10.5   19.4   37.3   +0.4  no      0.074 (8)
    s5        armdance_ref_woman_grey  armdance_girl_b          15.3   24.8   38.6   -2.6  yes     0.099 (5)
    s6        ballet_a                 ballet_b                 18.7   33.7   48.3   +0.1  no      - (0)
    feelreal  feelreal_a               feelreal_b                9.0   19.7   42.0   +0.0  no      0.049 (28)
    range (REAL_BAND)                                      6.1-18.7 12.2-33.7 25.8-48.3
    middle                                                     12.4   23.0   37.1

How each group was set (each from the measurement that shows it most directly):
- pose-estimator noise: t1 of the same README, the AIST++ d06 performance as MediaPipe sees it in the video
  against its AIST++ annotations (one dancer, one moment, two pose estimations): p50/p75/p90 3.9/8.9/21.8
  deg. Noise alone at noise_deg 7 gives 4.5/8.0/11.4 (the closest on p50 and p75 of 2-12 deg; the real
  tail is heavier). The same pair sets its time constant: MediaPipe's joints minus the annotations'
  correlate 0.6-0.76 one frame (33 ms) apart, 0-0.4 three frames apart and about 0 at six, on all 12 arm
  and leg joints: about 0.1 s.
- timing (global and limb lag, tempo): the real pairs' local lag wanders with a robust SD of 0.074 s (median
  of s4, s5, feelreal: the pairs with at least 5 moving windows). The generator gives 0.074 s at the starting
  values (0.08 s, 0.08 s, 0.02; multipliers 0.25-2 tried: 0.025-0.173 s), so they stay.
- style (amplitude, constant offset, wander): multiplier 0.9 of the starting values, the least squares of the
  log ratios of level 1 to the middle and level 2 to the upper end (0.6-1.8 tried).
- proportions and variants do not move these quantiles (proportions change no direction; variants touch
  about 1% of limb moments, beyond p90): their starting values stay, unfitted.

The generator at the fitted parameters, medians over the 5 shipped bases (tests/data/keypoints: the squat
and the four AIST++ dances) x 3 seeds, the same yardstick:

    level    p50    p75    p90
      0.5    5.7   11.1   17.9
      1.0   11.2   20.3   36.3     the middle of the real range (12.4 / 23.0 / 37.1)
      1.5   15.2   29.6   49.0     about the upper end (18.7 / 33.7 / 48.3)
      2.0   19.9   37.3   63.1     beyond it: p50 +6%, p75 +11%, p90 +31%
      4.0   32.7   59.2   93.5

Level 2 overshoots the real range's upper end because everything but noise and proportions grows in proportion
to the level; a level-1 fit in the middle and a level-2 fit at the top would need a dancer model whose
differences grow more slowly than the level, which "level scales it" rules out. Read level 2 as looser than
any real pair measured, still recognisably the routine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.sequence import PoseSequence
from engine.skeleton import BONES, LIMB_MIRROR, LIMBS, MIRROR, J


@dataclass(frozen=True)
class Differences:
    """How much another dancer differs at level 1 (units in the names; sources in the module docstring)."""

    proportion_sd: float = 0.05  # relative SD of each bone's length (spread of segment ratios between adults)
    amplitude_sd: float = 0.18  # relative SD of each limb's excursion about its mean direction
    style_offset_deg: float = 7.2  # SD of a limb's constant angle offset
    style_wander_deg: float = 5.4  # stationary SD of the slowly wandering angle offset
    style_wander_tau_s: float = 2.0
    global_lag_s: float = 0.08  # stationary SD of the whole body's lag
    global_lag_tau_s: float = 1.5
    limb_lag_s: float = 0.08  # stationary SD of each limb's own lag
    limb_lag_tau_s: float = 1.0
    tempo_sd: float = 0.02  # relative SD of the tempo
    variant_rate_hz: float = 0.12  # local variants per second
    variant_deg: float = 70.0  # typical angle of a variant
    noise_deg: float = 7.0  # SD of each bone's angular pose-estimator jitter (and its length's, as a fraction)
    noise_tau_s: float = 0.1  # time constant of that jitter (pose estimators smooth over frames)


FITTED = Differences()

# Real between-person limb errors (deg) of the same routine: min and max over the 7 pairs above, per quantile.
REAL_BAND: dict[str, tuple[float, float]] = {"p50": (6.1, 18.7), "p75": (12.2, 33.7), "p90": (25.8, 48.3)}

ARM_LEG = tuple(range(8))  # indices of the arm and leg limbs in engine.skeleton.LIMBS
_MAX_GAP_S = 0.5  # a joint is interpolated over gaps up to this long, unknown beyond
_MIN_CONFIDENCE = 0.3
_MIN_VISIBLE = 0.35  # a limb shorter than this fraction of its usual length points at the camera: no direction


# ------------------------------------------------------------------------------------------------------
# The yardstick: limb direction errors after the best constant lag and mirror
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LimbErrors:
    """Angles (degrees) between two performances' arm and leg limbs on a common grid.

    degrees: (N, 8) float64, NaN where either limb is unknown. lag_s: attempt time minus reference time.
    """

    degrees: np.ndarray
    lag_s: float
    mirrored: bool

    def quantiles(self) -> dict[str, float]:
        return quantiles(self.degrees)


def quantiles(degrees: np.ndarray) -> dict[str, float]:
    """p50, p75 and p90 of the known angles, in degrees (NaN when none is known)."""
    known = degrees[np.isfinite(degrees)]
    if known.size == 0:
        return {"p50": float("nan"), "p75": float("nan"), "p90": float("nan")}
    p50, p75, p90 = np.percentile(known, [50, 75, 90])
    return {"p50": float(p50), "p75": float(p75), "p90": float(p90)}


def limb_angles(seq: PoseSequence, rate: float = 10.0, mirror: bool = False) -> np.ndarray:
    """Directions of the 8 arm and leg limbs on a `rate` Hz grid from the clip's first frame, in radians
    (image x right, y down); NaN where a joint is unknown or the limb is foreshortened. With `mirror`, the
    performance as seen in a mirror (left and right limbs swapped, x reversed)."""
    t = seq.times
    n = max(1, int(np.floor((t[-1] - t[0]) * rate + 1e-6)) + 1)
    grid = t[0] + np.arange(n) / rate
    kp = seq.keypoints.astype(np.float64)
    vectors = np.full((n, len(ARM_LEG), 2), np.nan)
    for k in ARM_LEG:
        _, a, b, _, _ = LIMBS[k]
        ok = seq.present & (kp[:, a, 2] >= _MIN_CONFIDENCE) & (kp[:, b, 2] >= _MIN_CONFIDENCE)
        if ok.sum() < 2:
            continue
        tv = t[ok]
        vec = kp[ok, b, :2] - kp[ok, a, :2]
        vectors[:, k, 0] = np.interp(grid, tv, vec[:, 0])
        vectors[:, k, 1] = np.interp(grid, tv, vec[:, 1])
        vectors[~_near(grid, tv, _MAX_GAP_S), k] = np.nan
    length = np.linalg.norm(vectors, axis=-1)
    usual = np.array([np.percentile(c[np.isfinite(c)], 90) if np.isfinite(c).any() else np.inf for c in length.T])
    visible = length >= _MIN_VISIBLE * usual[None, :]
    out = np.where(visible, np.arctan2(vectors[..., 1], vectors[..., 0]), np.nan)
    if mirror:
        out = np.pi - out[:, [LIMB_MIRROR[k] for k in ARM_LEG]]
    return out


def _near(grid: np.ndarray, known: np.ndarray, max_gap: float) -> np.ndarray:
    """Grid points inside a gap of at most `max_gap` seconds between known times, or on one."""
    pos = np.searchsorted(known, grid)
    left = known[np.clip(pos - 1, 0, len(known) - 1)]
    right = known[np.clip(pos, 0, len(known) - 1)]
    on = (np.abs(grid - left) < 1e-9) | (np.abs(right - grid) < 1e-9)
    inside = (pos > 0) & (pos < len(known)) & (right - left <= max_gap)
    return on | inside


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def limb_errors(
    reference: PoseSequence, attempt: PoseSequence, rate: float = 10.0, max_lag_s: float = 4.0
) -> LimbErrors:
    """The angles between the two performances' arm and leg limbs at the best constant lag and mirror.

    The lag and mirror minimise the mean of (1 - cos)/2 over known limb pairs; a lag must leave at least half
    of the shorter performance's known limb moments overlapping.
    """
    ref = limb_angles(reference, rate)
    best: tuple[float, int, bool] | None = None
    max_shift = int(round(max_lag_s * rate))
    candidates = {m: limb_angles(attempt, rate, mirror=m) for m in (False, True)}
    need = 0.5 * min(np.isfinite(ref).sum(), np.isfinite(candidates[False]).sum())
    for mirrored, att in candidates.items():
        for shift in range(-max_shift, max_shift + 1):
            r, a = _overlap(ref, att, shift)
            both = np.isfinite(r) & np.isfinite(a)
            if both.sum() < max(need, 1):
                continue
            cost = float(np.mean((1 - np.cos(r[both] - a[both])) / 2))
            if best is None or cost < best[0] - 1e-12:
                best = (cost, shift, mirrored)
    if best is None:
        return LimbErrors(np.full((0, len(ARM_LEG)), np.nan), 0.0, False)
    _, shift, mirrored = best
    r, a = _overlap(ref, candidates[mirrored], shift)
    return LimbErrors(np.degrees(np.abs(_wrap(r - a))), shift / rate, mirrored)


def local_lags(
    reference: PoseSequence,
    attempt: PoseSequence,
    window_s: float = 2.0,
    search_s: float = 0.4,
    rate: float = 30.0,
    min_motion_deg_s: float = 30.0,
) -> np.ndarray:
    """The attempt's lag behind the reference in each moving 2 s window, about the best constant lag.

    Windows start every window_s/2 seconds; each is matched within +-search_s of the constant lag (steps of
    1/rate s) by the mean of (1 - cos)/2 of the arm and leg limbs. Windows where the reference's limbs turn
    slower than `min_motion_deg_s` on average carry no timing and are left out. Returns lags in seconds.
    """
    overall = limb_errors(reference, attempt)
    ref = limb_angles(reference, rate)
    att = limb_angles(attempt, rate, mirror=overall.mirrored)
    base = int(round(overall.lag_s * rate))
    width, reach = int(round(window_s * rate)), int(round(search_s * rate))
    speed = np.degrees(np.abs(_wrap(np.diff(ref, axis=0)))) * rate
    lags = []
    for start in range(0, len(ref) - width + 1, max(1, width // 2)):
        moving = speed[start : start + width - 1]
        if not np.isfinite(moving).any() or np.nanmean(moving) < min_motion_deg_s:
            continue
        best: tuple[float, int] | None = None
        window = ref[start : start + width]
        for shift in range(base - reach, base + reach + 1):
            lo, hi = start + shift, start + shift + width
            if lo < 0 or hi > len(att):
                continue
            seg = att[lo:hi]
            both = np.isfinite(window) & np.isfinite(seg)
            if both.sum() < 0.5 * np.isfinite(window).sum() or not both.any():
                continue
            cost = float(np.mean((1 - np.cos(window[both] - seg[both])) / 2))
            if best is None or cost < best[0]:
                best = (cost, shift)
        if best is not None:
            lags.append(best[1] / rate)
    return np.asarray(lags)


def robust_sd(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation: the SD of a normal sample, unmoved by a few outliers."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def _overlap(ref: np.ndarray, att: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the reference and of the attempt `shift` grid steps later that exist in both."""
    start = max(0, -shift)
    stop = min(len(ref), len(att) - shift)
    if stop <= start:
        return ref[:0], att[:0]
    return ref[start:stop], att[start + shift : stop + shift]


# ------------------------------------------------------------------------------------------------------
# The generator
# ------------------------------------------------------------------------------------------------------


def _tree() -> list[tuple[int, int]]:
    """BODY_25's bones as (parent, child), parents first, from the mid-hip."""
    edges: list[tuple[int, int]] = []
    reached = {J["MidHip"]}
    frontier = [J["MidHip"]]
    while frontier:
        nxt = []
        for p in frontier:
            for a, b in BONES:
                for parent, child in ((a, b), (b, a)):
                    if parent == p and child not in reached:
                        reached.add(child)
                        edges.append((parent, child))
                        nxt.append(child)
        frontier = nxt
    return edges


_EDGES = _tree()
_ROOT = J["MidHip"]
# The arm/leg limb whose rotation and lag each bone follows (feet follow the shin), or -1 (torso, head).
_LIMB_OF_JOINT = {LIMBS[k][2]: k for k in ARM_LEG}  # child joint -> limb


def _edge_limb(parent: int, child: int) -> int:
    if child in _LIMB_OF_JOINT and LIMBS[_LIMB_OF_JOINT[child]][1] == parent:
        return _LIMB_OF_JOINT[child]
    feet = {J["RBigToe"]: 5, J["RSmallToe"]: 5, J["RHeel"]: 5, J["LBigToe"]: 7, J["LSmallToe"]: 7, J["LHeel"]: 7}
    return feet.get(child, -1)


_EDGE_LIMB = np.array([_edge_limb(p, c) for p, c in _EDGES])
# Bones of one kind share a length scale on both sides (a person's two forearms are alike).
_BONE_KIND = {
    frozenset(("RShoulder", "RElbow")): "upper arm", frozenset(("LShoulder", "LElbow")): "upper arm",
    frozenset(("RElbow", "RWrist")): "forearm", frozenset(("LElbow", "LWrist")): "forearm",
    frozenset(("RHip", "RKnee")): "thigh", frozenset(("LHip", "LKnee")): "thigh",
    frozenset(("RKnee", "RAnkle")): "shin", frozenset(("LKnee", "LAnkle")): "shin",
    frozenset(("Neck", "RShoulder")): "shoulder", frozenset(("Neck", "LShoulder")): "shoulder",
    frozenset(("MidHip", "RHip")): "hip", frozenset(("MidHip", "LHip")): "hip",
    frozenset(("MidHip", "Neck")): "spine",
}  # fmt: skip
_NAMES = {i: name for name, i in J.items()}
_KINDS = sorted(set(_BONE_KIND.values()) | {"head", "foot"})
_EDGE_KIND = np.array(
    [
        _KINDS.index(_BONE_KIND.get(frozenset((_NAMES[p], _NAMES[c])), "foot" if _EDGE_LIMB[i] >= 0 else "head"))
        for i, (p, c) in enumerate(_EDGES)
    ]
)
_DISTAL = {0: 1, 2: 3, 4: 5, 6: 7}  # upper arm -> forearm, thigh -> shin: a variant moves the whole limb


def _ou(rng: np.random.Generator, n: int, dt: float, tau: float, count: int) -> np.ndarray:
    """`count` Ornstein-Uhlenbeck processes of unit stationary SD on n steps of dt: (n, count)."""
    rho = np.exp(-dt / tau)
    eps = rng.standard_normal((n, count))
    out = np.empty((n, count))
    out[0] = eps[0]
    scale = np.sqrt(1 - rho**2)
    for i in range(1, n):
        out[i] = rho * out[i - 1] + scale * eps[i]
    return out


def body_height(seq: PoseSequence) -> float:
    """Median nose-to-ankle height in pixels over the frames where both are known (fallback: the frame)."""
    kp = seq.keypoints
    nose, ankles = kp[:, J["Nose"]], kp[:, [J["RAnkle"], J["LAnkle"]]]
    ok = seq.present & (nose[:, 2] > 0) & (ankles[:, :, 2] > 0).any(axis=1)
    if not ok.any():
        return float(seq.frame_size[1]) * 0.5
    lowest = np.where(ankles[ok, :, 2] > 0, ankles[ok, :, 1], -np.inf).max(axis=1)
    return float(np.median(np.abs(lowest - nose[ok, 1])))


def another_dancer(
    seq: PoseSequence, level: float, seed: int, offset_s: float = 0.0, *, differences: Differences = FITTED
) -> PoseSequence:
    """Another person dancing the routine of `seq`: see the module docstring. Deterministic for a seed.

    level: 0 exact copy, 1 a typical competent other dancer, 2 loose but recognisable, 4+ barely the routine.
    offset_s: the clip starts this many seconds later (the first pose held; negative: the start cut).
    Frames where `seq` has no dancer have none in the result. `differences`: the level-1 sizes (the fit).
    """
    d = differences
    if not np.isfinite(level) or level < 0:
        raise ValueError(f"level must be a number >= 0, not {level}")
    if len(seq) < 2:
        raise ValueError("another dancer needs a sequence of at least two frames")
    rng = np.random.default_rng(seed)
    body = min(level, 1.0)  # another body and another recording: full size from level 1 on
    t = seq.times
    dt = float(np.median(np.diff(t)))
    n_base = len(t)
    kinds, limbs = len(_KINDS), len(ARM_LEG)
    # Every random draw comes first, in one order and with shapes that do not depend on the level.
    z_prop = rng.standard_normal(kinds)
    z_amp = rng.standard_normal(limbs)
    z_style = rng.standard_normal(limbs)
    wander = _ou(rng, n_base, dt, d.style_wander_tau_s, limbs)
    global_lag = _ou(rng, n_base, dt, d.global_lag_tau_s, 1)[:, 0]
    limb_lag = _ou(rng, n_base, dt, d.limb_lag_tau_s, limbs)
    z_tempo = rng.standard_normal()
    span = float(t[-1] - t[0])
    level_cap = max(8.0, level)  # variants are drawn at the cap's rate and kept with chance level / cap
    n_events = rng.poisson(d.variant_rate_hz * level_cap * max(span, dt))
    ev_time = rng.uniform(t[0], t[-1], n_events)
    ev_keep = rng.uniform(0, level_cap, n_events) < level
    ev_limb = rng.integers(0, limbs, n_events)
    ev_deg = d.variant_deg * rng.uniform(0.7, 1.3, n_events) * rng.choice([-1.0, 1.0], n_events)
    ev_len = rng.uniform(0.6, 1.5, n_events)
    noise_seed = int(rng.integers(0, 2**63 - 1))

    # Time: output frame i at i*dt; it shows the routine at source time s.
    factor = max(0.5, 1.0 + d.tempo_sd * level * z_tempo)
    n_out = max(2, int(np.floor((span / factor + offset_s) / dt + 1e-6)) + 1)
    times = np.arange(n_out) * dt
    nominal = np.clip(t[0] + (times - offset_s) * factor, t[0], t[-1])
    src = np.clip(nominal - d.global_lag_s * level * np.interp(nominal, t, global_lag), t[0], t[-1])
    lagged = np.stack([np.interp(nominal, t, limb_lag[:, k]) for k in range(limbs)], axis=1)
    limb_src = np.clip(src[:, None] - d.limb_lag_s * level * lagged, t[0], t[-1])  # (n_out, 8)

    kp = seq.keypoints.astype(np.float64)
    # A joint is located where the dancer is present and it has a confidence or a position (some estimators
    # keep the position of a joint they are unsure of, with confidence 0: kept as it is).
    located = seq.present[:, None] & ((kp[:, :, 2] > 0) | (np.abs(kp[:, :, :2]).sum(axis=-1) > 0))
    nearest = np.clip(np.searchsorted(t, src - dt / 2), 0, n_base - 1)
    present = seq.present[nearest]
    out_conf = kp[nearest, :, 2]
    out_located = located[nearest]

    # Per-limb angle changes on the output grid (radians).
    rotation = np.zeros((n_out, limbs))
    angle_now = _base_angles(seq)  # (n_base, 8) radians, NaN unknown
    for k in range(limbs):
        ang = np.interp(limb_src[:, k], t, _unwrap_nan(angle_now[:, k]))
        mean = _circular_mean(angle_now[:, k])
        amplitude = max(-0.9, d.amplitude_sd * level * z_amp[k])
        rotation[:, k] += amplitude * _wrap(ang - mean) if np.isfinite(mean) else 0.0
        rotation[:, k] += np.radians(d.style_offset_deg * level * z_style[k])
        rotation[:, k] += np.radians(d.style_wander_deg * level) * np.interp(nominal, t, wander[:, k])
    for when, k, deg, length, keep in zip(ev_time, ev_limb, ev_deg, ev_len, ev_keep, strict=True):
        if not keep:
            continue
        phase = (nominal - when) / length
        bump = np.where(np.abs(phase) < 0.5, np.cos(np.pi * phase) ** 2, 0.0) * np.radians(deg)
        rotation[:, k] += bump
        if k in _DISTAL:
            rotation[:, _DISTAL[k]] += bump

    # Rebuild the body bone by bone from the mid-hip.
    scale = 1.0 + d.proportion_sd * body * z_prop[_EDGE_KIND]
    jitter_rng = np.random.default_rng(noise_seed)
    jitter = np.radians(d.noise_deg) * body * _ou(jitter_rng, n_out, dt, d.noise_tau_s, 2 * len(_EDGES))
    pos = np.zeros((n_out, 25, 2))
    pos[:, _ROOT] = _joint_at(kp, located, t, _ROOT, src)
    for e, (parent, child) in enumerate(_EDGES):
        limb = _EDGE_LIMB[e]
        when = limb_src[:, limb] if limb >= 0 else src
        vec = _bone_at(kp, located, t, parent, child, when)
        turn = jitter[:, e] + (rotation[:, limb] if limb >= 0 else 0.0)
        c, s = np.cos(turn), np.sin(turn)
        vec = np.stack([c * vec[:, 0] - s * vec[:, 1], s * vec[:, 0] + c * vec[:, 1]], axis=1)
        pos[:, child] = pos[:, parent] + (scale[e] * (1.0 + jitter[:, len(_EDGES) + e]))[:, None] * vec
    keypoints = np.zeros((n_out, 25, 3), dtype=np.float32)
    known = present[:, None] & out_located
    keypoints[..., :2] = np.where(known[..., None], pos, 0.0)
    keypoints[..., 2] = np.where(known, out_conf, 0.0)
    return PoseSequence(
        times, keypoints, present, seq.frame_size, seq.backend, round(n_out * dt, 6), notes=list(seq.notes)
    )


def _base_angles(seq: PoseSequence) -> np.ndarray:
    kp = seq.keypoints.astype(np.float64)
    out = np.full((len(seq), len(ARM_LEG)), np.nan)
    for k in ARM_LEG:
        _, a, b, _, _ = LIMBS[k]
        ok = seq.present & (kp[:, a, 2] > 0) & (kp[:, b, 2] > 0)
        vec = kp[:, b, :2] - kp[:, a, :2]
        out[ok, k] = np.arctan2(vec[ok, 1], vec[ok, 0])
    return out


def _unwrap_nan(angle: np.ndarray) -> np.ndarray:
    """An angle track unwrapped over its known values, gaps filled by interpolation (0 when none known)."""
    ok = np.isfinite(angle)
    if not ok.any():
        return np.zeros_like(angle)
    idx = np.arange(len(angle))
    return np.interp(idx, idx[ok], np.unwrap(angle[ok]))


def _circular_mean(angle: np.ndarray) -> float:
    ok = np.isfinite(angle)
    if not ok.any():
        return float("nan")
    return float(np.arctan2(np.sin(angle[ok]).mean(), np.cos(angle[ok]).mean()))


def _joint_at(kp: np.ndarray, located: np.ndarray, t: np.ndarray, joint: int, when: np.ndarray) -> np.ndarray:
    """A joint's position at arbitrary times, interpolated over the frames where it is located (the centre
    of the located joints where it never is)."""
    ok = located[:, joint]
    if ok.any():
        return np.stack([np.interp(when, t[ok], kp[ok, joint, c]) for c in range(2)], axis=1)
    weight = located[..., None]
    centre = (kp[..., :2] * weight).sum(axis=1) / np.maximum(weight.sum(axis=1), 1)
    return np.stack([np.interp(when, t, centre[:, c]) for c in range(2)], axis=1)


def _bone_at(
    kp: np.ndarray, located: np.ndarray, t: np.ndarray, parent: int, child: int, when: np.ndarray
) -> np.ndarray:
    """The vector parent -> child at arbitrary times, interpolated over the frames where both are located."""
    ok = located[:, parent] & located[:, child]
    if not ok.any():
        return np.zeros((len(when), 2))
    vec = kp[ok, child, :2] - kp[ok, parent, :2]
    return np.stack([np.interp(when, t[ok], vec[:, c]) for c in range(2)], axis=1)


# ------------------------------------------------------------------------------------------------------
# Simple transforms of a performance (for the agreement benchmark's copies and negatives)
# ------------------------------------------------------------------------------------------------------


def mirrored(seq: PoseSequence) -> PoseSequence:
    """The same performance seen in a mirror: x reversed in the frame, left and right joints swapped."""
    width = seq.frame_size[0]
    kp = seq.keypoints[:, list(MIRROR)].copy()
    located = np.abs(kp[..., :2]).sum(axis=-1) > 0
    kp[..., 0] = np.where(located, width - kp[..., 0], 0.0)
    return PoseSequence(seq.times, kp, seq.present, seq.frame_size, seq.backend, seq.duration, list(seq.notes))


def standing_still(seq: PoseSequence, seed: int = 0) -> PoseSequence:
    """The dancer standing upright and still through the whole clip (their tallest pose held), with
    pose-estimator jitter of 0.4% of body height."""
    kp = seq.keypoints
    tallest = np.where(seq.present, kp[:, J["RAnkle"], 1] - kp[:, J["Nose"], 1], -np.inf)
    pose = kp[int(np.argmax(tallest))].astype(np.float64)
    held = np.repeat(pose[None], len(seq), axis=0)
    located = np.abs(held[..., :2]).sum(axis=-1) > 0
    jitter = np.random.default_rng(seed).normal(0.0, 0.004 * body_height(seq), held[..., :2].shape)
    held[..., :2] = np.where(located[..., None], held[..., :2] + jitter, 0.0)
    present = np.ones(len(seq), dtype=bool)
    return PoseSequence(seq.times, held, present, seq.frame_size, seq.backend, seq.duration, list(seq.notes))
