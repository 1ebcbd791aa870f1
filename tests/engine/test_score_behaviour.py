"""How the score must behave, on real keypoints of the cc-by squat clips and controlled changes to them.

These run the real alignment and the real scorer; only the pose estimation is skipped (the keypoints were
extracted once by the engine from the shipped clips: scripts/make_test_data.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.people import another_dancer
from engine.api import EngineSettings, compare
from engine.sequence import PoseSequence
from tests.engine import perturb

SETTINGS = EngineSettings()


def score_of(ref: PoseSequence, attempt: PoseSequence):
    return compare(ref, attempt, SETTINGS)


def spearman(x: list[float], y: list[float]) -> float:
    rx = np.argsort(np.argsort(x)).astype(float)
    ry = np.argsort(np.argsort(y)).astype(float)
    return float(np.corrcoef(rx, ry)[0, 1])


def test_a_performance_against_itself_is_near_perfect(squat_ref):
    result = score_of(squat_ref, squat_ref)
    assert result.score >= 9.8
    assert abs(result.offset_s) < 0.05 and abs(result.tempo - 1) < 0.01 and not result.mirrored


def test_the_zoomed_and_offset_copy_matches_with_its_offset(squat_ref, squat_zoomed):
    result = score_of(squat_ref, squat_zoomed)
    assert result.score >= 9.0
    assert abs(result.offset_s - (-0.3)) <= 0.1
    assert not result.mirrored


@pytest.mark.parametrize("seconds", [1.0, 2.0, 3.0])
def test_starting_later_changes_nothing_but_the_offset(squat_ref, seconds):
    base = score_of(squat_ref, squat_ref).score
    result = score_of(squat_ref, perturb.shift(squat_ref, seconds))
    assert abs(result.score - base) <= 0.5
    assert abs(result.offset_s - seconds) <= 0.1


def test_still_frames_around_the_dance_change_nothing(squat_ref):
    base = score_of(squat_ref, squat_ref).score
    result = score_of(squat_ref, perturb.pad_still(squat_ref, 2.0, 1.5))
    assert abs(result.score - base) <= 0.5
    assert abs(result.offset_s - 2.0) <= 0.1


@pytest.mark.parametrize(
    ("scale", "dx", "dy", "frame"),
    [(0.6, 120, -40, None), (1.3, -90, 30, None), (1.0, -200, 0, (880, 720)), (0.45, 300, 100, (1920, 1080))],
    ids=["smaller-moved", "zoomed-in", "cropped", "far-away-in-a-bigger-frame"],
)
def test_where_and_how_big_the_dancer_appears_changes_nothing(squat_ref, scale, dx, dy, frame):
    base = score_of(squat_ref, squat_ref).score
    moved = perturb.affine(squat_ref, scale, dx, dy, frame)
    assert abs(score_of(squat_ref, moved).score - base) <= 0.5


@pytest.mark.parametrize(("fps", "jitter"), [(24.0, 0.0), (60.0, 0.0), (12.0, 0.0), (25.0, 0.4)])
def test_frame_rate_including_variable_changes_nothing(squat_ref, fps, jitter):
    base = score_of(squat_ref, squat_ref).score
    result = score_of(squat_ref, perturb.resample_fps(squat_ref, fps, jitter))
    assert abs(result.score - base) <= 0.5


def test_a_mirrored_performance_scores_the_same_and_says_so(squat_ref, squat_zoomed):
    for attempt in (squat_ref, squat_zoomed):
        plain = score_of(squat_ref, attempt)
        mirrored = score_of(squat_ref, perturb.mirror(attempt))
        assert mirrored.mirrored is True
        assert abs(mirrored.score - plain.score) <= 0.5
        assert any("mirrored" in line for line in mirrored.feedback)


def test_mirror_can_be_refused(squat_ref):
    from engine.api import CompareOptions

    result = compare(squat_ref, perturb.mirror(squat_ref), SETTINGS, CompareOptions(allow_mirror=False))
    assert result.mirrored is False
    assert result.score < score_of(squat_ref, perturb.mirror(squat_ref)).score


SENSITIVITY = {
    "joint noise (x body height)": (perturb.joint_noise, [0.0, 0.01, 0.02, 0.04, 0.08, 0.16]),
    "right leg frozen (share of the clip)": (perturb.freeze_limb, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    "section replaced by other movement (share)": (perturb.replace_section, [0.0, 0.1, 0.2, 0.35, 0.5, 0.7]),
    "slower (tempo)": (perturb.tempo, [1.0, 0.93, 0.87, 0.8]),
    "faster (tempo)": (perturb.tempo, [1.0, 1.07, 1.15, 1.25]),
    "growing lag (s by the end)": (perturb.growing_lag, [0.0, 0.25, 0.5, 1.0, 1.5]),
}


@pytest.mark.parametrize("kind", list(SENSITIVITY))
def test_score_falls_monotonically_with_severity(squat_ref, kind):
    change, levels = SENSITIVITY[kind]
    scores = [score_of(squat_ref, change(squat_ref, level)).score for level in levels]
    severity = [abs(np.log(level)) if "tempo" in kind else level for level in levels]
    rho = spearman(severity, [-s for s in scores])
    assert rho >= 0.95, f"{kind}: levels {levels} scored {np.round(scores, 2)}"
    assert scores[-1] < scores[0] - 2.0, f"{kind}: the most severe change must cost real points, got {scores}"


def test_tempo_is_reported(squat_ref):
    for factor in (0.85, 1.2):
        assert abs(score_of(squat_ref, perturb.tempo(squat_ref, factor)).tempo - factor) <= 0.05


def test_standing_still_scores_at_most_2(squat_ref):
    result = score_of(squat_ref, perturb.standing_still(squat_ref))
    assert result.score <= 2.0
    assert result.parts["legs"] < 60


def test_a_different_movement_scores_at_most_3(squat_ref):
    jacks = perturb.with_frames(squat_ref, squat_ref.times, perturb.other_movement(squat_ref, squat_ref.times))
    assert score_of(squat_ref, jacks).score <= 3.0
    # and the other way round: the squat is no jumping jack either
    assert score_of(jacks, squat_ref).score <= 3.0


def test_feedback_names_the_part_and_the_moment(squat_ref):
    result = score_of(squat_ref, perturb.freeze_limb(squat_ref, 0.6))
    assert result.weak_moments, "a frozen leg must produce weak moments"
    assert any(w.part == "legs" and "right leg" in w.note for w in result.weak_moments)
    assert any("right leg" in line and ":" in line for line in result.feedback)
    for w in result.weak_moments:
        assert 0 <= w.start_s < w.end_s <= squat_ref.duration + 0.2


def test_late_section_is_called_late(squat_ref):
    # The dancer is 0.4 s late for the second half only.
    times = squat_ref.times
    source = np.where(times < 3.5, times, np.maximum(3.5, times - 0.4))
    late = perturb.with_frames(squat_ref, times, perturb.sample(squat_ref, source))
    result = score_of(squat_ref, late)
    assert result.score < score_of(squat_ref, squat_ref).score


@pytest.mark.parametrize("lag", [0.05, 0.1, -0.1, 0.3])
def test_a_repeating_movement_a_moment_late_is_found_where_it_is(squat_ref, lag):
    """Periodic moves (jumping jacks every 1.2 s) started a fraction of a grid step late or early: the offset
    is that lag, not a whole period away with a sliver of overlap."""
    jacks = perturb.with_frames(squat_ref, squat_ref.times, perturb.other_movement(squat_ref, squat_ref.times))
    late = perturb.with_frames(squat_ref, squat_ref.times, perturb.other_movement(squat_ref, squat_ref.times - lag))
    result = score_of(jacks, late)
    assert abs(result.offset_s - lag) <= 0.06
    assert result.score >= 9.0


KEYPOINTS = Path(__file__).resolve().parents[1] / "data" / "keypoints"
DANCES = ("squat_reference", "aist_break_basic_d04", "aist_jazz_basic_d03", "aist_jazz_free_d02")


@pytest.mark.parametrize("dance", DANCES)
def test_another_dancer_scores_in_the_band_and_falls_as_the_imitation_worsens(dance):
    """Generated other dancers (bench.people, fitted to real cross-person pairs): a typical one (level 1)
    scores 6.5-9 both ways round, and the score falls as the imitation loosens, to a loose one under 5."""
    ref = PoseSequence.load(KEYPOINTS / f"{dance}.npz")
    levels = [0.5, 1.0, 2.0, 3.0, 4.5]
    scores = [score_of(ref, another_dancer(ref, level, seed=7)).score for level in levels]
    assert spearman(levels, [-s for s in scores]) >= 0.95, f"levels {levels} scored {np.round(scores, 2)}"
    assert 6.5 <= scores[1] <= 9.0 and scores[-1] < 5.0, np.round(scores, 2)
    assert 6.5 <= score_of(another_dancer(ref, 1.0, seed=7), ref).score <= 9.0
