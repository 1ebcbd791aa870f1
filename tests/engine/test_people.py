"""The model of how people differ (bench.people): another dancer of a shipped routine must differ from it as
much as real people dancing the same routine differ, more as the level grows, and not at all at level 0."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from bench.people import (
    REAL_BAND,
    another_dancer,
    body_height,
    limb_errors,
    mirrored,
    quantiles,
    standing_still,
)
from engine.sequence import PoseSequence

KEYPOINTS = Path(__file__).resolve().parents[1] / "data" / "keypoints"
BASES = ("squat_reference", "aist_break_basic_d04", "aist_break_basic_d06", "aist_jazz_basic_d03", "aist_jazz_free_d02")
LEVELS = (0.0, 0.5, 1.0, 2.0, 4.0)


@pytest.fixture(scope="module")
def bases() -> dict[str, PoseSequence]:
    return {name: PoseSequence.load(KEYPOINTS / f"{name}.npz") for name in BASES}


def test_level_one_differs_as_much_as_real_people_do(bases):
    found = [
        limb_errors(seq, another_dancer(seq, 1.0, seed)).quantiles() for seq in bases.values() for seed in (0, 1, 2)
    ]
    for key, (lo, hi) in REAL_BAND.items():
        median = float(np.median([q[key] for q in found]))
        assert lo <= median <= hi, f"{key} {median:.1f} deg outside the real pairs' {lo:.1f}-{hi:.1f}"


@pytest.mark.parametrize("name", BASES)
def test_errors_grow_with_the_level(bases, name):
    seq = bases[name]
    for key in ("p50", "p75", "p90"):
        medians = [
            np.median([limb_errors(seq, another_dancer(seq, level, seed)).quantiles()[key] for seed in (0, 1)])
            for level in LEVELS
        ]
        assert medians[0] < 0.01, f"level 0 is not a copy: {key} {medians[0]:.2f} deg"
        assert all(b > a for a, b in itertools.pairwise(medians)), f"{key} by level {LEVELS}: {medians}"


@pytest.mark.parametrize("name", BASES)
def test_level_zero_is_the_performance_itself(bases, name):
    seq = bases[name]
    copy = another_dancer(seq, 0.0, seed=5)
    np.testing.assert_allclose(copy.times, seq.times, atol=1e-9)
    np.testing.assert_array_equal(copy.present, seq.present)
    np.testing.assert_allclose(copy.keypoints, seq.keypoints, atol=1e-3)
    assert copy.duration == pytest.approx(seq.duration, abs=1e-6)
    assert (copy.frame_size, copy.backend) == (seq.frame_size, seq.backend)


@pytest.mark.parametrize("offset", [1.0, -0.5])
def test_offset_moves_the_whole_clip_in_time(bases, offset):
    seq = bases["aist_jazz_basic_d03"]
    late = another_dancer(seq, 0.0, seed=0, offset_s=offset)
    fps = 30
    shift = round(offset * fps)
    assert late.duration == pytest.approx(seq.duration + offset, abs=1e-6)
    if shift > 0:
        np.testing.assert_allclose(late.keypoints[shift:], seq.keypoints, atol=1e-3)
        np.testing.assert_allclose(late.keypoints[:shift], np.repeat(seq.keypoints[:1], shift, axis=0), atol=1e-3)
    else:
        np.testing.assert_allclose(late.keypoints, seq.keypoints[-shift:], atol=1e-3)
    # The yardstick finds the offset again through another dancer's own timing.
    errors = limb_errors(seq, another_dancer(seq, 1.0, seed=3, offset_s=offset))
    assert errors.lag_s == pytest.approx(offset, abs=0.25)
    assert not errors.mirrored


def test_the_same_seed_makes_the_same_dancer_and_another_seed_another(bases):
    seq = bases["aist_break_basic_d06"]
    a, b, c = another_dancer(seq, 1.5, seed=7), another_dancer(seq, 1.5, seed=7), another_dancer(seq, 1.5, seed=8)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(a.times, b.times)
    assert not np.allclose(a.keypoints[:200], c.keypoints[:200], atol=1.0)


def test_frames_without_the_dancer_stay_without_one(bases):
    # d04 has 7 frames without a detection; take out a whole second more and a joint never seen.
    seq = bases["aist_break_basic_d04"]
    kp, present = seq.keypoints.copy(), seq.present.copy()
    present[60:90] = False
    kp[~present] = 0.0
    kp[:, 20] = 0.0  # left small toe: never located (as MediaPipe's small toes)
    holey = PoseSequence(seq.times, kp, present, seq.frame_size, seq.backend, seq.duration)
    for level in (0.0, 1.0, 4.0):
        other = another_dancer(holey, level, seed=2)
        assert np.isfinite(other.keypoints).all()
        assert not other.present[62:88].any() if level == 0 else (~other.present).sum() >= 25
        assert (other.keypoints[~other.present] == 0).all()
        assert (other.keypoints[:, 20] == 0).all()
        assert np.isfinite(quantiles(limb_errors(holey, other).degrees)["p50"])


def test_no_dancer_at_all_and_bad_levels_are_refused_clearly(bases):
    seq = bases["squat_reference"]
    with pytest.raises(ValueError, match="level must be a number >= 0"):
        another_dancer(seq, -1.0, seed=0)
    with pytest.raises(ValueError, match="level must be a number >= 0"):
        another_dancer(seq, float("nan"), seed=0)
    nobody = PoseSequence(seq.times, np.zeros_like(seq.keypoints), np.zeros(len(seq), bool), seq.frame_size, "x", 7.0)
    empty = another_dancer(nobody, 1.0, seed=0)
    assert not empty.present.any() and (empty.keypoints == 0).all()


def test_the_yardstick_sees_a_mirror_and_a_standing_dancer(bases):
    seq = bases["aist_jazz_free_d02"]
    errors = limb_errors(seq, mirrored(seq))
    assert errors.mirrored and errors.lag_s == 0.0
    assert errors.quantiles()["p90"] < 0.01
    still = standing_still(seq)
    assert still.present.all()
    spread = np.ptp(still.keypoints[:, 4, :2], axis=0)  # right wrist barely moves
    assert (spread < 0.04 * body_height(seq)).all()
    assert limb_errors(seq, still).quantiles()["p50"] > REAL_BAND["p50"][1]
