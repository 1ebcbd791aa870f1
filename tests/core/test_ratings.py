"""Ratings, calibration and scorer versions through the real community core and database (SQLite and PostgreSQL).

Attempts are scored by the scripted engine; their comparison features come from the scripted "video"
(`feature.<name>=<value>`), so calibration learns from stored features as it does with the real engine.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import pytest_asyncio

from bot.core.calibration import CalibrationPolicy
from bot.core.errors import InvalidInputError, NotModeratorError
from bot.core.models import Caller, Limits, Period, ScoredAttempt
from bot.core.ratings import NotInCommunityError, RatingService
from bot.core.scorers import ScorerBook, UnknownScorerError
from bot.core.service import CommunityService
from bot.storage.ratings import SqlRatingStore
from engine.api import EngineSettings
from tests.fakes.raters import load_world, make_world

from .world import ELSEWHERE, HERE, MOD, World, user

pytestmark = pytest.mark.asyncio


class Rated:
    """The world's community service with ratings, over calibrations kept in the test's data folder."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.book = ScorerBook(world.folder / "calibrations", (EngineSettings().scorer_version,))
        self.ratings = RatingService(SqlRatingStore(world.db), self.book, world.clock)
        self.service = CommunityService(
            world.store,
            world.engine,
            world.clock,
            media_dir=world.folder / "media",
            limits=Limits(rate_limit=10_000),
            ratings=self.ratings,
        )

    async def add_dance(self, name: str = "renegade") -> None:
        await self.service.add_dance(MOD, HERE, name, self.world.video(duration=10))

    async def submit(self, caller: Caller, score: float, features: dict[str, float] | None = None) -> ScoredAttempt:
        extra = " ".join(f"feature.{k}={v!r}" for k, v in (features or {}).items())
        return await self.service.submit_attempt(caller, HERE, "renegade", self.world.video(score, extra=extra))


@pytest_asyncio.fixture
async def rated(world: World) -> Rated:
    rated = Rated(world)
    await rated.add_dance()
    return rated


async def test_a_member_rates_an_attempt_and_changes_the_rating(rated: Rated) -> None:
    scored = await rated.submit(user(1), 7.0)
    first = await rated.ratings.rate(user(2), HERE, scored.attempt.id, 6)
    again = await rated.ratings.rate(user(2), HERE, scored.attempt.id, 8)
    assert (first.previous, first.value, again.previous, again.value) == (None, 6, 6, 8)
    assert not again.own and again.attempt.display_name == "User 1"
    stats = await rated.ratings.show_rating_stats(MOD, HERE)
    assert (stats.ratings, stats.raters, stats.attempts, stats.distribution) == (1, 1, 1, {8: 1})
    assert stats.by_version == {"v2": 1}  # the version that made the score the member saw


async def test_the_dancers_own_rating_is_stored_but_never_used(rated: Rated) -> None:
    scored = await rated.submit(user(1), 7.0)
    receipt = await rated.ratings.rate(user(1), HERE, scored.attempt.id, 10)
    assert receipt.own
    stats = await rated.ratings.show_rating_stats(MOD, HERE)
    assert (stats.ratings, stats.own) == (0, 1)
    _, rows, _ = await rated.ratings.collect_for_calibration(HERE)
    assert [r.own for r in rows] == [True]  # kept, marked, and left out by every consensus


async def test_a_member_of_another_community_cannot_rate(rated: Rated) -> None:
    scored = await rated.submit(user(1), 7.0)
    await rated.service.list_dances(ELSEWHERE)
    await rated.world.store.ensure_community(ELSEWHERE, rated.world.clock.now(), rated.service.default_season)
    with pytest.raises(NotInCommunityError, match="Only members of the community where this attempt was scored"):
        await rated.ratings.rate(user(5, "telegram"), ELSEWHERE, scored.attempt.id, 9)
    with pytest.raises(NotInCommunityError):  # the platform says they left (or never joined) this community
        await rated.ratings.rate(user(5), HERE, scored.attempt.id, 9, member=False)
    assert (await rated.ratings.show_rating_stats(MOD, HERE)).ratings == 0


async def test_features_are_stored_with_the_attempt_without_nan(rated: Rated) -> None:
    # A body part never seen has no accuracy (NaN); JSON has none, and PostgreSQL refuses it.
    scored = await rated.submit(user(1), 7.0, {"form": 0.5, "part_head": float("nan")})
    (stored,) = await rated.ratings.store.list_stored_attempts(None)
    assert (stored.id, stored.features, stored.base_score, stored.base_version) == (
        scored.attempt.id,
        {"form": 0.5},
        7.0,
        "v2",
    )


async def test_ratings_are_whole_numbers_from_1_to_10(rated: Rated) -> None:
    scored = await rated.submit(user(1), 7.0)
    for bad in (0, 11, -3):
        with pytest.raises(InvalidInputError, match="from 1 to 10"):
            await rated.ratings.rate(user(2), HERE, scored.attempt.id, bad)
    with pytest.raises(Exception, match="can no longer be rated"):
        await rated.ratings.rate(user(2), HERE, scored.attempt.id + 1000, 5)


