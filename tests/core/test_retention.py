"""Rendered clips and score cards hold users' whole videos: they are kept for the retention period (30 days
by default), and go with their dance; the scores themselves stay."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from bot.community_cli import register, run
from bot.config import Settings
from bot.gateways.scripted import ScriptedEngine

from .world import HERE, MOD, World, user

pytestmark = pytest.mark.asyncio


async def test_clips_and_cards_past_the_retention_are_deleted_and_the_scores_stay(world: World) -> None:
    s = world.service
    await s.add_dance(MOD, HERE, "renegade", world.video(duration=20))
    old = await s.submit_attempt(user(1), HERE, "renegade", world.video(score=5.0))
    world.clock.advance(days=20)
    recent = await s.submit_attempt(user(2), HERE, "renegade", world.video(score=6.0))
    files = [Path(a.attempt.clip_path) for a in (old, recent)] + [Path(a.attempt.card_path) for a in (old, recent)]
    assert all(f.is_file() for f in files)
    world.clock.advance(days=11)  # the first attempt is 31 days old, the second 11

    assert await s.prune_media(30) == 2
    assert [f.is_file() for f in files] == [False, True, False, True]
    [kept_old] = (await s.show_profile(user(1), HERE)).attempts
    assert (kept_old.score, kept_old.clip_path, kept_old.card_path) == (5.0, None, None)
    board = await s.show_leaderboard(HERE, "renegade")
    assert [(e.user_id, e.score) for e in board.entries] == [("u2", 6.0), ("u1", 5.0)]
    assert await s.prune_media(30) == 0  # nothing left to delete; safe to run again


async def test_removing_a_dance_deletes_its_reference_video_and_its_attempts_media(world: World) -> None:
    s = world.service
    dance = await s.add_dance(MOD, HERE, "renegade", world.video(duration=20))
    scored = await s.submit_attempt(user(1), HERE, "renegade", world.video(score=5.0))
    media = [Path(scored.attempt.clip_path), Path(scored.attempt.card_path), Path(dance.reference_video)]
    assert all(p.is_file() for p in media)
    await s.remove_dance(MOD, HERE, "renegade")
    assert not any(p.exists() for p in media)
    [attempt] = (await s.show_profile(user(1), HERE)).attempts
    assert attempt.score == 5.0 and attempt.clip_path is None  # the history stays


async def test_operators_prune_from_the_command_line(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="dancescore")
    register(parser.add_subparsers(dest="command", required=True))
    settings = Settings(data_dir=tmp_path, db_url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    out = io.StringIO()
    assert await run(parser.parse_args(["prune"]), settings, engine=ScriptedEngine(), out=out) == 0
    assert out.getvalue() == "deleted 0 clip(s) and card(s) older than 30 days; the scores stay\n"
    off = Settings(data_dir=tmp_path, db_url=settings.db_url, retention_days=None)
    assert await run(parser.parse_args(["prune"]), off, engine=ScriptedEngine(), out=out) == 1
    assert await run(parser.parse_args(["prune", "--days", "7"]), off, engine=ScriptedEngine(), out=out) == 0
