"""From members' ratings to a calibration: who agrees on what, a cross-validated fit, and whether it is better.

1. **Consensus** (`find_consensus`): the dancer's own ratings are dropped; a rater far from everyone else
   on one dancer (a friend's 10s, a rival's 1s) is left out on that dancer; each rater's weight is capped (a
   member who rated 200 attempts counts like `rater_cap` ratings, spread over them), and the ratings one
   rater gives one dancer share their weight (by the square root of their number); each rater's habitual
   offset (always half a point kind, say) is estimated against the others and taken off, shrunk towards 0
   for raters with few ratings; an attempt's target is the (interpolated) weighted median of its ratings, so
   one friend's 10 or one rival's 1 among several honest ratings barely moves it.
2. **Cross-validation** (`cross_validate`): the rated attempts are split into k folds; k models (each
   blind to one fold) and the final model (on everything) are fitted as one batch; every attempt is then
   predicted by the model that never saw its ratings. The current scorer is measured on the same targets.
3. **Decision**: a calibration is accepted only with enough ratings behind it and when it beats the current
   scorer on held-out ratings (lower MAE by a margin, Spearman not worse); otherwise the report says why.

Features are named floats (`ScoreResult.features`); nothing here knows what they mean, so the scorer can
change its features and this still applies (a calibration records the names and the base version).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from models.calibration import FitSettings, MonotoneCalibration

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RatingRow:
    """One member's rating of one attempt. `rater` and `dancer` are `platform:user_id`; `own`: the dancer
    rated themself."""

    attempt_id: int
    rater: str
    value: float
    dancer: str = ""
    own: bool = False


ANCHOR = "base_score"  # the base scorer's own score: the calibration's first input (see models.calibration.fit)


@dataclass(frozen=True)
class RatedAttempt:
    """An attempt as calibration sees it: its features and base score (what a calibration maps from), and
    the score the community's current scorer gives it (what a calibration must beat)."""

    attempt_id: int
    features: dict[str, float]
    base_score: float
    current_score: float

    def inputs(self) -> dict[str, float]:
        """The named inputs of a calibration: the base score, then the comparison features."""
        return {ANCHOR: self.base_score, **self.features}


@dataclass(frozen=True)
class Consensus:
    """Per attempt (aligned arrays): the agreed rating, how much it counts, and how many raters it has."""

    attempt_ids: list[int]
    target: np.ndarray  # (N,) float64, 1-10
    weight: np.ndarray  # (N,) float64 > 0: the capped weight of its raters (more raters: more trust)
    raters: np.ndarray  # (N,) int64
    used_ratings: int  # ratings from members other than the dancer
    own_ratings: int  # the dancers' ratings of their own attempts (never used)
    partial_ratings: int  # ratings left out as partial (a rater far from everyone else on one dancer)
    rater_count: int
    capped_raters: int  # raters whose weight the cap reduced


@dataclass(frozen=True)
class CalibrationPolicy:
    """When a calibration may be written, and how the ratings are combined."""

    min_ratings: int = 100  # ratings from members other than the dancer
    min_attempts: int = 30  # distinct rated attempts
    folds: int = 5
    mae_margin: float = 0.05  # held-out MAE must be at least this much lower than the current scorer's
    spearman_slack: float = 0.02  # held-out Spearman may be at most this much lower than the current one's
    rater_cap: float = 25.0  # a rater's ratings weigh as much as this many ratings at most, all together
    bias_shrink: float = 5.0  # a rater's offset is shrunk by n / (n + this)
    partial_gap: float = 2.5  # points: a rater this far from the others on one dancer (median) is left out there


@dataclass(frozen=True)
class HeldOut:
    """How a scorer did on held-out ratings."""

    mae: float
    spearman: float
    spread: float  # standard deviation of its predictions


@dataclass
class CalibrationReport:
    """What `cross_validate` found. `accepted` says whether the calibration should be written; `reason` why."""

    accepted: bool
    reason: str
    feature_names: list[str]
    consensus: Consensus | None = None
    left_out: dict[str, int] = field(default_factory=dict)  # why rated attempts were not used, and how many
    calibration: HeldOut | None = None
    current: HeldOut | None = None
    target_spread: float = float("nan")
    model: MonotoneCalibration | None = None  # k fold fits + the fit on all the data; predicts their mean


