"""Boards people would rather look at (issue 13), through both real libraries: the leaderboard as a podium
picture with the asker's own rank, `/me <dance>` as a progress chart, and a closed challenge announced with
the final podium and the winners' score cards."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from bot import runner
from bot.bootstrap import Services
from bot.core.models import Caller, CommunityRef
from bot.discord.bot import DanceScoreBot
from tests.bots.conftest import CHAT, MOD, Community, TelegramWorld

pytestmark = pytest.mark.asyncio
TELEGRAM = CommunityRef("telegram", str(CHAT))


def picture(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def fill_board(community: Community, where: CommunityRef, platform: str, folder: Path, n: int) -> None:
    """`n` members on the renegade board, scored 9.0, 8.7, ... (member i+1 is called Dancer i+1)."""
    for i in range(n):
        video = folder / f"take{i}.txt"
        video.write_text(f"score={9.0 - 0.3 * i:.1f} take={i}")
        dancer = Caller(platform, str(100 + i), f"Dancer {i + 1}")
        await community.service.submit_attempt(dancer, where, "renegade", video)


@pytest.fixture
def simcord_bot(services: Services) -> DanceScoreBot:
    return DanceScoreBot(services)


async def test_telegram_leaderboard_is_a_podium_with_the_askers_rank(telegram: TelegramWorld, tmp_path: Path):
    api = telegram.api
    await fill_board(telegram.community, TELEGRAM, "telegram", tmp_path, 12)
    await api.send_text(CHAT, api.user(111, "Dancer 12"), "/leaderboard renegade")
    board = await api.wait_for(lambda m: m.method == "sendPhoto")
    lines = board.body.splitlines()
    assert lines[:2] == ["renegade · all time · scorer v2", "1. Dancer 1: 9.0"]
    assert lines[-1] == "You: rank 12 of 12 · 5.7"  # not among the ten shown: said beneath
    image = picture(board.files["photo"][1])
    assert image.format == "PNG" and image.width == 1080 and image.height > 1300
    for _ in range(100):  # sent, then deleted
        if not list(telegram.services.flow.work_dir.iterdir()):
            break
        await asyncio.sleep(0.02)
    assert list(telegram.services.flow.work_dir.iterdir()) == []


async def test_telegram_me_with_a_dance_is_a_progress_chart(telegram: TelegramWorld, tmp_path: Path):
    api, core = telegram.api, telegram.services.community
    ana = Caller("telegram", "7", "Ana")
    for i, score in enumerate((5.5, 6.2, 7.4)):
        video = tmp_path / f"ana{i}.txt"
        video.write_text(f"score={score} take={i}")
        await core.submit_attempt(ana, TELEGRAM, "renegade", video)
        core.clock.advance(days=2)
    await api.send_text(CHAT, api.user(7, "Ana"), "/me renegade")
    chart = await api.wait_for(lambda m: m.method == "sendPhoto")
    assert chart.body == (
        "Ana · renegade: 3 attempts, best 7.4, rank 1 of 1, latest 7.4 on 2026-11-06; +1.9 since your first."
    )
    assert picture(chart.files["photo"][1]).size == (1080, 760)
    await api.send_text(CHAT, api.user(8, "Ben"), "/me renegade")
    none = await api.wait_for(lambda m: m.body.startswith("You have no attempts at “renegade”"))
    assert none.method == "sendMessage"
    await api.send_text(CHAT, api.user(8, "Ben"), "/me tango")
    await api.wait_for(lambda m: m.body.startswith("There is no dance called “tango” here."))


async def test_telegram_challenge_results_come_with_the_podium_and_the_winners_cards(
    telegram: TelegramWorld, tmp_path: Path
):
    api, core = telegram.api, telegram.services.community
    await core.start_challenge(MOD, TELEGRAM, "renegade", timedelta(days=1), channel=str(CHAT))
    await fill_board(telegram.community, TELEGRAM, "telegram", tmp_path, 4)
    await core.end_challenge(MOD, TELEGRAM)
    post = runner.telegram_poster(telegram.application, telegram.services)
    assert await runner.announce_once(core, "telegram", post, "test") == 1
    album = [m for m in api.sent if m.method == "sendMediaGroup"]
    assert len(album) == 4  # the podium, then the first three's score cards
    assert album[0].body.startswith("Challenge #1 (renegade) is over!\nWinner: Dancer 1 with 9.0.")
    assert picture(album[0].files["photo"][1]).width == 1080
    [winner] = (await core.show_profile(Caller("telegram", "100", "Dancer 1"), TELEGRAM)).attempts
    assert album[1].files["photo"][1] == Path(winner.card_path).read_bytes()  # the winner's own score card


async def test_discord_leaderboard_me_and_challenge_results_are_pictures(simcord_env, community, tmp_path: Path):
    guild = simcord_env.create_guild()
    channel = guild.create_text_channel("dance-floor")
    where = CommunityRef("discord", str(guild.id))
    await community.add_dance(where, "renegade")
    await community.service.start_challenge(MOD, where, "renegade", timedelta(days=1), channel=str(channel.id))
    ana = guild.add_member(simcord_env.create_user("ana"))
    await fill_board(community, where, "discord", tmp_path, 3)
    video = tmp_path / "ana.txt"
    video.write_text("score=6.1")
    await ana.slash(channel, "score", dance="renegade", video=("a.mp4", video.read_bytes()))

    board = await ana.slash(channel, "leaderboard", dance="renegade")
    assert board.response.content.splitlines()[-1] == "4. ana: 6.1"
    [attachment] = board.response.attachments
    assert picture(await attachment.read()).width == 1080

    me = await ana.slash(channel, "me", dance="renegade")
    assert me.ephemeral and me.response.content.startswith("ana · renegade: 1 attempt, best 6.1, rank 4 of 4")
    assert [a.filename.endswith(".png") for a in me.response.attachments] == [True]

    await community.service.end_challenge(MOD, where)
    assert await runner.announce_once(community.service, "discord", runner.discord_poster(simcord_env.bot), "t") == 1
    await simcord_env.settle()
    results = channel.last_message
    assert results.content.startswith("Challenge #1 (renegade) is over!\nWinner: Dancer 1 with 9.0.")
    assert [a.filename for a in results.attachments] == ["results.png", "winner-1.png", "winner-2.png", "winner-3.png"]


async def test_pictures_survive_names_the_font_lacks(telegram: TelegramWorld, tmp_path: Path):
    api = telegram.api
    core = telegram.services.community
    for i, name in enumerate(("Chloé 💃", "李小龍", "x" * 120)):
        video = tmp_path / f"v{i}.txt"
        video.write_text(f"score={8 - i} take={i}")
        await core.submit_attempt(Caller("telegram", str(300 + i), name), TELEGRAM, "renegade", video)
    await api.send_text(CHAT, api.user(300, "Chloé 💃"), "/leaderboard renegade")
    board = await api.wait_for(lambda m: m.method == "sendPhoto")
    assert "1. Chloé 💃: 8.0" in board.body
    assert picture(board.files["photo"][1]).width == 1080
