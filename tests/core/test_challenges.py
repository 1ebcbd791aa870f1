"""Challenges: the window, one per dance, closing by itself (also after downtime), results announced once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.bootstrap import bootstrap
from bot.config import Settings
from bot.core.durations import parse_duration
from bot.core.errors import ChallengeError, InvalidInputError, NotModeratorError
from bot.core.models import Period

from .world import ELSEWHERE, HERE, MOD, World, user

pytestmark = pytest.mark.asyncio


async def setup_dances(world: World, *names: str) -> None:
    for name in names:
        await world.service.add_dance(MOD, HERE, name, world.video())


async def test_attempts_inside_the_window_count(world: World) -> None:
    await setup_dances(world, "renegade", "savage")
    s = world.service
    await s.submit_attempt(user(1), HERE, "renegade", world.video(score=9.5))  # before: does not count
    world.clock.advance(minutes=1)
    challenge = await s.start_challenge(MOD, HERE, "renegade", parse_duration("2h"), channel="general")
    assert challenge.is_open and challenge.ends_at - challenge.starts_at == timedelta(hours=2)
    world.clock.advance(minutes=10)
    scored = await s.submit_attempt(user(2), HERE, "renegade", world.video(score=6.0))
    assert scored.challenge is not None and scored.challenge.id == challenge.id
    assert scored.challenge_standing is not None and scored.challenge_standing.rank == 1
    await s.submit_attempt(user(3), HERE, "renegade", world.video(score=7.0))
    other = await s.submit_attempt(user(3), HERE, "savage", world.video(score=9.0))
    assert other.challenge is None  # no challenge on that dance

    [status] = await s.show_challenges(HERE)
    assert [e.user_id for e in status.standings] == ["u3", "u2"]
    assert status.seconds_left == pytest.approx(110 * 60)
    board = await s.show_leaderboard(HERE, period=Period.CHALLENGE)
    assert board.dance == "renegade" and [e.score for e in board.entries] == [7.0, 6.0]
    assert board.period_label == f"challenge #{challenge.id} (renegade)"

    world.clock.advance(hours=2)
    late = await s.submit_attempt(user(4), HERE, "renegade", world.video(score=10.0))
    assert late.challenge is None  # after the deadline


async def test_one_open_challenge_per_dance_and_only_moderators(world: World) -> None:
    await setup_dances(world, "renegade", "savage")
    s = world.service
    with pytest.raises(NotModeratorError, match="Only moderators can run challenges"):
        await s.start_challenge(user(1), HERE, "renegade", timedelta(hours=1))
    await s.start_challenge(MOD, HERE, "renegade", timedelta(hours=1))
    with pytest.raises(ChallengeError, match="already running; it ends in 60 min"):
        await s.start_challenge(MOD, HERE, "Renegade", timedelta(days=1))
    await s.start_challenge(MOD, HERE, "savage", timedelta(days=1))  # another dance may run beside it
    with pytest.raises(InvalidInputError, match="from 60 s to 90 days"):
        await s.start_challenge(MOD, HERE, "savage", timedelta(seconds=5))
    with pytest.raises(ChallengeError, match="Several challenges are running"):
        await s.end_challenge(MOD, HERE)
    with pytest.raises(NotModeratorError):
        await s.end_challenge(user(1), HERE, "savage")
    assert len(await s.show_challenges(HERE)) == 2
    assert await s.show_challenges(ELSEWHERE) == []


async def test_early_end_closes_and_announces(world: World) -> None:
    await setup_dances(world, "renegade")
    s = world.service
    with pytest.raises(ChallengeError, match="No challenge is running"):
        await s.end_challenge(MOD, HERE)
    await s.start_challenge(MOD, HERE, "renegade", timedelta(days=3))
    await s.submit_attempt(user(1), HERE, "renegade", world.video(score=5.0))
    world.clock.advance(hours=1)
    ended = await s.end_challenge(MOD, HERE, "renegade")
    assert ended.close_reason == "ended early" and not ended.is_open
    after = await s.submit_attempt(user(2), HERE, "renegade", world.video(score=9.0))
    assert after.challenge is None
    [announcement] = await s.claim_announcements("discord", "bot-a")
    assert announcement.community == HERE
    assert [(e.rank, e.user_id, e.score) for e in announcement.standings] == [(1, "u1", 5.0)]
    assert await s.claim_announcements("telegram", "bot-b") == []  # only the community's platform
    # a new challenge on the same dance may start once the old one has closed
    await s.start_challenge(MOD, HERE, "renegade", timedelta(hours=1))


async def test_challenge_that_ends_while_the_process_is_down(database_factory, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = World(database_factory(), tmp_path)
    async with bootstrap(settings, engine=first.engine, clock=first.clock, database=first.db) as services:
        s = services.community
        await s.add_dance(MOD, HERE, "renegade", first.video())
        await s.start_challenge(MOD, HERE, "renegade", timedelta(hours=1), channel="#dance")
        await s.submit_attempt(user(1), HERE, "renegade", first.video(score=6.0))
        await s.submit_attempt(user(2), HERE, "renegade", first.video(score=8.0))
    await first.db.dispose()  # the process stops; the deadline passes while it is down
    first.clock.advance(hours=5)

    restarted_db = database_factory()
    async with bootstrap(settings, engine=first.engine, clock=first.clock, database=restarted_db) as services:
        s = services.community
        assert await s.show_challenges(HERE) == []  # closed on start
        board = await s.show_leaderboard(HERE, period="challenge")
        assert board.challenge is not None and board.challenge.close_reason == "deadline"
        assert board.challenge.closed_at == first.clock.now()
        [announcement] = await s.claim_announcements("discord", "bot-1")
        assert announcement.challenge.channel == "#dance"
        assert [e.user_id for e in announcement.standings] == ["u2", "u1"]
        assert await s.confirm_announcement(announcement, "bot-1")
    # another restart finds nothing more to close or to announce
    async with bootstrap(settings, engine=first.engine, clock=first.clock, database=database_factory()) as services:
        s = services.community
        assert await s.close_due_challenges() == []
        first.clock.advance(hours=1)
        assert await s.claim_announcements("discord", "bot-2") == []


async def test_results_are_announced_exactly_once_across_processes(world: World) -> None:
    await setup_dances(world, "renegade")
    await world.service.start_challenge(MOD, HERE, "renegade", timedelta(hours=1))
    await world.service.submit_attempt(user(1), HERE, "renegade", world.video(score=7.0))
    world.clock.advance(hours=1, seconds=1)
    # several bot processes notice the deadline at the same moment
    services = [world.make_service() for _ in range(4)]
    closed = await asyncio.gather(*(s.close_due_challenges() for s in services))
    assert sorted(len(c) for c in closed) == [0, 0, 0, 1]
    claims = await asyncio.gather(*(s.claim_announcements("discord", f"bot-{i}") for i, s in enumerate(services)))
    winners = [i for i, got in enumerate(claims) if got]
    assert len(winners) == 1 and len(claims[winners[0]]) == 1
    winner, announcement = f"bot-{winners[0]}", claims[winners[0]][0]

    # while the claim holds, nobody else gets it
    world.clock.advance(seconds=60)
    assert await world.service.claim_announcements("discord", "late") == []
    # the claimer died without confirming: after the lease another bot takes over...
    world.clock.advance(seconds=world.service.announce_lease_s)
    [again] = await world.service.claim_announcements("discord", "rescuer")
    assert again.id == announcement.id
    assert not await world.service.confirm_announcement(announcement, winner)  # the old claim lapsed
    assert await world.service.confirm_announcement(again, "rescuer")
    # ...and once confirmed it is never handed out again
    world.clock.advance(days=1)
    assert await world.service.claim_announcements("discord", "anyone") == []


async def test_deadline_waits_for_attempts_submitted_in_time(world: World) -> None:
    await setup_dances(world, "renegade")
    s = world.service
    await s.start_challenge(MOD, HERE, "renegade", timedelta(hours=1))
    world.clock.advance(minutes=59)
    world.engine.gate = asyncio.Event()
    pending = asyncio.create_task(s.submit_attempt(user(1), HERE, "renegade", world.video(score=8.0)))
    while world.engine.calls < 2:
        await asyncio.sleep(0.01)
    world.clock.advance(minutes=2)  # past the deadline while the attempt is being scored
    assert await s.close_due_challenges() == []
    world.engine.gate.set()
    scored = await pending
    assert scored.challenge is not None
    [closed] = await s.close_due_challenges()
    [announcement] = await s.claim_announcements("discord", "bot")
    assert announcement.challenge.id == closed.id and [e.user_id for e in announcement.standings] == ["u1"]


async def test_challenge_clock_closes_at_the_deadline(world: World) -> None:
    await setup_dances(world, "renegade")
    s = world.service
    await s.start_challenge(MOD, HERE, "renegade", timedelta(minutes=5))
    stop = asyncio.Event()
    clock_task = asyncio.create_task(s.run_challenge_clock(stop, poll_s=0.05))
    await asyncio.sleep(0.2)
    assert len(await s.show_challenges(HERE)) == 1
    world.clock.advance(minutes=5)
    for _ in range(100):
        if not await s.show_challenges(HERE):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(clock_task, 5)
    assert await s.show_challenges(HERE) == []
    assert len(await s.claim_announcements("discord", "bot")) == 1