async def test_statistics_and_scorer_settings_are_for_moderators(rated: Rated) -> None:
    await rated.submit(user(1), 7.0)
    for action in (
        rated.ratings.show_rating_stats(user(2), HERE),
        rated.ratings.show_scorer(user(2), HERE),
        rated.ratings.use_scorer(user(2), HERE, "v2"),
        rated.ratings.rescore(user(2), HERE),
    ):
        with pytest.raises(NotModeratorError):
            await action
    status = await rated.ratings.show_scorer(MOD, HERE)
    assert (status.version, status.available, status.applies) == ("v2", ["v2"], True)
    with pytest.raises(UnknownScorerError, match="it can use: v2"):
        await rated.ratings.use_scorer(MOD, HERE, "v2-cal9")


async def test_calibrate_switch_and_rescore(rated: Rated) -> None:
    """Synthetic members rate 100 attempts; the calibration beats the shipped scorer on held-out ratings, is
    written under the data folder, a moderator switches to it, new attempts get its score, and one command
    re-scores the board (a closed challenge's board stays as it was announced)."""
    world = make_world(300, seed=0)

    async def challenge_around_attempt_2(n: int, before: bool) -> None:  # closed before the rescore
        if n == 2 and before:
            await rated.service.start_challenge(MOD, HERE, "renegade", timedelta(hours=1))
        elif n == 2:
            await rated.service.end_challenge(MOD, HERE)

    await load_world(world, rated.service, HERE, "renegade", around=challenge_around_attempt_2)
    challenge_board = await rated.service.show_leaderboard(HERE, "renegade", Period.CHALLENGE)

    report, current, saved = await rated.ratings.calibrate(None)
    assert current == "v2" and report.accepted and saved is not None, report.reason
    assert saved.version == "v2-cal1" and saved.base_version == "v2" and saved.scope == "global"
    assert report.calibration.mae < report.current.mae  # type: ignore[union-attr]
    written = json.loads((rated.world.folder / "calibrations" / "v2-cal1.json").read_text())
    assert written["trained_on"]["ratings"] <= 300 and written["inputs"][0] == "base_score"

    status = await rated.ratings.use_scorer(MOD, HERE, "V2-cal1")
    assert (status.version, status.applies, status.chosen_by) == ("v2-cal1", True, MOD.display_name)
    features = world.attempts[0].features
    new = await rated.submit(user(99), world.attempts[0].base_score, features)
    assert new.attempt.scorer_version == "v2-cal1" and new.result.scorer_version == "v2-cal1"
    expected = saved.score({"base_score": world.attempts[0].base_score, **features})
    assert new.attempt.score == pytest.approx(expected, abs=1e-4)

    board = await rated.service.show_leaderboard(HERE, "renegade", limit=100)
    assert {e.scorer_version for e in board.entries} == {"v2", "v2-cal1"}  # says which version made each
    outcome = await rated.ratings.rescore(MOD, HERE)
    assert (outcome.version, outcome.rescored, outcome.unchanged, outcome.skipped) == ("v2-cal1", 100, 1, 0)
    board = await rated.service.show_leaderboard(HERE, "renegade", limit=100)
    assert {e.scorer_version for e in board.entries} == {"v2-cal1"}
    best = max(board.entries, key=lambda e: e.score)
    assert board.entries[0] == best
    assert await rated.service.show_leaderboard(HERE, "renegade", Period.CHALLENGE) == challenge_board

    back = await rated.ratings.rescore(MOD, HERE, "v2")
    assert back.rescored == 101
    board = await rated.service.show_leaderboard(HERE, "renegade", limit=100)
    assert {e.scorer_version for e in board.entries} == {"v2"}


async def test_twenty_ratings_are_not_enough(rated: Rated) -> None:
    await load_world(make_world(20, seed=4), rated.service, HERE, "renegade")
    report, _, saved = await rated.ratings.calibrate(HERE)
    assert saved is None and not report.accepted
    assert report.reason == "Only 20 ratings from members other than the dancer; a calibration needs at least 100."
    assert not (rated.world.folder / "calibrations").exists()


async def test_a_calibration_of_another_base_version_leaves_the_base_score(rated: Rated) -> None:
    world = make_world(300, seed=0)
    from bot.core.calibration import cross_validate

    report = cross_validate(world.attempts, world.ratings)
    other = rated.book.save(
        report, scope="global", base_version="v0", current_version="v0", now=rated.world.clock.now(), folds=5
    )
    assert other.version == "v0-cal1"
    await rated.ratings.use_scorer(MOD, HERE, "v0-cal1")
    status = await rated.ratings.show_scorer(MOD, HERE)
    assert not status.applies
    scored = await rated.submit(user(1), 6.5, world.attempts[0].features)
    assert (scored.attempt.score, scored.attempt.scorer_version) == (6.5, "v2")


async def test_a_community_cannot_use_another_communitys_calibration(rated: Rated) -> None:
    world = make_world(300, seed=0)
    from bot.core.calibration import cross_validate

    report = cross_validate(world.attempts, world.ratings, CalibrationPolicy())
    theirs = rated.book.save(
        report, scope=str(ELSEWHERE), base_version="v2", current_version="v2", now=rated.world.clock.now(), folds=5
    )
    await rated.submit(user(1), 6.5)
    with pytest.raises(UnknownScorerError):
        await rated.ratings.use_scorer(MOD, HERE, theirs.version)
