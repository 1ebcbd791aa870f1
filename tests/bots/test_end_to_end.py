"""Both bots on the real engine, end to end: a real dance clip sent through each platform's real library,
analysed by the real pose estimator and scorer, the reply checked for a real score.

tests/data/squat_*.mp4: "Squat - exercise demonstration video" by FitnessScape, CC BY 3.0 (attribution in
tests/data). The attempt is the same performance zoomed and shifted, so it must score as a near-perfect match.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import pytest_asyncio

from bot.bootstrap import engine_settings
from bot.core.models import CommunityRef
from bot.discord.bot import DanceScoreBot
from engine.pool import InlinePool, PoolSettings
from tests.bots.conftest import CHAT, MOD, built, running_telegram, settings_in

DATA = Path(__file__).resolve().parents[1] / "data"
REFERENCE = DATA / "squat_reference.mp4"
ATTEMPT = DATA / "squat_zoomed_offset.mp4"

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]
SCORE_LINE = re.compile(r"^squat: (\d+\.\d) / 10")


def real_engine_pool(folder: Path) -> InlinePool:
    """The real engine, on the pool's thread backend (this test process does the work)."""
    return InlinePool(engine_settings(settings_in(folder)), PoolSettings(workers=1))


def sent_files_match_engine(folder: Path, sent_names: list[str]) -> None:
    """Whatever clip and card the engine rendered were the files sent, and nothing else."""
    rendered = sorted(p.suffix for p in folder.rglob("*") if p.suffix in {".mp4", ".png"})
    assert sorted(Path(n).suffix for n in sent_names) == rendered


async def test_telegram_scores_a_real_clip_with_the_real_engine(database, tmp_path: Path):
    where = CommunityRef("telegram", str(CHAT))
    # the platform's own pace of progress edits
    async with built(database, tmp_path, None, pool=real_engine_pool(tmp_path)) as services:
        await services.community.add_dance(MOD, where, "squat", REFERENCE)
        async with running_telegram(services) as (api, _):
            await api.send_video(CHAT, api.user(7, "Ana"), ATTEMPT.read_bytes(), caption="/score squat")
            await api.wait_for(lambda m: m.method == "sendPhoto", timeout=240)  # the card comes last
            media = [m for m in api.sent if m.method in {"sendVideo", "sendPhoto"}]
            assert [m.method for m in media] == ["sendVideo", "sendPhoto"]
            result = SCORE_LINE.match(media[0].body)  # the result is the clip's caption
            assert result is not None and float(result.group(1)) >= 8.0  # the same performance, zoomed and shifted
            status = api.sent[0]  # "Analysing…": a job this short shows a group no progress, and it is deleted
            assert status.edits == ["Analysing…"] and status.deleted
            sent_files_match_engine(tmp_path / "media" / "attempts", [n for m in media for n, _ in m.files.values()])
        assert list((tmp_path / "work").iterdir()) == []


@pytest_asyncio.fixture
async def real_services(database, tmp_path: Path):
    async with built(database, tmp_path, 0.5, pool=real_engine_pool(tmp_path)) as services:
        yield services


@pytest.fixture
def simcord_bot(real_services):
    return DanceScoreBot(real_services)


@pytest.mark.simcord(settle_timeout=240)
async def test_discord_scores_a_real_clip_with_the_real_engine(simcord_env, real_services, tmp_path: Path):
    guild = simcord_env.create_guild()
    channel = guild.create_text_channel("dance-floor")
    await real_services.community.add_dance(MOD, CommunityRef("discord", str(guild.id)), "squat", REFERENCE)
    ana = guild.add_member(simcord_env.create_user("ana"))
    result = await ana.slash(channel, "score", dance="squat", video=("squat.mp4", ATTEMPT.read_bytes()))
    match = SCORE_LINE.match(result.response.content)
    assert match is not None, result.response.content
    assert float(match.group(1)) >= 8.0
    sent_files_match_engine(tmp_path / "media" / "attempts", [a.filename for a in result.response.attachments])
    assert list((tmp_path / "work").iterdir()) == []
