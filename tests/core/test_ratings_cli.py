"""`dancescore calibrate` and `dancescore rescore` through the real argument parser, on a real SQLite file."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from bot.bootstrap import bootstrap
from bot.cli import build_parser
from bot.config import Settings
from bot.core.models import Caller, CommunityRef, Limits
from bot.gateways.scripted import ScriptedEngine
from bot.ratings_cli import run
from tests.fakes.raters import load_world, make_world

pytestmark = pytest.mark.asyncio

HERE = CommunityRef("telegram", "-100")
MOD = Caller("cli", "mod", "Mod", is_moderator=True)


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(argv)


async def test_calibrate_writes_a_version_only_with_enough_ratings_then_rescore(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        limits=Limits(rate_limit=10_000),
    )
    engine = ScriptedEngine()
    reference = tmp_path / "reference.txt"
    reference.write_text("duration=10\n")

    async def cli(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        status = await run(parse(*argv), settings, engine=engine, out=out)
        return status, out.getvalue()

    async with bootstrap(settings, engine=engine) as services:
        await services.community.add_dance(MOD, HERE, "renegade", reference)
        await load_world(make_world(40, seed=5), services.community, HERE, "renegade")
    status, text = await cli("calibrate", "--community", str(HERE))
    assert status == 1
    assert "Only 40 ratings from members other than the dancer; a calibration needs at least 100." in text
    assert text.rstrip().endswith("no calibration written")
    assert not (tmp_path / "data" / "calibrations").exists()

    async with bootstrap(settings, engine=engine) as services:
        await load_world(make_world(300, seed=0), services.community, HERE, "renegade")
    status, text = await cli("calibrate")
    assert status == 0, text
    lines = text.splitlines()
    assert lines[0].startswith("all communities: 340 ratings from ")
    calibration_row = next(line.split() for line in lines if line.strip().startswith("calibration"))
    current_row = next(line.split() for line in lines if line.strip().startswith("current (v2)"))
    assert float(calibration_row[1]) < float(current_row[2])  # held-out MAE below the shipped scorer's
    assert "wrote v2-cal1 (use it with /scorer use v2-cal1)" in text
    assert (tmp_path / "data" / "calibrations" / "v2-cal1.json").is_file()

    status, text = await cli("rescore", "--community", str(HERE), "--version", "v2-cal1")
    assert status == 0 and text.startswith("Re-scored 114 attempts with v2-cal1; the boards are rebuilt.")
    status, _ = await cli("rescore", "--community", str(HERE), "--version", "v7")
    assert status == 1 and "There is no scorer “v7” for this community" in capsys.readouterr().err
