"""Synthetic raters for calibration tests and `bench/ratings.py`: a planted truth, and members who rate it.

Attempts get comparison features named like the scorer's (`form`, `timing`, `part_*`, `tempo_dev`, ...),
drawn around a hidden skill. The planted "true" rating is a fixed function of those features that the
shipped scorer does not know (it weighs timing less, is harsher on tempo, and is not a single weighted sum).
Members rate with their own habitual offset and noise, rounded to whole points and clipped to 1-10; some
rate their own attempts (always high); a few are adversarial: one gives a friend 10 every time, another
gives a rival 1 every time.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.core.calibration import RatedAttempt, RatingRow
from bot.core.models import Caller, CommunityRef

if TYPE_CHECKING:
    from bot.core.service import CommunityService

PARTS = ("arms", "legs", "torso", "head")
FEATURES = ("form", "timing", *(f"part_{p}" for p in PARTS), "tempo_dev", "drift_s", "music_lag_s", "unsync")


def planted_truth(features: dict[str, float]) -> float:
    """The rating people would give on average (1-10): the mapping calibration has to find."""
    parts = [features[f"part_{p}"] for p in PARTS if math.isfinite(features[f"part_{p}"])]
    weakest = min(parts) if parts else features["form"]
    q = features["form"] * (0.8 + 0.2 * features["timing"]) + 0.2 * (weakest - features["form"])
    q -= 0.6 * features["tempo_dev"]
    return 1.0 + 9.0 / (1.0 + math.exp(-(q - 0.62) / 0.12))


def shipped_score(features: dict[str, float]) -> float:
    """A stand-in for the shipped scorer: a fixed final mapping from the same features."""
    quality = max(0.0, min(1.0, features["form"] * (0.5 + 0.5 * features["timing"])))

    def curve(q: float) -> float:
        return 1.0 / (1.0 + math.exp(-(q - 0.52) / 0.09))

    return 1.0 + 9.0 * (curve(quality) - curve(0.0)) / (curve(1.0) - curve(0.0))


def draw_features(rng: np.random.Generator) -> dict[str, float]:
    """One attempt's features, from a hidden skill (mostly decent dancers, a few way off or another dance)."""
    skill = float(rng.beta(2.2, 1.6))
    form = float(np.clip(skill + rng.normal(0, 0.06), 0, 1))
    features = {"form": form}
    for p in PARTS:
        features[f"part_{p}"] = float(np.clip(form + rng.normal(0, 0.08), 0, 1)) if rng.random() > 0.04 else math.nan
    features["tempo_dev"] = float(abs(rng.normal(0, 0.02 + 0.12 * (1 - skill))))
    features["drift_s"] = float(abs(rng.normal(0, 0.05 + 0.25 * (1 - skill))))
    features["music_lag_s"] = float(abs(rng.normal(0, 0.1)))
    features["unsync"] = float(np.clip(1 - skill + rng.normal(0, 0.08), 0, 1))
    timing = math.exp(
        -((features["tempo_dev"] / 0.1) ** 2)
        - (features["drift_s"] / 0.35) ** 2
        - (features["music_lag_s"] / 0.3) ** 2
        - (features["unsync"] / 0.8) ** 2
    )
    features["timing"] = float(timing)
    return features


@dataclass
class Rater:
    key: str
    bias: float  # their habitual offset, points
    noise: float  # their spread, points
    friend: str | None = None  # always 10 for this dancer
    rival: str | None = None  # always 1 for this dancer


@dataclass
class World:
    """Attempts (with features, truth and shipped score), who danced each, and the ratings given."""

    attempts: list[RatedAttempt]
    truth: dict[int, float]
    dancer: dict[int, str]
    ratings: list[RatingRow]
    raters: list[Rater] = field(default_factory=list)

    @property
    def adversaries(self) -> list[Rater]:
        return [r for r in self.raters if r.friend or r.rival]

    def without_adversarial_ratings(self) -> World:
        """The same world without the adversaries' ratings of their friend and rival (to measure what
        those ratings move)."""
        partial = {(r.key, r.friend or r.rival) for r in self.adversaries}
        kept = [r for r in self.ratings if (r.rater, r.dancer) not in partial]
        return World(self.attempts, self.truth, self.dancer, kept, self.raters)


