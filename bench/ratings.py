"""Calibration benchmark: synthetic raters with a planted truth; how close does a calibration get?

    .venv/bin/python bench/ratings.py                  # 50, 100, 300, 1000 ratings, 5 worlds each, CPU
    .venv/bin/python bench/ratings.py --device cuda    # the same fits on a GPU
    .venv/bin/python bench/ratings.py --sizes 300 --seeds 20

Each world (`tests/fakes/raters.py`) has attempts with comparison features, a planted "true" rating that the
shipped scorer does not know, about 40 members rating each attempt three times over (their own offset and
noise, whole points, 1-10), dancers rating their own attempts (never used), and three adversarial members
(two always give a friend 10, one always gives a rival 1). For each size, `dancescore calibrate`'s own
routine (`bot.core.calibration.cross_validate`) fits a calibration; it is then judged against the planted
truth on 2000 attempts nobody rated: MAE, Spearman, and the spread of its predictions (standard deviation
over the truth's). "adversaries" is how far the adversaries' ratings move any score: the largest change of
a calibrated score (over the rated attempts and the 2000 unrated ones) between the world and the same world
without those ratings. "accepted" counts the worlds in which calibrate would write the file (enough ratings,
and it beat the shipped scorer on held-out ratings); below the minimum the same fit is measured anyway.
"fit s" is the time of calibrate's cross-validated fit. Medians over the worlds, worst in brackets.
Targets: at 300 ratings MAE <= 0.5, Spearman >= 0.9, spread >= 0.8, adversaries <= 0.3; with 20 ratings it
refuses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.calibration import (
    CalibrationPolicy,
    CalibrationReport,
    RatedAttempt,
    cross_validate,
    feature_matrix,
)
from models.calibration import spearman
from tests.fakes.raters import fresh_attempts, make_world


def predict(report: CalibrationReport, attempts: list[RatedAttempt]) -> np.ndarray:
    assert report.model is not None
    x = torch.from_numpy(feature_matrix([a.inputs() for a in attempts], report.feature_names))
    with torch.no_grad():
        return report.model.predict(x).numpy()


def measure(n: int, seed: int, unrated: list[RatedAttempt], truth: np.ndarray, device: str) -> dict[str, float]:
    world = make_world(n, seed=seed)
    started = time.perf_counter()
    decision = cross_validate(world.attempts, world.ratings, device=device, seed=seed)
    seconds = time.perf_counter() - started
    # Under the minimum calibrate writes nothing; the same fit is still made here, to show what it would do.
    # The fit without the adversaries' ratings is a measuring stick, so it is always made.
    anyway = CalibrationPolicy(min_ratings=0, min_attempts=0)
    report = (
        decision if decision.model is not None else cross_validate(world.attempts, world.ratings, anyway, seed=seed)
    )
    clean = cross_validate(
        world.attempts, world.without_adversarial_ratings().ratings, anyway, device=device, seed=seed
    )
    assert report.model is not None and clean.model is not None
    calibrated = predict(report, unrated)
    moved = max(
        float(np.abs(predict(report, world.attempts) - predict(clean, world.attempts)).max()),
        float(np.abs(calibrated - predict(clean, unrated)).max()),
    )
    assert report.calibration is not None and report.current is not None
    return {
        "mae": float(np.abs(calibrated - truth).mean()),
        "spearman": spearman(torch.from_numpy(calibrated), torch.from_numpy(truth)),
        "spread": float(calibrated.std() / truth.std()),
        "moved": moved,
        "cv_mae": report.calibration.mae,
        "cv_shipped_mae": report.current.mae,
        "accepted": float(decision.accepted),
        "too_few": float(decision.model is None),
        "attempts": float(len(report.consensus.attempt_ids) if report.consensus else 0),
        "seconds": seconds,
    }


def summarise(rows: list[dict[str, float]], key: str, worst: str) -> str:
    values = [r[key] for r in rows]
    bad = max(values) if worst == "max" else min(values)
    return f"{statistics.median(values):.2f} ({bad:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 300, 1000])
    parser.add_argument("--seeds", type=int, default=5, help="worlds per size")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the fits are small: 1 is fastest)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    unrated, truth = fresh_attempts(2000)
    print(f"device {args.device}, {args.threads} CPU thread(s), {args.seeds} worlds per size; 2000 unrated attempts")
    print()
    print(
        "| ratings | attempts | MAE vs truth | Spearman | spread | adversaries "
        "| held-out MAE: calibration / shipped | accepted | fit s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        fitted = [measure(n, seed, unrated, truth, args.device) for seed in range(args.seeds)]
        too_few = " (too few ratings)" if all(r["too_few"] for r in fitted) else ""
        print(
            f"| {n} | {statistics.median(r['attempts'] for r in fitted):.0f} "
            f"| {summarise(fitted, 'mae', 'max')} | {summarise(fitted, 'spearman', 'min')} "
            f"| {summarise(fitted, 'spread', 'min')} | {summarise(fitted, 'moved', 'max')} "
            f"| {statistics.median(r['cv_mae'] for r in fitted):.2f} / "
            f"{statistics.median(r['cv_shipped_mae'] for r in fitted):.2f} "
            f"| {sum(r['accepted'] for r in fitted):.0f} of {len(fitted)}{too_few} "
            f"| {'-' if too_few else format(statistics.median(r['seconds'] for r in fitted), '.2f')} |"
        )
    print()
    shipped = np.array([a.base_score for a in unrated])
    print(f"shipped scorer against the truth on the unrated attempts: MAE {np.abs(shipped - truth).mean():.2f}")
    small = make_world(20, seed=0)
    refusal = cross_validate(small.attempts, small.ratings, device=args.device)
    print(f"with 20 ratings: {'refused' if refusal.model is None else 'FITTED'}: {refusal.reason}")


if __name__ == "__main__":
    main()