def find_consensus(
    rows: Sequence[RatingRow], policy: CalibrationPolicy | None = None, *, attempts: Sequence[int] | None = None
) -> Consensus:
    """Combine ratings into one target per attempt (see the module docstring); `attempts` limits which count."""
    policy = policy or CalibrationPolicy()
    allowed = None if attempts is None else set(attempts)
    own = sum(1 for r in rows if r.own)
    used = [r for r in rows if not r.own and (allowed is None or r.attempt_id in allowed)]
    partial = find_partial_raters(used, policy.partial_gap)
    kept = [r for r in used if (r.rater, r.dancer) not in partial]
    per_rater: dict[str, int] = defaultdict(int)
    for r in kept:
        per_rater[r.rater] += 1
    per_pair: dict[tuple[str, str], int] = defaultdict(int)
    for r in kept:
        per_pair[(r.rater, r.dancer)] += 1
    rater_weight = {k: min(1.0, policy.rater_cap / n) for k, n in per_rater.items()}

    def weight_of(r: RatingRow) -> float:
        """Capped per rater, and shared among the ratings a rater gives one dancer (by the square root)."""
        return rater_weight[r.rater] / math.sqrt(per_pair[(r.rater, r.dancer)])

    by_attempt = _group_by_attempt(kept)
    ids = sorted(by_attempt)

    def medians(offset: dict[str, float]) -> dict[int, float]:
        return {
            a: weighted_median(
                [r.value - offset.get(r.rater, 0.0) for r in by_attempt[a]],
                [weight_of(r) for r in by_attempt[a]],
            )
            for a in ids
        }

    first = medians({})
    gaps: dict[str, list[float]] = defaultdict(list)
    for a in ids:
        if len(by_attempt[a]) >= 2:
            for r in by_attempt[a]:
                gaps[r.rater].append(r.value - first[a])
    offset = {k: float(np.median(g)) * len(g) / (len(g) + policy.bias_shrink) for k, g in gaps.items()}
    target = medians(offset)
    weight = [sum(weight_of(r) for r in by_attempt[a]) for a in ids]
    return Consensus(
        attempt_ids=ids,
        target=np.clip(np.array([target[a] for a in ids], dtype=np.float64), 1.0, 10.0),
        weight=np.array(weight, dtype=np.float64),
        raters=np.array([len(by_attempt[a]) for a in ids], dtype=np.int64),
        used_ratings=len(used),
        own_ratings=own,
        partial_ratings=len(used) - len(kept),
        rater_count=len(per_rater),
        capped_raters=sum(1 for n in per_rater.values() if n > policy.rater_cap),
    )


def find_partial_raters(rows: Sequence[RatingRow], gap: float) -> set[tuple[str, str]]:
    """(rater, dancer) pairs where the rater's ratings of that dancer sit, in the median, at least `gap`
    points from the median rating of the same attempts (`gap` + 1.5 when there is only one such rating, as
    honest raters disagree that much now and then): a friend's 10s, a rival's 1s. Attempts with fewer than
    three ratings say nothing about who is partial."""
    gaps: dict[tuple[str, str], list[float]] = defaultdict(list)
    for ratings in _group_by_attempt(rows).values():
        if len(ratings) < 3:
            continue
        middle = float(np.median([r.value for r in ratings]))
        for r in ratings:
            gaps[(r.rater, r.dancer)].append(r.value - middle)
    return {pair for pair, g in gaps.items() if abs(float(np.median(g))) >= gap + (1.5 if len(g) == 1 else 0.0)}


