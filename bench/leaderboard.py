"""Leaderboard benchmark: 100k attempts in one community, then time the board queries.

    .venv/bin/python bench/leaderboard.py                       # SQLite (temp file) and, if set,
                                                                 # PostgreSQL at DANCESCORE_TEST_POSTGRES_URL
    .venv/bin/python bench/leaderboard.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test

The bulk load writes attempts and their `bests` rows directly (the same "best per user, ties to the
earlier attempt" rule the store applies), because 100k single transactions would only measure the load.
Then it records `--live` more attempts through the real `SqlCommunityStore.record_attempt` path (with
100k rows present) and times the queries the bots run: a dance board (all time, season, challenge), the
overall board, a user's rank, and `/me`. Each query is run `--repeat` times; median and p95 are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.models import Caller, CommunityRef, Season, board_points
from bot.core.ports import AttemptRecord, NewDance
from bot.core.seasons import ALL_TIME, format_challenge_key, format_month_key, list_season_keys
from bot.storage.database import Database
from bot.storage.repository import SqlCommunityStore
from bot.storage.tables import attempts, bests, members, totals

START = datetime(2026, 5, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


async def load(store: SqlCommunityStore, n_attempts: int, n_members: int, n_dances: int, seed: int) -> dict:
    """Create one busy community (plus a quieter neighbour) and bulk-load its attempts."""
    rng = random.Random(seed)
    db = store.db
    community = await store.ensure_community(CommunityRef("discord", "bench"), START, Season.MONTHLY)
    neighbour = await store.ensure_community(CommunityRef("telegram", "-100bench"), START, Season.MONTHLY)
    dance_ids = []
    for c, count in ((community, n_dances), (neighbour, 3)):
        for i in range(count):
            dance = await store.add_dance(
                NewDance(c.id, f"dance {i}", [(f"dance{i}", f"dance {i}")], "x.npz", None, 30.0, "bench", "b:1", START)
            )
            if c is community:
                dance_ids.append(dance.id)
    challenge = await store.start_challenge(
        community.id, dance_ids[0], "bench", NOW - timedelta(days=3), NOW + timedelta(days=4), None
    )
    async with db.write() as conn:
        await conn.execute(
            members.insert(),
            [
                dict(community_id=community.id, platform="discord", user_id=f"u{i}", display_name=f"User {i}")
                for i in range(n_members)
            ],
        )
        member_ids = list(
            (await conn.execute(sa.select(members.c.id).where(members.c.community_id == community.id))).scalars()
        )
    span = (NOW - START).total_seconds()
    rows, best = [], {}
    for attempt_id in range(1, n_attempts + 1):
        dance_id = dance_ids[min(int(rng.expovariate(0.25)), n_dances - 1)]  # a few popular dances
        member_id = member_ids[
            min(int(rng.paretovariate(1.2)) - 1, n_members - 1) if rng.random() < 0.3 else rng.randrange(n_members)
        ]
        at = START + timedelta(seconds=rng.random() * span)
        score = round(rng.triangular(1.0, 10.0, 6.5), 2)
        rows.append(
            dict(
                id=attempt_id,
                community_id=community.id,
                dance_id=dance_id,
                member_id=member_id,
                challenge_id=None,
                score=score,
                form=score * 10,
                timing=score * 10,
                parts={"arms": score * 10},
                result={"score": score},
                content_hash=uuid.uuid4().hex,
                clip_path=None,
                card_path=None,
                submitted_at=at,
                recorded_at=at,
            )
        )
        keys = [ALL_TIME, *list_season_keys(at)]
        if dance_id == challenge.dance_id and challenge.starts_at <= at < challenge.ends_at:
            keys.append(format_challenge_key(challenge.id))
            rows[-1]["challenge_id"] = challenge.id
        for key in keys:
            held = best.get((dance_id, member_id, key))
            if held is None or (board_points(score), -at.timestamp()) > (board_points(held[0]), -held[1].timestamp()):
                best[(dance_id, member_id, key)] = (score, at, attempt_id)
    t0 = time.perf_counter()
    async with db.write() as conn:
        for i in range(0, len(rows), 5000):
            await conn.execute(attempts.insert(), rows[i : i + 5000])
        best_rows, sums = [], {}
        for (d, m, k), (score, at, a) in best.items():
            points = board_points(score)  # boards rank and add up the score as shown
            best_rows.append(
                dict(
                    community_id=community.id,
                    dance_id=d,
                    member_id=m,
                    period_key=k,
                    score=score,
                    points=points,
                    achieved_at=at,
                    attempt_id=a,
                )
            )
            held = sums.get((m, k), (0, 0, at))
            sums[(m, k)] = (held[0] + points, held[1] + 1, max(held[2], at))
        for i in range(0, len(best_rows), 5000):
            await conn.execute(bests.insert(), best_rows[i : i + 5000])
        total_rows = [
            dict(community_id=community.id, member_id=m, period_key=k, points=p, dances=n, reached=at)
            for (m, k), (p, n, at) in sums.items()
        ]
        for i in range(0, len(total_rows), 5000):
            await conn.execute(totals.insert(), total_rows[i : i + 5000])
        if db.dialect == "postgresql":
            await conn.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('attempts', 'id'), :n)"), {"n": n_attempts}
            )
            await conn.execute(sa.text("ANALYZE"))
    if db.dialect == "sqlite":
        async with db.write() as conn:
            await conn.execute(sa.text("ANALYZE"))
    return dict(
        community=community,
        dances=dance_ids,
        challenge=challenge,
        load_s=time.perf_counter() - t0,
        bests=len(best_rows),
        members=member_ids,
    )


async def timed(repeat: int, query: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    for _ in range(3):
        await query()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await query()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


async def bench(db: Database, args: argparse.Namespace) -> list[tuple[str, float, float]]:
    await db.migrate()
    store = SqlCommunityStore(db)
    world = await load(store, args.attempts, args.members, args.dances, args.seed)
    community, dance0 = world["community"], world["dances"][0]
    print(f"  loaded {args.attempts} attempts ({world['bests']} board rows) in {world['load_s']:.1f} s")

    # live writes through the real path, with the big tables in place
    t0 = time.perf_counter()
    for i in range(args.live):
        at = NOW + timedelta(seconds=i)
        await store.record_attempt(
            AttemptRecord(
                None,
                community.id,
                dance0,
                "dance 0",
                Caller("discord", f"live{i % 50}", f"Live {i % 50}"),
                5 + (i % 50) / 10,
                50.0,
                50.0,
                {"arms": 50.0},
                {},
                uuid.uuid4().hex,
                None,
                None,
                at,
                at,
                list_season_keys(at),
            )
        )
    write_ms = (time.perf_counter() - t0) * 1000 / max(1, args.live)

    someone = Caller("discord", "u1", "User 1")
    queries = {
        "dance board, all time (top 10)": lambda: store.read_dance_board(dance0, ALL_TIME, 10),
        "dance board, this season (top 10)": lambda: store.read_dance_board(dance0, format_month_key(NOW), 10),
        "dance board, challenge (top 10)": lambda: store.read_dance_board(
            dance0, format_challenge_key(world["challenge"].id), 10
        ),
        "overall board, all time (top 10)": lambda: store.read_overall_board(community.id, ALL_TIME, 10),
        "overall board, this season (top 10)": lambda: store.read_overall_board(
            community.id, format_month_key(NOW), 10
        ),
        "one user's rank on a dance": lambda: store.find_dance_standing(dance0, ALL_TIME, someone),
        "/me (history + every rank)": lambda: asyncio.gather(
            store.list_attempts(community.id, someone, 10), store.list_standings(community.id, someone, ALL_TIME)
        ),
    }
    figures = [("record one attempt (write path)", write_ms, write_ms)]
    for name, query in queries.items():
        figures.append((name, *await timed(args.repeat, query)))
    return figures


def report(title: str, figures: list[tuple[str, float, float]]) -> None:
    print(f"\n{title}\n  {'query':<40} {'median ms':>10} {'p95 ms':>8}")
    for name, median, p95 in figures:
        print(f"  {name:<40} {median:>10.2f} {p95:>8.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--dances", type=int, default=20)
    parser.add_argument("--live", type=int, default=200, help="attempts recorded through the real path")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sqlite", type=Path, help="SQLite file to create (default: a temporary one)")
    parser.add_argument("--postgres", default=os.environ.get("DANCESCORE_TEST_POSTGRES_URL"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.sqlite or Path(tmp) / "bench.db"
        path.unlink(missing_ok=True)
        db = Database(f"sqlite+aiosqlite:///{path}")
        print(f"SQLite {sa.__version__=} at {path}")
        try:
            report(f"SQLite, {args.attempts} attempts", await bench(db, args))
        finally:
            await db.dispose()

    if not args.postgres:
        print("\nPostgreSQL skipped: pass --postgres URL or set DANCESCORE_TEST_POSTGRES_URL")
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(args.postgres)
    async with admin.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db = Database(args.postgres, schema=schema)
    print(f"\nPostgreSQL at {db.url.render_as_string(hide_password=True)}, schema {schema}")
    try:
        report(f"PostgreSQL, {args.attempts} attempts", await bench(db, args))
    finally:
        await db.dispose()
        async with admin.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
