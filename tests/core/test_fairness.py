"""Fair boards in busy communities (issue 13), against a real database (SQLite and PostgreSQL): only the
poster's video is theirs, the same video cannot be on the boards twice, ranks follow the score as shown."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.core.errors import DuplicateAttemptError, NotOwnerError, UnknownDanceError, VideoTakenError
from bot.core.models import Caller
from bot.storage.database import Database, alembic_config

from .world import HERE, MOD, World, user

pytestmark = pytest.mark.asyncio


async def add(world: World, name: str) -> None:
    await world.service.add_dance(MOD, HERE, name, world.video(duration=20))


async def test_only_the_poster_or_a_moderator_for_them_can_score_a_video(world: World) -> None:
    await add(world, "renegade")
    s = world.service
    ana, eve = user(1), user(2)
    calls = world.engine.calls
    with pytest.raises(NotOwnerError, match="Only the person who posted a video can have it scored"):
        await s.submit_attempt(ana, HERE, "renegade", world.video(score=7.4), requested_by=eve)
    assert world.engine.calls == calls  # refused before any analysis
    moderator = Caller("discord", "u9", "Mia", is_moderator=True)
    scored = await s.submit_attempt(ana, HERE, "renegade", world.video(score=7.4), requested_by=moderator)
    assert (scored.attempt.user_id, scored.attempt.display_name) == ("u1", "User 1")  # credited to the poster
    board = await s.show_leaderboard(HERE, "renegade")
    assert [(e.user_id, e.score) for e in board.entries] == [("u1", 7.4)]
    # the poster asking for themselves needs no permission
    await s.submit_attempt(ana, HERE, "renegade", world.video(score=7.0), requested_by=ana)


async def test_the_same_video_under_another_member_is_refused(world: World) -> None:
    await add(world, "renegade")
    await add(world, "savage")
    s = world.service
    clip = world.video(score=7.4)
    await s.submit_attempt(user(1), HERE, "renegade", clip)
    calls = world.engine.calls
    for dance in ("renegade", "savage"):
        with pytest.raises(VideoTakenError) as refused:
            await s.submit_attempt(user(2), HERE, dance, clip)
        assert str(refused.value) == (
            "This exact video is already on the boards here under User 1 (for “renegade”), so it can't be "
            "scored for anyone else. Record your own take and send that."
        )
    assert world.engine.calls == calls  # refused before any analysis
    board = await s.show_leaderboard(HERE, "renegade")
    assert [e.user_id for e in board.entries] == ["u1"]
    # the same user's own video is theirs to send for another dance; the same dance again is a duplicate
    await s.submit_attempt(user(1), HERE, "savage", clip)
    with pytest.raises(DuplicateAttemptError):
        await s.submit_attempt(user(1), HERE, "renegade", clip)


async def test_two_members_sending_the_same_video_at_once_get_one_on_the_board(world: World) -> None:
    await add(world, "renegade")
    world.engine.gate = asyncio.Event()
    s = world.service
    clip = world.video(score=7.4)
    racing = [asyncio.create_task(s.submit_attempt(user(n), HERE, "renegade", clip)) for n in (1, 2)]
    while world.engine.running < 2:  # both passed the checks before either was recorded
        await asyncio.sleep(0.01)
    world.engine.gate.set()
    outcomes = await asyncio.gather(*racing, return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["ScoredAttempt", "VideoTakenError"]
    assert len((await s.show_leaderboard(HERE, "renegade")).entries) == 1
    # the refused one did not count against its sender: they can send their own video at once
    loser = next(n for n, o in zip((1, 2), outcomes, strict=True) if isinstance(o, VideoTakenError))
    await s.submit_attempt(user(loser), HERE, "renegade", world.video(score=6.0))


async def test_ranks_follow_the_score_as_shown_and_ties_go_to_the_earlier_attempt(world: World) -> None:
    await add(world, "renegade")
    s = world.service
    # 25 users all shown "10.0": the invisible decimals used to decide; now the time does.
    raw = [9.96 + 0.0016 * ((7 * n) % 25) for n in range(25)]  # 9.96..10.0, in no particular order
    for n, score in enumerate(raw):
        await s.submit_attempt(user(n), HERE, "renegade", world.video(score=score))
        world.clock.advance(seconds=30)
    board = await s.show_leaderboard(HERE, "renegade", limit=25)
    assert [f"{e.score:.1f}" for e in board.entries] == ["10.0"] * 25
    assert [e.user_id for e in board.entries] == [f"u{n}" for n in range(25)]  # first come, first served
    assert [e.rank for e in board.entries] == list(range(1, 26))
    late = (await s.show_profile(user(24), HERE)).standings[0]
    assert (late.rank, late.of, late.score) == (25, 25, 10.0)

    # 9.94 shows 9.9, below every 10.0; a user's own later 9.97 over their 9.96 is no new best: same shown
    # score, and the earlier attempt keeps its place.
    await s.submit_attempt(user(30), HERE, "renegade", world.video(score=9.94))
    again = await s.submit_attempt(user(0), HERE, "renegade", world.video(score=9.999))
    assert not again.personal_best and again.standing.rank == 1
    board = await s.show_leaderboard(HERE, "renegade", limit=30)
    assert board.entries[0].user_id == "u0" and board.entries[-1].user_id == "u30"

    # the overall board adds up the scores as shown: 10.0 + 9.9 = 19.9, whatever the decimals
    await add(world, "savage")
    await s.submit_attempt(user(30), HERE, "savage", world.video(score=10.04))
    overall = await s.show_leaderboard(HERE, limit=3)
    first = overall.entries[0]
    assert (first.user_id, first.score, first.dances) == ("u30", 19.9, 2)


async def test_the_viewer_sees_their_own_rank_below_the_top(world: World) -> None:
    await add(world, "renegade")
    s = world.service
    for n in range(12):
        await s.submit_attempt(user(n), HERE, "renegade", world.video(score=9.0 - n * 0.3))
    board = await s.show_leaderboard(HERE, "renegade", limit=10, viewer=user(11))
    assert len(board.entries) == 10 and not board.viewer_shown
    assert board.viewer is not None and (board.viewer.rank, board.viewer.of, board.viewer.score) == (12, 12, 5.7)
    overall = await s.show_leaderboard(HERE, limit=3, viewer=user(1))
    assert overall.viewer is not None and overall.viewer.rank == 2 and overall.viewer_shown
    nobody = await s.show_leaderboard(HERE, "renegade", viewer=user(99))
    assert nobody.viewer is None


async def test_history_of_one_dance_oldest_first(world: World) -> None:
    await add(world, "renegade")
    await add(world, "savage")
    s = world.service
    for score in (5.0, 6.5, 6.1, 7.2):
        await s.submit_attempt(user(1), HERE, "renegade", world.video(score=score))
        world.clock.advance(days=1)
    await s.submit_attempt(user(1), HERE, "savage", world.video(score=9.0))
    await s.submit_attempt(user(2), HERE, "renegade", world.video(score=8.0))
    history = await s.show_history(user(1), HERE, "Renegad")  # a small typo still finds it
    assert history.dance == "renegade"
    assert [a.score for a in history.attempts] == [5.0, 6.5, 6.1, 7.2]
    assert history.standing is not None and (history.standing.rank, history.standing.of) == (2, 2)
    empty = await s.show_history(user(3), HERE, "renegade")
    assert empty.attempts == [] and empty.standing is None
    with pytest.raises(UnknownDanceError):
        await s.show_history(user(1), HERE, "tango")


async def test_results_that_cannot_be_posted_are_given_up_after_a_few_tries(world: World) -> None:
    from bot.core.service import ANNOUNCE_RETRY_S, ANNOUNCE_TRIES

    await add(world, "renegade")
    s = world.service
    await s.start_challenge(MOD, HERE, "renegade", timedelta(hours=1))
    await s.end_challenge(MOD, HERE)
    for attempt in range(1, ANNOUNCE_TRIES + 1):
        [announcement] = await s.claim_announcements("discord", "bot")
        gave_up = await s.fail_announcement(announcement, "bot", PermissionError("Missing Permissions"))
        assert gave_up == (attempt == ANNOUNCE_TRIES)
        assert await s.claim_announcements("discord", "bot") == []  # not retried at once
        world.clock.advance(seconds=ANNOUNCE_RETRY_S + 1)
    world.clock.advance(days=1)
    assert await s.claim_announcements("discord", "bot") == []  # given up for good


async def test_the_migration_reranks_old_boards_on_the_shown_score(database_factory, tmp_path) -> None:
    """Boards written before this revision ranked on raw scores: its migration turns their points into the
    shown score, so two old bests of 8.04 and 7.96 (both shown 8.0) tie, and the earlier one leads."""
    from alembic import command

    db: Database = database_factory()

    def upgrade_to(revision: str) -> Callable[[sa.Connection], None]:
        return lambda conn: command.upgrade(alembic_config(conn), revision)

    async with db.write() as conn:
        await conn.run_sync(upgrade_to("r14_ratings"))
    t0 = datetime(2026, 11, 1, tzinfo=UTC).replace(tzinfo=None)
    t1 = t0 + timedelta(hours=1)
    rows = [
        "INSERT INTO communities (id, platform, external_id, season, created_at) "
        "VALUES (1, 'discord', '1000', 'monthly', :t0)",
        "INSERT INTO members (id, community_id, platform, user_id, display_name) VALUES (1, 1, 'discord', 'u1', 'A')",
        "INSERT INTO members (id, community_id, platform, user_id, display_name) VALUES (2, 1, 'discord', 'u2', 'B')",
        "INSERT INTO dances (id, community_id, name, pose_path, duration_s, added_by, added_by_user, added_at) "
        "VALUES (1, 1, 'renegade', 'p.npz', 10, 'Mod', 'discord:0', :t0)",
        "INSERT INTO dance_names (community_id, dance_id, key, shown, is_primary) VALUES (1, 1, 'renegade', "
        "'renegade', true)",
        "INSERT INTO attempts (id, community_id, dance_id, member_id, score, form, timing, parts, result, "
        "content_hash, submitted_at, recorded_at) VALUES (1, 1, 1, 1, 7.96, 70, 80, '{}', :r, 'h1', :t0, :t0)",
        "INSERT INTO attempts (id, community_id, dance_id, member_id, score, form, timing, parts, result, "
        "content_hash, submitted_at, recorded_at) VALUES (2, 1, 1, 2, 8.04, 70, 80, '{}', :r, 'h2', :t1, :t1)",
        "INSERT INTO bests (community_id, dance_id, member_id, period_key, score, points, achieved_at, attempt_id) "
        "VALUES (1, 1, 1, 'all', 7.96, 7960, :t0, 1)",
        "INSERT INTO bests (community_id, dance_id, member_id, period_key, score, points, achieved_at, attempt_id) "
        "VALUES (1, 1, 2, 'all', 8.04, 8040, :t1, 2)",
        "INSERT INTO totals (community_id, member_id, period_key, points, dances, reached) "
        "VALUES (1, 1, 'all', 7960, 1, :t0)",
        "INSERT INTO totals (community_id, member_id, period_key, points, dances, reached) "
        "VALUES (1, 2, 'all', 8040, 1, :t1)",
    ]
    async with db.write() as conn:
        for statement in rows:
            await conn.execute(sa.text(statement), {"t0": t0, "t1": t1, "r": json.dumps({"score": 8.0})})
    await db.migrate()
    world = World(db, tmp_path)
    board = await world.service.show_leaderboard(HERE, "renegade")
    assert [(e.user_id, e.score) for e in board.entries] == [("u1", 8.0), ("u2", 8.0)]
    overall = await world.service.show_leaderboard(HERE)
    assert [(e.user_id, e.score) for e in overall.entries] == [("u1", 8.0), ("u2", 8.0)]
