"""The community rules, against a real database (SQLite and PostgreSQL) with the scripted engine."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.core.errors import (
    DanceExistsError,
    DuplicateAttemptError,
    InvalidInputError,
    JobRunningError,
    NotModeratorError,
    RateLimitedError,
    TooLargeError,
    UnknownDanceError,
)
from bot.core.models import Caller, CommunityRef, Limits, Period, Season
from engine.errors import NoDancerError, VideoError
from engine.pool.errors import WorkerCrashError

from .world import ELSEWHERE, HERE, MOD, World, user

pytestmark = pytest.mark.asyncio


async def add(world: World, name: str, where=HERE, aliases=()) -> None:
    await world.service.add_dance(MOD, where, name, world.video(duration=20), aliases=aliases)


async def test_only_moderators_register_remove_and_rename(world: World) -> None:
    with pytest.raises(NotModeratorError, match="Only moderators can register dances"):
        await world.service.add_dance(user(1), HERE, "renegade", world.video())
    assert world.engine.calls == 0  # refused before any analysis
    assert await world.service.list_dances(HERE) == []

    await add(world, "Renegade", aliases=["the renegade"])
    [dance] = await world.service.list_dances(HERE)
    assert (dance.name, dance.aliases, dance.added_by) == ("Renegade", ("the renegade",), "Mia (mod)")

    with pytest.raises(NotModeratorError):
        await world.service.remove_dance(user(1), HERE, "renegade")
    with pytest.raises(NotModeratorError):
        await world.service.rename_dance(user(1), HERE, "renegade", "mine")
    assert [d.name for d in await world.service.list_dances(HERE)] == ["Renegade"]


async def test_names_are_unique_per_community_ignoring_case_and_spaces(world: World) -> None:
    await add(world, "Say So")
    for clash in ("say so", "SAYSO", "say-so"):
        with pytest.raises(DanceExistsError, match="already exists"):
            await add(world, clash)
    with pytest.raises(DanceExistsError):
        await add(world, "savage", aliases=["sayso"])
    with pytest.raises(InvalidInputError, match="no letters or digits"):
        await add(world, "!!!")
    # another community may use the same name
    await add(world, "say so", where=ELSEWHERE)
    assert [d.name for d in await world.service.list_dances(HERE)] == ["Say So"]


async def test_lookup_tolerates_case_spaces_and_small_typos(world: World) -> None:
    await add(world, "Renegade", aliases=["rngd"])
    await add(world, "Savage Love")
    service = world.service
    for typed in ("renegade", "RENEGADE", " rene gade ", "renegde", "rengade", "rngd"):
        assert (await service.find_dance(HERE, typed)).name == "Renegade", typed
    assert (await service.find_dance(HERE, "savagelove")).name == "Savage Love"
    with pytest.raises(UnknownDanceError) as refused:
        await service.find_dance(HERE, "savage lov3rs")
    assert refused.value.suggestions == ["Savage Love"]
    assert "Did you mean “Savage Love”?" in str(refused.value)
    with pytest.raises(UnknownDanceError, match="Send /dances"):
        await service.find_dance(HERE, "macarena")
    assert await service.suggest_dances(HERE, "sav") == ["Savage Love"]


async def test_attempt_is_scored_ranked_and_kept_in_history(world: World) -> None:
    await add(world, "renegade")
    scored = await world.service.submit_attempt(user(1), HERE, "Renegade", world.video(score=7.5))
    assert scored.attempt.score == 7.5 and scored.personal_best
    assert (scored.standing.rank, scored.standing.of) == (1, 1)
    second = await world.service.submit_attempt(user(2), HERE, "renegade", world.video(score=8.0))
    assert (second.standing.rank, second.standing.of) == (1, 2)
    worse = await world.service.submit_attempt(user(1), HERE, "renegade", world.video(score=6.0))
    assert not worse.personal_best and worse.standing.rank == 2 and worse.standing.score == 7.5

    profile = await world.service.show_profile(user(1), HERE)
    assert [a.score for a in profile.attempts] == [6.0, 7.5]
    assert [(s.board, s.rank, s.score, s.of) for s in profile.standings] == [
        ("renegade", 2, 7.5, 2),
        ("overall", 2, 7.5, 2),
    ]


async def test_board_keeps_best_per_user_and_breaks_ties_by_earlier_time(world: World) -> None:
    await add(world, "renegade")
    await add(world, "savage")
    s = world.service
    await s.submit_attempt(user(1), HERE, "renegade", world.video(score=6.0))
    world.clock.advance(minutes=1)
    await s.submit_attempt(user(2), HERE, "renegade", world.video(score=8.0))
    world.clock.advance(minutes=1)
    await s.submit_attempt(user(1), HERE, "renegade", world.video(score=8.0))  # ties user 2, later
    world.clock.advance(minutes=1)
    await s.submit_attempt(user(3), HERE, "renegade", world.video(score=7.0))
    await s.submit_attempt(user(3), HERE, "savage", world.video(score=5.0))

    board = await s.show_leaderboard(HERE, "renegade")
    assert [(e.rank, e.user_id, e.score) for e in board.entries] == [
        (1, "u2", 8.0),
        (2, "u1", 8.0),
        (3, "u3", 7.0),
    ]
    assert board.dance == "renegade" and board.period_label == "all time"

    tied = (await s.show_profile(user(1), HERE)).standings  # same 8.0 as user 2, reached later
    assert [(x.board, x.rank, x.of) for x in tied] == [("renegade", 2, 3), ("overall", 3, 3)]

    overall = await s.show_leaderboard(HERE)  # sum of best per dance
    assert [(e.user_id, e.score, e.dances) for e in overall.entries] == [
        ("u3", 12.0, 2),
        ("u2", 8.0, 1),
        ("u1", 8.0, 1),
    ]


async def test_season_board_counts_only_this_season(world: World) -> None:
    await add(world, "renegade")
    s = world.service
    world.clock.set(datetime(2026, 10, 20, 12, tzinfo=UTC))
    await s.submit_attempt(user(1), HERE, "renegade", world.video(score=9.0))
    world.clock.set(datetime(2026, 11, 4, 12, tzinfo=UTC))  # a Wednesday
    await s.submit_attempt(user(2), HERE, "renegade", world.video(score=6.0))
    world.clock.set(datetime(2026, 11, 10, 12, tzinfo=UTC))  # the next week
    await s.submit_attempt(user(3), HERE, "renegade", world.video(score=5.0))

    monthly = await s.show_leaderboard(HERE, "renegade", Period.SEASON)
    assert monthly.period_label == "season 2026-11"
    assert [e.user_id for e in monthly.entries] == ["u2", "u3"]
    assert [e.user_id for e in (await s.show_leaderboard(HERE, "renegade", "all")).entries] == ["u1", "u2", "u3"]

    await s.set_season(MOD, HERE, "weekly")
    weekly = await s.show_leaderboard(HERE, "renegade", "season")
    assert weekly.period_label == "week 2026-W46" and [e.user_id for e in weekly.entries] == ["u3"]

    await s.set_season(MOD, HERE, Season.NONE)
    unseasoned = await s.show_leaderboard(HERE, "renegade", "season")
    assert "no seasons" in unseasoned.period_label and len(unseasoned.entries) == 3
    with pytest.raises(NotModeratorError):
        await s.set_season(user(1), HERE, "weekly")
    with pytest.raises(InvalidInputError, match="all, season or challenge"):
        await s.show_leaderboard(HERE, "renegade", "yearly")


async def test_communities_never_see_each_other(world: World) -> None:
    await add(world, "renegade", where=HERE)
    await add(world, "renegade", where=ELSEWHERE)
    await add(world, "only here", where=HERE)
    s = world.service
    await s.submit_attempt(user(1), HERE, "renegade", world.video(score=9.0))
    await s.submit_attempt(user(2, "telegram"), ELSEWHERE, "renegade", world.video(score=4.0))

    assert [e.user_id for e in (await s.show_leaderboard(HERE, "renegade")).entries] == ["u1"]
    assert [e.user_id for e in (await s.show_leaderboard(ELSEWHERE, "renegade")).entries] == ["u2"]
    assert [e.user_id for e in (await s.show_leaderboard(ELSEWHERE)).entries] == ["u2"]
    with pytest.raises(UnknownDanceError):
        await s.submit_attempt(user(2, "telegram"), ELSEWHERE, "only here", world.video())
    assert (await s.show_profile(user(1), ELSEWHERE)).attempts == []
    assert [d.name for d in await s.list_dances(ELSEWHERE)] == ["renegade"]


async def test_same_video_is_recognised_and_not_counted_twice(world: World) -> None:
    await add(world, "renegade")
    await add(world, "savage")
    s = world.service
    clip = world.video(score=7.0)
    await s.submit_attempt(user(1), HERE, "renegade", clip)
    calls = world.engine.calls
    with pytest.raises(DuplicateAttemptError, match="already sent this exact video") as refused:
        await s.submit_attempt(user(1), HERE, "renegade", clip)
    assert refused.value.score == 7.0
    assert world.engine.calls == calls  # refused before scoring
    # the same bytes under another name are still the same video
    copy = clip.with_name("copy.mp4")
    copy.write_bytes(clip.read_bytes())
    with pytest.raises(DuplicateAttemptError):
        await s.submit_attempt(user(1), HERE, "renegade", copy)
    assert len((await s.show_profile(user(1), HERE)).attempts) == 1
    # another dance is a separate attempt of the same user (another user's is refused: test_fairness.py)
    await s.submit_attempt(user(1), HERE, "savage", clip)
    assert len((await s.show_leaderboard(HERE, "savage")).entries) == 1


async def test_one_running_job_per_user(world: World) -> None:
    await add(world, "renegade")
    world.engine.gate = asyncio.Event()
    s = world.service
    first = asyncio.create_task(s.submit_attempt(user(1), HERE, "renegade", world.video(score=5.0)))
    while not world.engine.calls or world.engine.calls < 2:  # the reference analysis was call 1
        await asyncio.sleep(0.01)
    with pytest.raises(JobRunningError, match="still being analysed"):
        await s.submit_attempt(user(1), HERE, "renegade", world.video(score=6.0))
    other = asyncio.create_task(s.submit_attempt(user(2), HERE, "renegade", world.video(score=6.0)))
    await asyncio.sleep(0.05)
    world.engine.gate.set()
    await asyncio.gather(first, other)
    await s.submit_attempt(user(1), HERE, "renegade", world.video(score=6.5))  # free again
    assert [e.score for e in (await s.show_leaderboard(HERE, "renegade")).entries] == [6.5, 6.0]


async def test_rate_limit_per_user_with_retry_time(world: World) -> None:
    s = world.make_service(Limits(rate_limit=2, rate_window_s=600))
    await add(world, "renegade")
    await s.submit_attempt(user(1), HERE, "renegade", world.video(score=5.0))
    world.clock.advance(seconds=100)
    with pytest.raises(NoDancerError):  # an analysis that failed on the video still counts
        await s.submit_attempt(user(1), HERE, "renegade", world.video(extra="fail=no_dancer"))
    world.clock.advance(seconds=100)
    calls = world.engine.calls
    with pytest.raises(RateLimitedError) as refused:
        await s.submit_attempt(user(1), HERE, "renegade", world.video(score=6.0))
    assert refused.value.retry_after_s == pytest.approx(400)
    assert "2 videos every 10 min" in str(refused.value) and "try again in 7 min" in str(refused.value)
    assert world.engine.calls == calls
    await s.submit_attempt(user(2), HERE, "renegade", world.video(score=6.0))  # others are not limited
    world.clock.advance(seconds=401)
    await s.submit_attempt(user(1), HERE, "renegade", world.video(score=6.0))


async def test_a_failure_on_our_side_never_counts_against_the_user(world: World) -> None:
    s = world.make_service(Limits(rate_limit=1, rate_window_s=3600))
    await add(world, "renegade")
    with pytest.raises(WorkerCrashError) as crashed:  # the scorer's worker died under the job
        await s.submit_attempt(user(1), HERE, "renegade", world.video(extra="fail=worker_crashed"))
    assert crashed.value.ours
    scored = await s.submit_attempt(user(1), HERE, "renegade", world.video(score=6.0))  # the one video allowed
    assert scored.attempt.score == 6.0
    with pytest.raises(RateLimitedError):
        await s.submit_attempt(user(1), HERE, "renegade", world.video(score=7.0))


async def test_caps_and_bad_files_are_refused_before_heavy_work(world: World) -> None:
    s = world.make_service(Limits(max_duration_s=60, max_bytes=200, rate_limit=2))
    await add(world, "renegade")
    calls = world.engine.calls
    with pytest.raises(VideoError) as too_long:  # the engine's check of the file, before any analysis
        await s.submit_attempt(user(1), HERE, "renegade", world.video(duration=95))
    assert too_long.value.code == "too_long"
    big = world.video(extra="x" * 300)
    with pytest.raises(TooLargeError, match="the most I can score is 200 bytes"):
        await s.submit_attempt(user(1), HERE, "renegade", big)
    not_video = world.folder / "notes.txt"
    not_video.write_bytes(b"\x00\xffnot a video")
    with pytest.raises(VideoError, match="not a video"):
        await s.submit_attempt(user(1), HERE, "renegade", not_video)
    with pytest.raises(UnknownDanceError):
        await s.submit_attempt(user(1), HERE, "macarena", world.video())
    assert world.engine.calls == calls
    # none of those refusals used up the user's rate limit
    await s.submit_attempt(user(1), HERE, "renegade", world.video(score=5.0))
    await s.submit_attempt(user(1), HERE, "renegade", world.video(score=5.5))


async def test_failed_analysis_records_nothing_and_frees_the_user(world: World) -> None:
    await add(world, "renegade")
    with pytest.raises(NoDancerError) as failed:
        await world.service.submit_attempt(user(1), HERE, "renegade", world.video(extra="fail=no_dancer"))
    assert failed.value.code == "no_dancer"
    assert (await world.service.show_profile(user(1), HERE)).attempts == []
    assert (await world.service.show_leaderboard(HERE, "renegade")).entries == []
    await world.service.submit_attempt(user(1), HERE, "renegade", world.video(score=5.0))


async def test_rename_keeps_the_board_and_remove_retires_the_dance(world: World) -> None:
    await add(world, "renegade")
    s = world.service
    await s.submit_attempt(user(1), HERE, "renegade", world.video(score=8.0))
    renamed = await s.rename_dance(MOD, HERE, "renegade", "Renegade Classic")
    assert renamed.name == "Renegade Classic"
    assert [e.score for e in (await s.show_leaderboard(HERE, "renegade classic")).entries] == [8.0]
    assert (await s.find_dance(HERE, "renegade")).name == "Renegade Classic"  # a unique prefix still finds it

    await s.remove_dance(MOD, HERE, "renegade classic")
    assert await s.list_dances(HERE) == []
    assert (await s.show_leaderboard(HERE)).entries == []
    assert [a.dance_name for a in (await s.show_profile(user(1), HERE)).attempts] == ["Renegade Classic"]
    await add(world, "Renegade Classic")  # the name is free again, with an empty board
    assert (await s.show_leaderboard(HERE, "renegade classic")).entries == []


async def test_dance_removed_while_scoring_leaves_no_half_written_attempt(world: World) -> None:
    await add(world, "renegade")
    world.engine.gate = asyncio.Event()
    s = world.service
    pending = asyncio.create_task(s.submit_attempt(user(1), HERE, "renegade", world.video(score=9.0)))
    while world.engine.calls < 2:
        await asyncio.sleep(0.01)
    await s.remove_dance(MOD, HERE, "renegade")
    world.engine.gate.set()
    with pytest.raises(UnknownDanceError):
        await pending
    assert (await s.show_profile(user(1), HERE)).attempts == []
    await add(world, "salsa")
    await s.submit_attempt(user(1), HERE, "salsa", world.video(score=4.0))  # the job slot was freed


async def test_display_name_follows_the_latest_attempt(world: World) -> None:
    await add(world, "renegade")
    await world.service.submit_attempt(user(1), HERE, "renegade", world.video(score=5.0))
    renamed = Caller("discord", "u1", "New Name")
    await world.service.submit_attempt(renamed, HERE, "renegade", world.video(score=4.0))
    [entry] = (await world.service.show_leaderboard(HERE, "renegade")).entries
    assert (entry.display_name, entry.score) == ("New Name", 5.0)


async def test_odd_input_gets_a_clear_refusal_not_a_crash(world: World) -> None:
    await add(world, "renegade")
    with pytest.raises(InvalidInputError, match="Say which dance"):
        await world.service.submit_attempt(user(1), HERE, "  ", world.video())
    long_name = Caller("telegram", "77", "A" * 64 + " " + "B" * 64 + " extra")
    await world.service.submit_attempt(long_name, HERE, "renegade", world.video(score=5.0))
    [entry] = (await world.service.show_leaderboard(HERE, "renegade", limit=10_000)).entries
    assert entry.display_name == "A" * 64 + " " + "B" * 63
    assert Caller("discord", "9", "   ").display_name == "9"
    with pytest.raises(InvalidInputError, match="not a valid platform and id"):
        Caller("discord", "x" * 65, "too long")
    with pytest.raises(InvalidInputError, match="platform:id"):
        CommunityRef.parse("discord:")
