"""Storage: migrations from empty and again, concurrent submissions on one board, all-or-nothing writes."""

from __future__ import annotations

import asyncio
import json
import random
import warnings
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.core.errors import JobRunningError
from bot.core.models import Caller, board_points
from bot.storage.database import Database, alembic_config
from bot.storage.tables import metadata

from .world import HERE, MOD, World, user

pytestmark = pytest.mark.asyncio

EXPRESSION_INDEXES = {"ix_bests_board", "ix_totals_board"}


async def test_migrations_build_the_schema_from_empty_and_rerun_safely(database_factory) -> None:
    db: Database = database_factory()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()  # one head: a single chain
    assert await db.revision() is None
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    await db.migrate()
    assert await db.revision() == head
    await db.migrate()  # a second start changes nothing
    await asyncio.gather(*(database_factory().migrate() for _ in range(3)))  # nor do concurrent starts
    assert await db.revision() == head

    def differences(conn: sa.Connection) -> list[object]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = compare_metadata(MigrationContext.configure(conn), metadata)
        # Alembic cannot compare indexes on an expression (score DESC); they are checked by name below.
        return [d for d in found if not (d[0].endswith("_index") and d[1].name in EXPRESSION_INDEXES)]

    async with db.read() as conn:
        assert await conn.run_sync(differences) == []
        indexes = await conn.run_sync(
            lambda c: {i["name"] for t in ("bests", "totals") for i in sa.inspect(c).get_indexes(t)}
        )
    assert indexes >= EXPRESSION_INDEXES


async def test_tens_of_concurrent_submissions_lose_nothing_and_rank_correctly(world: World, database_factory) -> None:
    await world.service.add_dance(MOD, HERE, "renegade", world.video())
    world.clock.step_s = 0.001  # every reading of the clock is a distinct moment
    rng = random.Random(5)
    scores = [rng.choice([5.0, 6.5, 7.0, 8.0, 9.25]) for _ in range(40)]  # many ties
    videos = [world.video(score=s) for s in scores]
    # four processes' worth of connections: on SQLite only BEGIN IMMEDIATE keeps their writes apart
    services = [world.make_service(db=database_factory()) for _ in range(4)]
    results = await asyncio.gather(
        *(services[i % 4].submit_attempt(user(i), HERE, "renegade", video) for i, video in enumerate(videos))
    )
    board = await world.service.show_leaderboard(HERE, "renegade", limit=100)
    assert len(board.entries) == 40
    # ranked on the score as shown (9.25 shows 9.2), ties to the earlier attempt
    expected = sorted(results, key=lambda r: (-board_points(r.attempt.score), r.attempt.submitted_at, r.attempt.id))
    assert [e.user_id for e in board.entries] == [r.attempt.user_id for r in expected]
    assert [e.rank for e in board.entries] == list(range(1, 41))
    for rank, r in enumerate(expected, start=1):
        mine = await world.store.find_dance_standing(r.attempt.dance_id, "all", user(int(r.attempt.user_id[1:])))
        assert mine == (rank, 40, board_points(r.attempt.score) / 1000)
    overall = await world.service.show_leaderboard(HERE, limit=100)
    assert [e.user_id for e in overall.entries] == [e.user_id for e in board.entries]


async def test_one_user_sending_many_videos_at_once_gets_exactly_one_scored(world: World, database_factory) -> None:
    await world.service.add_dance(MOD, HERE, "renegade", world.video())
    world.engine.gate = asyncio.Event()
    services = [world.make_service(db=database_factory()) for _ in range(3)]
    tasks = [
        asyncio.create_task(services[i % 3].submit_attempt(user(1), HERE, "renegade", world.video(score=5 + i / 10)))
        for i in range(12)
    ]
    # release the one being scored only once every other request has been answered (refused)
    for _ in range(600):
        if sum(t.done() for t in tasks) == len(tasks) - 1:
            break
        await asyncio.sleep(0.05)
    world.engine.gate.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    scored = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, JobRunningError)]
    assert len(scored) == 1 and len(refused) == 11
    assert len((await world.service.show_profile(user(1), HERE)).attempts) == 1


async def test_a_failing_write_leaves_no_trace(world: World) -> None:
    await world.service.add_dance(MOD, HERE, "renegade", world.video())
    await world.service.submit_attempt(user(1), HERE, "renegade", world.video(score=6.0))

    class BoomError(Exception):
        pass

    with pytest.raises(BoomError):
        async with world.db.write() as conn:
            await conn.execute(sa.text("DELETE FROM bests"))
            await conn.execute(sa.text("DELETE FROM attempts"))
            raise BoomError
    assert [e.score for e in (await world.service.show_leaderboard(HERE, "renegade")).entries] == [6.0]
    assert len((await world.service.show_profile(user(1), HERE)).attempts) == 1


