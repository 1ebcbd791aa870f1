"""Calibration from members' ratings: how ratings are combined, and what a fit on synthetic raters achieves.

The synthetic raters (`tests/fakes/raters.py`) rate a planted truth the shipped scorer does not know, with
offsets, noise, own ratings and adversaries; the figures for several sizes are in docs/benchmarks.md
(`bench/ratings.py`). Here: the targets at 300 ratings on one world, and the refusals.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bot.core.calibration import (
    CalibrationPolicy,
    RatedAttempt,
    RatingRow,
    cross_validate,
    feature_matrix,
    find_consensus,
    weighted_median,
)
from models.calibration import MonotoneCalibration, spearman
from tests.fakes.raters import fresh_attempts, make_world


def rows(attempt: int, *values: float, dancer: str = "d") -> list[RatingRow]:
    return [RatingRow(attempt, f"r{attempt}-{i}", v, dancer=dancer) for i, v in enumerate(values)]


def test_an_attempts_target_is_the_median_of_its_raters() -> None:
    consensus = find_consensus(rows(1, 4, 5, 8) + rows(2, 6, 8))
    assert consensus.attempt_ids == [1, 2]
    assert consensus.target.tolist() == pytest.approx([5.0, 7.0], abs=0.35)  # offsets move it a little at most
    assert weighted_median([4, 5, 8], [1, 1, 1]) == 5 and weighted_median([6, 8], [1, 1]) == 7


def test_the_dancers_own_rating_is_never_used() -> None:
    honest = rows(1, 4, 4, 5, dancer="ana")
    consensus = find_consensus([*honest, RatingRow(1, "ana", 10, dancer="ana", own=True)])
    assert consensus.own_ratings == 1 and consensus.used_ratings == 3
    assert consensus.target[0] == pytest.approx(4.0, abs=0.35)


def test_a_friend_who_always_gives_10_is_left_out_on_that_dancer_only() -> None:
    ratings = []
    for attempt in range(1, 5):  # four attempts by "ana", honest raters around 4, the friend always 10
        ratings += [*rows(attempt, 4, 5, 4, dancer="ana"), RatingRow(attempt, "friend", 10, dancer="ana")]
    ratings += [RatingRow(9, "friend", 6, dancer="bo"), *rows(9, 6, 7, 5, dancer="bo")]  # honest on others
    consensus = find_consensus(ratings)
    assert consensus.partial_ratings == 4
    targets = dict(zip(consensus.attempt_ids, consensus.target, strict=True))
    assert all(targets[a] == pytest.approx(4.0, abs=0.35) for a in range(1, 5))
    assert targets[9] == pytest.approx(6.0, abs=0.35)


def test_a_prolific_rater_weighs_no_more_than_the_cap() -> None:
    ratings = [RatingRow(a, "busy", 1, dancer=f"d{a}") for a in range(100)]
    ratings += [RatingRow(a, f"r{a}", 8, dancer=f"d{a}") for a in range(100)]
    consensus = find_consensus(ratings, CalibrationPolicy(rater_cap=25))
    assert consensus.capped_raters == 1
    assert min(consensus.target) >= 7.0  # one 1 at weight 0.25 against one 8 at weight 1: pulled a little
    uncapped = find_consensus(ratings, CalibrationPolicy(rater_cap=1000))
    assert max(uncapped.target) <= 6.0  # without the cap the busy rater would pull every score down 2 points


def test_at_300_ratings_the_calibration_finds_the_planted_truth() -> None:
    world = make_world(300, seed=0)
    report = cross_validate(world.attempts, world.ratings)
    assert report.accepted, report.reason
    unrated, truth = fresh_attempts(1000)
    predicted = predict(report.model, report.feature_names, unrated)
    assert np.abs(predicted - truth).mean() <= 0.5
    assert spearman(torch.from_numpy(predicted), torch.from_numpy(truth)) >= 0.9
    assert predicted.std() >= 0.8 * truth.std()  # no collapse to the middle
    shipped = np.array([a.base_score for a in unrated])
    assert np.abs(predicted - truth).mean() < np.abs(shipped - truth).mean()  # and it beats the shipped scorer

    # The adversaries (a friend's 10s, a rival's 1s) move no score by more than 0.3.
    clean = cross_validate(world.attempts, world.without_adversarial_ratings().ratings)
    for attempts in (world.attempts, unrated):
        moved = predict(report.model, report.feature_names, attempts) - predict(
            clean.model, clean.feature_names, attempts
        )
        assert np.abs(moved).max() <= 0.3


def test_it_refuses_with_20_ratings_and_says_why() -> None:
    world = make_world(20, seed=1)
    report = cross_validate(world.attempts, world.ratings)
    assert not report.accepted and report.model is None
    assert report.reason == "Only 20 ratings from members other than the dancer; a calibration needs at least 100."


def test_it_refuses_what_does_not_beat_the_scorer_in_use() -> None:
    # The members rate exactly what the scorer in use says: nothing to gain, so nothing is written.
    world = make_world(300, seed=2)
    same = [RatedAttempt(a.attempt_id, a.features, a.base_score, a.base_score) for a in world.attempts]
    scores = {a.attempt_id: a.base_score for a in same}
    ratings = [RatingRow(r.attempt_id, r.rater, round(scores[r.attempt_id]), r.dancer, r.own) for r in world.ratings]
    report = cross_validate(same, ratings)
    assert report.model is not None and not report.accepted
    assert report.reason.startswith("On held-out ratings its MAE")


def test_a_saved_model_predicts_the_same_after_a_round_trip() -> None:
    world = make_world(120, seed=3)
    report = cross_validate(world.attempts, world.ratings)
    assert report.model is not None
    again = MonotoneCalibration.from_state(report.model.to_state())
    x = torch.from_numpy(feature_matrix([a.inputs() for a in world.attempts], report.feature_names))
    assert torch.allclose(again.predict(x), report.model.predict(x))
    with pytest.raises(ValueError, match="not a calibration model"):
        MonotoneCalibration.from_state({"shift": [1.0]})


def predict(model: MonotoneCalibration | None, names: list[str], attempts: list[RatedAttempt]) -> np.ndarray:
    assert model is not None
    x = torch.from_numpy(feature_matrix([a.inputs() for a in attempts], names))
    with torch.no_grad():
        return model.predict(x).numpy()
