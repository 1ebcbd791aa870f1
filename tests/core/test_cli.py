"""The moderator CLI through its real argument parser, on a real SQLite file."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from bot.community_cli import register, run
from bot.config import Settings
from bot.gateways.scripted import ScriptedEngine, write_clip

pytestmark = pytest.mark.asyncio


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dancescore")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


async def test_moderator_cli_adds_lists_and_shows_boards(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    settings = Settings(data_dir=tmp_path, db_url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    engine = ScriptedEngine()
    video = tmp_path / "ref.mp4"
    video.write_text("duration=12\n")

    async def cli(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        status = await run(parse(*argv), settings, engine=engine, out=out)
        return status, out.getvalue()

    status, text = await cli("dance", "add", "Renegade", str(video), "--community", "discord:42", "--alias", "rngd")
    assert status == 0 and "added “Renegade” (also: rngd): 12.0 s reference" in text
    assert Path(text.split("poses in ")[1].strip()).is_file()

    status, text = await cli("dance", "list")
    assert status == 0 and "discord:42: 1 dance(s)" in text and "Renegade (also: rngd)" in text

    status, text = await cli("leaderboard")  # the only community is chosen
    assert status == 0 and "discord:42 · overall · all time" in text and "(no attempts yet)" in text

    status, _ = await cli("dance", "add", "renegade", str(video), "--community", "discord:42")
    assert status == 1 and "already exists" in capsys.readouterr().err
    status, _ = await cli("leaderboard", "--community", "discord:42", "--dance", "macarena")
    assert status == 1 and "There is no dance called “macarena” here" in capsys.readouterr().err
    status, _ = await cli("leaderboard", "--community", "42")
    assert status == 1 and "platform:id" in capsys.readouterr().err
    status, text = await cli("dance", "remove", "renegade", "--community", "discord:42")
    assert status == 0 and "removed “Renegade”" in text


@pytest.mark.slow
async def test_the_engine_gets_the_same_limits_as_the_core(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """DANCESCORE_MAX_DURATION_S=300: a 200 s reference is within it for the core and for the engine (which
    once ran with its own default of 180 s and refused what the core had accepted)."""
    settings = Settings.from_env(
        {
            "DANCESCORE_DATA_DIR": str(tmp_path),
            "DANCESCORE_MAX_DURATION_S": "300",
            "DANCESCORE_MAX_MB": "500",
        },
        env_file=None,
    )
    long_video = write_clip(tmp_path / "long.mp4", frames=200 * 12, size=(32, 32))  # 200 s of nobody
    status = await run(parse("dance", "add", "Long", str(long_video), "--community", "discord:42"), settings)
    error = capsys.readouterr().err
    assert status == 1 and "no person found" in error, error  # analysed by the real engine, not refused
