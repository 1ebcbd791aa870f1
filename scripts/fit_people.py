"""Fit `bench.people`'s model of how people differ to real cross-person pairs of the same routine.

1. Measures the real pairs' limb direction errors (`bench.people.limb_errors`: the 8 arm and leg limbs, after
   the best constant lag and mirror; p50/p75/p90 in degrees): s1-s6 of ../shared/media/dev-only-2/README.md
   and feelreal_a / feelreal_b of ../shared/media/dev-only. Poses are the engine's (MediaPipe on the CPU, every
   frame up to 30 fps), extracted once into the pose store (`bench.pose_store`, default /work/notes/cache).
2. Generates "another dancer" from each shipped keypoint file (tests/data/keypoints: the squat and the four
   AIST++ dances) with a few seeds, and measures it against its base the same way.
3. Keypoint noise (another recording, another estimation) is set apart, from the one pair that shows it
   alone: t1, the AIST++ d06 performance as MediaPipe sees it in the video against its AIST++ annotations
   (same dancer, same moment, two pose estimations). The bones' angular jitter is the one whose noise-only
   generator matches t1's p50 and p75 best.
4. Timing (global lag, limb lag, tempo; one multiplier of the starting values) from how much the real
   pairs' local lag wanders: `bench.people.local_lags` finds each moving 2 s window's own lag about the
   constant one; its robust SD, median over the real pairs with at least 5 such windows (the punches are
   too short, the ballet too), is matched by the generator at level 1 (median over bases and seeds).
5. Style (amplitude, constant offset and wander; one multiplier) so that the generator's quantiles (median
   over bases and seeds) at level 1 sit in the middle of the real pairs' range and at level 2 at its upper
   end (least squares on log ratios). Variants (brief excursions of one limb, about 1% of limb moments) and
   body proportions (they change no limb direction) do not move these quantiles: they keep their starting
   values.

    .venv/bin/python scripts/fit_people.py [--media ../shared/media] [--cache /work/notes/cache]

Prints the measured pairs, the best multipliers, the fitted `Differences(...)` and the generator's quantiles
per level, to be copied into bench/people.py.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.people import Differences, another_dancer, limb_errors, local_lags, robust_sd  # noqa: E402
from bench.pose_store import PoseStore  # noqa: E402
from engine.sequence import PoseSequence  # noqa: E402

REAL_PAIRS = (
    ("s1", "dev-only-2/punch_ref_man_office.mp4", "dev-only-2/punch_woman_blue.mp4"),
    ("s2", "dev-only-2/punch_ref_man_office.mp4", "dev-only-2/punch_man_livingroom.mp4"),
    ("s3", "dev-only-2/punch_woman_blue.mp4", "dev-only-2/punch_man_livingroom.mp4"),
    ("s4", "dev-only-2/armdance_ref_woman_grey.mp4", "dev-only-2/armdance_girl_a.mp4"),
    ("s5", "dev-only-2/armdance_ref_woman_grey.mp4", "dev-only-2/armdance_girl_b.mp4"),
    ("s6", "dev-only-2/ballet_a.mp4", "dev-only-2/ballet_b.mp4"),
    ("feelreal", "dev-only/feelreal_a.mp4", "dev-only/feelreal_b.mp4"),
)
BASES = ("squat_reference", "aist_break_basic_d04", "aist_break_basic_d06", "aist_jazz_basic_d03", "aist_jazz_free_d02")
SEEDS = (0, 1, 2)
KEYS = ("p50", "p75", "p90")
START = Differences(
    proportion_sd=0.05, amplitude_sd=0.2, style_offset_deg=8.0, style_wander_deg=6.0, style_wander_tau_s=2.0,
    global_lag_s=0.08, global_lag_tau_s=1.5, limb_lag_s=0.08, limb_lag_tau_s=1.0, tempo_sd=0.02,
    variant_rate_hz=0.12, variant_deg=70.0, noise_deg=6.0, noise_tau_s=0.1,
)  # fmt: skip
T1 = ("dev-only-2/aist_gBR_sBM_c01_d06_mBR2_ch06_overlay.mp4", ROOT / "tests/data/keypoints/aist_break_basic_d06.npz")
NOISE_DEGREES = (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0)
STYLE = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.6, 1.8)
TIMING = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
MIN_WINDOWS = 5
NOTHING = replace(
    START, amplitude_sd=0.0, style_offset_deg=0.0, style_wander_deg=0.0, global_lag_s=0.0, limb_lag_s=0.0,
    tempo_sd=0.0, variant_rate_hz=0.0,
)  # fmt: skip


def scaled(style: float, timing: float, noise_deg: float) -> Differences:
    return replace(
        START,
        amplitude_sd=START.amplitude_sd * style,
        style_offset_deg=START.style_offset_deg * style,
        style_wander_deg=START.style_wander_deg * style,
        global_lag_s=START.global_lag_s * timing,
        limb_lag_s=START.limb_lag_s * timing,
        tempo_sd=START.tempo_sd * timing,
        noise_deg=noise_deg,
    )


def generated(bases: dict[str, PoseSequence], differences: Differences, level: float) -> dict[str, float]:
    """The generator's quantiles at `level`: the median over bases and seeds of each."""
    found = [
        limb_errors(seq, another_dancer(seq, level, seed, differences=differences)).quantiles()
        for seq in bases.values()
        for seed in SEEDS
    ]
    return {k: float(np.median([q[k] for q in found])) for k in KEYS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media")
    parser.add_argument("--cache", type=Path, default=Path("/work/notes/cache"))
    args = parser.parse_args(argv)
    store = PoseStore(args.cache)

    print("real pairs of the same routine (deg)     p50    p75    p90   lag s  mirrored  local lag SD s (windows)")
    real, jitter = {}, []
    for pid, ref, att in REAL_PAIRS:
        a, b = PoseSequence.load(store.poses(args.media / ref)), PoseSequence.load(store.poses(args.media / att))
        errors = limb_errors(a, b)
        lags = local_lags(a, b)
        if len(lags) >= MIN_WINDOWS:
            jitter.append(robust_sd(lags))
        real[pid] = q = errors.quantiles()
        print(f"{pid:8} {Path(ref).stem:24} {Path(att).stem:22} {q['p50']:6.1f} {q['p75']:6.1f} {q['p90']:6.1f} "
              f"{errors.lag_s:+6.1f}  {errors.mirrored!s:8}  {robust_sd(lags):.3f} ({len(lags)})")  # fmt: skip
    real_jitter = float(np.median(jitter))
    print(f"local lag SD, median over the {len(jitter)} pairs with >= {MIN_WINDOWS} windows: {real_jitter:.3f} s")
    lo = {k: min(q[k] for q in real.values()) for k in KEYS}
    hi = {k: max(q[k] for q in real.values()) for k in KEYS}
    mid = {k: (lo[k] + hi[k]) / 2 for k in KEYS}
    print("range: " + "  ".join(f"{k} {lo[k]:.1f}-{hi[k]:.1f} (middle {mid[k]:.1f})" for k in KEYS))

    bases = {name: PoseSequence.load(ROOT / "tests" / "data" / "keypoints" / f"{name}.npz") for name in BASES}
    video, annotated = T1
    floor = limb_errors(PoseSequence.load(annotated), PoseSequence.load(store.poses(args.media / video))).quantiles()
    print("t1 (MediaPipe on the video vs the AIST++ annotations): "
          + "  ".join(f"{k} {floor[k]:.1f}" for k in KEYS))  # fmt: skip
    noise_only = {f: generated(bases, replace(NOTHING, noise_deg=f), 1.0) for f in NOISE_DEGREES}
    noise = min(NOISE_DEGREES, key=lambda f: sum(np.log(noise_only[f][k] / floor[k]) ** 2 for k in ("p50", "p75")))
    g = noise_only[noise]
    print(f"bone jitter {noise} deg: noise alone gives " + "  ".join(f"{k} {g[k]:.1f}" for k in KEYS))
    timing_sd = {}
    for timing in TIMING:
        d = scaled(1.0, timing, noise)
        timing_sd[timing] = float(
            np.median([robust_sd(local_lags(q, another_dancer(q, 1.0, seed, differences=d))) for q in bases.values()
                       for seed in SEEDS])
        )  # fmt: skip
    timing = min(TIMING, key=lambda m: abs(np.log(timing_sd[m] / real_jitter)))
    print("generated local lag SD by timing multiplier: "
          + "  ".join(f"{m} {v:.3f}" for m, v in timing_sd.items()) + f" -> {timing}")  # fmt: skip
    best: tuple[float, tuple[float, float, float]] | None = None
    for style in STYLE:
        combo = (style, timing, noise)
        d = scaled(*combo)
        g1, g2 = generated(bases, d, 1.0), generated(bases, d, 2.0)
        loss = sum(np.log(g1[k] / mid[k]) ** 2 + np.log(g2[k] / hi[k]) ** 2 for k in KEYS)
        print(f"  style {style}: level 1 " + " ".join(f"{g1[k]:5.1f}" for k in KEYS)
              + "  level 2 " + " ".join(f"{g2[k]:5.1f}" for k in KEYS) + f"  loss {loss:.3f}")  # fmt: skip
        if best is None or loss < best[0]:
            best = (loss, combo)
    assert best is not None
    loss, combo = best
    fitted = scaled(*combo)
    print(f"best multipliers style {combo[0]}, timing {combo[1]} (loss {loss:.3f})")
    print("Differences(" + ", ".join(f"{f.name}={getattr(fitted, f.name):.4g}" for f in fields(fitted)) + ")")
    print("level    p50    p75    p90   (median over 5 bases x 3 seeds)")
    for level in (0.5, 1.0, 1.5, 2.0, 4.0):
        g = generated(bases, fitted, level)
        print(f"{level:5.1f} {g['p50']:6.1f} {g['p75']:6.1f} {g['p90']:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