def _group_by_attempt(rows: Sequence[RatingRow]) -> dict[int, list[RatingRow]]:
    grouped: dict[int, list[RatingRow]] = defaultdict(list)
    for r in rows:
        grouped[r.attempt_id].append(r)
    return grouped


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The weighted median, interpolated: each value stands at the middle of its share of the weight, and the
    median is read at half the weight. With equal weights it is the plain median (the mean of the two middle
    values for an even count); a value with little weight pulls it only a little, not all the way."""
    order = np.argsort(values, kind="stable")
    v = np.asarray(values, dtype=np.float64)[order]
    w = np.asarray(weights, dtype=np.float64)[order]
    position = (np.cumsum(w) - w / 2) / w.sum()
    return float(np.interp(0.5, position, v))


def feature_matrix(inputs: Sequence[dict[str, float]], names: Sequence[str]) -> np.ndarray:
    """(N, F) float32 in `names` order, NaN where an attempt lacks a feature."""
    return np.array([[float(row.get(n, float("nan"))) for n in names] for row in inputs], dtype=np.float32).reshape(
        len(inputs), len(names)
    )


def choose_feature_names(attempts: Sequence[RatedAttempt]) -> list[str]:
    """The base score, then the features at least half the attempts have, sorted (so a feature the scorer
    dropped falls away)."""
    counts: dict[str, int] = defaultdict(int)
    for a in attempts:
        for name, value in a.features.items():
            if isinstance(value, int | float) and name != ANCHOR:
                counts[name] += 1
    return [ANCHOR, *sorted(n for n, c in counts.items() if c * 2 >= len(attempts))]


def cross_validate(
    attempts: Sequence[RatedAttempt],
    rows: Sequence[RatingRow],
    policy: CalibrationPolicy | None = None,
    *,
    fit_settings: FitSettings | None = None,
    device: str = "cpu",
    seed: int = 0,
) -> CalibrationReport:
    """Fit a calibration on the ratings of `attempts`, measure it against the current scorer on held-out
    ratings, and decide whether it should be written (see the module docstring)."""
    import torch

    from models.calibration import FitSettings, fit, spearman

    policy = policy or CalibrationPolicy()
    with_features = [a for a in attempts if a.features]
    names = choose_feature_names(with_features)
    rated = {r.attempt_id for r in rows if not r.own}
    left_out = {"no stored features": sum(1 for a in attempts if not a.features and a.attempt_id in rated)}
    consensus = find_consensus(rows, policy, attempts=[a.attempt_id for a in with_features])
    report = CalibrationReport(False, "", names, consensus, {k: v for k, v in left_out.items() if v})
    if consensus.used_ratings < policy.min_ratings:
        report.reason = (
            f"Only {consensus.used_ratings} ratings from members other than the dancer; "
            f"a calibration needs at least {policy.min_ratings}."
        )
        return report
    if len(consensus.attempt_ids) < max(policy.min_attempts, policy.folds):
        report.reason = (
            f"Only {len(consensus.attempt_ids)} attempts are rated; a calibration needs at least "
            f"{max(policy.min_attempts, policy.folds)}."
        )
        return report
    index = {a.attempt_id: a for a in with_features}
    chosen = [index[i] for i in consensus.attempt_ids]
    n, k = len(chosen), policy.folds
    fold = np.random.default_rng(seed).permutation(n) % k
    weight = np.tile(consensus.weight, (k + 1, 1))
    for f in range(k):
        weight[f, fold == f] = 0.0
    torch_device = torch.device(device)
    x = torch.from_numpy(feature_matrix([a.inputs() for a in chosen], names)).to(torch_device)
    y = torch.from_numpy(consensus.target.astype(np.float32)).to(torch_device)
    settings = fit_settings or FitSettings(seed=seed)
    models = fit(x, y, torch.from_numpy(weight.astype(np.float32)).to(torch_device), settings, anchor=0)
    with torch.no_grad():
        predictions = models(x)  # (k + 1, N)
    held = predictions[torch.from_numpy(fold).to(torch_device), torch.arange(n, device=torch_device)].cpu()
    current = torch.tensor([a.current_score for a in chosen], dtype=torch.float32)
    target = y.cpu()
    report.calibration = HeldOut(
        float((held - target).abs().mean()), spearman(held, target), float(held.std(unbiased=False))
    )
    report.current = HeldOut(
        float((current - target).abs().mean()), spearman(current, target), float(current.std(unbiased=False))
    )
    report.target_spread = float(target.std(unbiased=False))
    report.model = models.cpu()  # the bag: the k fold fits and the fit on everything
    new, old = report.calibration, report.current
    if not new.mae <= old.mae - policy.mae_margin:
        report.reason = (
            f"On held-out ratings its MAE ({new.mae:.2f}) is not at least {policy.mae_margin:.2f} below the "
            f"current scorer's ({old.mae:.2f})."
        )
    elif math.isfinite(old.spearman) and not new.spearman >= old.spearman - policy.spearman_slack:
        report.reason = (
            f"On held-out ratings it ranks attempts worse than the current scorer "
            f"(Spearman {new.spearman:.2f} against {old.spearman:.2f})."
        )
    else:
        report.accepted = True
        report.reason = (
            f"It beats the current scorer on held-out ratings: MAE {new.mae:.2f} against {old.mae:.2f}, "
            f"Spearman {new.spearman:.2f} against {old.spearman:.2f}."
        )
    return report