async def test_a_crashed_job_is_released_after_its_lease(world: World) -> None:
    await world.service.add_dance(MOD, HERE, "renegade", world.video())
    community = await world.store.find_community(HERE)
    [dance] = await world.service.list_dances(HERE)
    who = Caller("discord", "u9", "Crashy")
    limits = world.service.limits
    # a job claimed by a process that then died: nothing ever finishes it
    await world.store.start_job(
        who, community.id, dance.id, world.clock.now(), limit=100, window_s=3600, lease_s=limits.job_lease_s
    )
    with pytest.raises(JobRunningError):
        await world.service.submit_attempt(who, HERE, "renegade", world.video(score=5.0))
    world.clock.advance(seconds=limits.job_lease_s + 1)
    await world.service.submit_attempt(who, HERE, "renegade", world.video(score=5.0))


async def test_overall_totals_stay_equal_to_the_sum_of_bests(world: World) -> None:
    rng = random.Random(11)
    for name in ("a", "b", "c"):
        await world.service.add_dance(MOD, HERE, f"dance {name}", world.video())
    for _ in range(60):
        world.clock.advance(hours=rng.randrange(1, 200))  # across weeks and months
        dance = f"dance {rng.choice('abc')}"
        await world.service.submit_attempt(
            user(rng.randrange(6)), HERE, dance, world.video(score=rng.randrange(10, 100) / 10)
        )
    await world.service.remove_dance(MOD, HERE, "dance b")
    await world.service.submit_attempt(user(1), HERE, "dance a", world.video(score=9.9))

    async with world.db.read() as conn:  # the overall board adds up the bests as shown (one decimal)
        rows = (
            await conn.execute(
                sa.text("SELECT b.period_key, m.user_id, b.score FROM bests b JOIN members m ON m.id = b.member_id")
            )
        ).all()
    expected: dict[tuple[str, str], tuple[float, int]] = {}
    for r in rows:
        total, n = expected.get((r.period_key, r.user_id), (0.0, 0))
        expected[(r.period_key, r.user_id)] = (round(total + board_points(r.score) / 1000, 3), n + 1)
    seen = {}
    community = await world.store.find_community(HERE)
    for key in {k for k, _ in expected}:
        for e in await world.store.read_overall_board(community.id, key, None):
            seen[(key, e.user_id)] = (round(e.score, 3), e.dances)
    assert seen == expected and len({k for k, _ in expected}) > 3


async def test_attempts_scored_before_ratings_existed_can_be_rescored(database_factory) -> None:
    """The ratings migration fills in what re-scoring needs for attempts recorded before it: version v1, the
    score as base score, and the features their stored result kept."""
    from alembic import command

    db: Database = database_factory()

    def upgrade_to(revision: str) -> Callable[[sa.Connection], None]:
        return lambda conn: command.upgrade(alembic_config(conn), revision)

    async with db.write() as conn:
        await conn.run_sync(upgrade_to("harden_0001_job_owner"))
    now = datetime(2026, 11, 1, tzinfo=UTC).replace(tzinfo=None)
    result = {"score": 6.5, "features": {"form": 0.7, "timing": 0.8}, "scorer_version": "v1"}
    rows = [
        "INSERT INTO communities (id, platform, external_id, season, created_at) "
        "VALUES (1, 'discord', '9', 'monthly', :t)",
        "INSERT INTO members (id, community_id, platform, user_id, display_name) VALUES (1, 1, 'discord', 'u1', 'Ana')",
        "INSERT INTO dances (id, community_id, name, pose_path, duration_s, added_by, added_by_user, added_at) "
        "VALUES (1, 1, 'renegade', 'p.npz', 10, 'Mod', 'discord:0', :t)",
        "INSERT INTO attempts (id, community_id, dance_id, member_id, score, form, timing, parts, result, "
        "content_hash, submitted_at, recorded_at) VALUES (1, 1, 1, 1, 6.5, 70, 80, '{}', :result, 'h', :t, :t)",
        "INSERT INTO bests (community_id, dance_id, member_id, period_key, score, points, achieved_at, attempt_id) "
        "VALUES (1, 1, 1, 'all', 6.5, 6500, :t, 1)",
    ]
    async with db.write() as conn:
        for statement in rows:
            await conn.execute(sa.text(statement), {"t": now, "result": json.dumps(result)})
    await db.migrate()
    async with db.read() as conn:
        attempt = (await conn.execute(sa.text("SELECT * FROM attempts"))).one()
        best = (await conn.execute(sa.text("SELECT scorer_version FROM bests"))).scalar_one()
    features = attempt.features if isinstance(attempt.features, dict) else json.loads(attempt.features)
    assert (attempt.scorer_version, attempt.base_version, attempt.base_score, best) == ("v1", "v1", 6.5, "v1")
    assert features == {"form": 0.7, "timing": 0.8}