def make_world(
    n_ratings: int,
    *,
    seed: int = 0,
    per_attempt: int = 3,
    n_members: int = 40,
    adversarial: bool = True,
    honest_instead: bool = False,
    own_share: float = 0.3,
) -> World:
    """`n_ratings` ratings from members other than the dancer, `per_attempt` on each attempt (the last one
    may have fewer).

    With `adversarial`, two members always give their friend 10 and one always gives a rival 1 (on every
    attempt of theirs, as one of its raters). `honest_instead` draws the same world with those three rating
    honestly (same attempts, same raters, same noise), to measure how far the adversaries move any score.
    """
    rng = np.random.default_rng(seed)
    members = [f"discord:{i}" for i in range(n_members)]
    raters = [Rater(m, float(rng.normal(0, 0.6)), float(rng.uniform(0.5, 1.2))) for m in members]
    if adversarial:
        raters[0].friend, raters[1].friend, raters[2].rival = members[3], members[4], members[5]
    n_attempts = max(1, math.ceil(n_ratings / per_attempt))
    attempts, truth, dancer, ratings = [], {}, {}, []
    noise = np.random.default_rng(seed + 1_000_003)  # rating noise: identical with and without adversaries
    for attempt_id in range(1, n_attempts + 1):
        features = draw_features(rng)
        who = members[3 + attempt_id % 6] if attempt_id % 5 == 0 else members[int(rng.integers(3, n_members))]
        shipped = shipped_score(features)
        attempts.append(RatedAttempt(attempt_id, features, shipped, shipped))
        truth[attempt_id] = planted_truth(features)
        dancer[attempt_id] = who
        others = [r for r in raters if r.key != who]
        fans = [r for r in others if who in (r.friend, r.rival)]
        chosen = fans[:per_attempt]
        pool = [r for r in others if r not in chosen]
        picks = rng.choice(len(pool), size=per_attempt - len(chosen), replace=False)
        chosen += [pool[int(i)] for i in picks]
        for r in chosen:
            honest = truth[attempt_id] + r.bias + noise.normal(0, r.noise)
            value = float(np.clip(round(honest), 1, 10))
            if not honest_instead and r.friend == who:
                value = 10.0
            elif not honest_instead and r.rival == who:
                value = 1.0
            ratings.append(RatingRow(attempt_id, r.key, value, dancer=who))
        if rng.random() < own_share:
            ratings.append(RatingRow(attempt_id, who, float(rng.choice([9, 10])), dancer=who, own=True))
    others = [i for i, r in enumerate(ratings) if not r.own]
    surplus = set(others[n_ratings:])  # exactly n_ratings from members other than the dancer
    ratings = [r for i, r in enumerate(ratings) if i not in surplus]
    return World(attempts, truth, dancer, ratings, raters)


def fresh_attempts(n: int, seed: int = 99) -> tuple[list[RatedAttempt], np.ndarray]:
    """Attempts no one rated, with their planted truth: where a calibration is judged."""
    rng = np.random.default_rng(seed)
    features = [draw_features(rng) for _ in range(n)]
    attempts = [RatedAttempt(-(i + 1), f, shipped_score(f), shipped_score(f)) for i, f in enumerate(features)]
    return attempts, np.array([planted_truth(f) for f in features])


async def load_world(
    world: World,
    service: CommunityService,
    where: CommunityRef,
    dance: str,
    *,
    around: Callable[[int, bool], Awaitable[None]] | None = None,
) -> dict[int, int]:
    """Play a world into a community: each attempt submitted by its dancer (a scripted video carrying its
    base score and features, for `bot.gateways.scripted.ScriptedEngine`), then every rating given through the
    rating service. `around(n, before)` runs before and after attempt n. Returns {world id: attempt id}."""
    ratings = service.ratings
    assert ratings is not None
    member = {key: Caller(*key.split(":"), display_name=f"Member {key.split(':')[1]}") for key in _keys(world)}
    ids: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        for a in world.attempts:
            video = Path(folder) / f"{a.attempt_id}.txt"
            features = " ".join(f"feature.{k}={v!r}" for k, v in a.features.items())
            video.write_text(f"score={a.base_score!r} take={a.attempt_id} {features}\n")
            if around is not None:
                await around(a.attempt_id, True)
            scored = await service.submit_attempt(member[world.dancer[a.attempt_id]], where, dance, video)
            ids[a.attempt_id] = scored.attempt.id
            if around is not None:
                await around(a.attempt_id, False)
    for r in world.ratings:
        await ratings.rate(member[r.rater], where, ids[r.attempt_id], int(r.value))
    return ids


def _keys(world: World) -> set[str]:
    return {*world.dancer.values(), *(r.rater for r in world.ratings)}
