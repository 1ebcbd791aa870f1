"""Telegram in a busy group (issue 13), through the real python-telegram-bot (its rate limiter on) against the
fake Bot API server: whose video it is, commands as captions, unknown commands, and the group's budget of
messages, enforced by the fake server as Telegram does (20 a minute per group, 429 with retry_after)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.core.models import CommunityRef
from bot.storage.database import Database
from tests.bots.conftest import CHAT, Community, TelegramWorld, built, polling
from tests.fakes.telegram_api import COUNTED_METHODS, FakeTelegramApi

pytestmark = pytest.mark.asyncio
HERE = CommunityRef("telegram", str(CHAT))
NOT_OWNER = (
    "Only the person who posted a video can have it scored (a moderator can score it for them). "
    "Send your own video with /score <dance>."
)


def script(**words: object) -> bytes:
    """A scripted "video" for the scripted engine: its score, how long its analysis takes..."""
    return " ".join(f"{k}={v}" for k, v in words.items()).encode()


async def test_only_the_poster_can_have_a_video_scored(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    ana, eve = api.user(7, "Ana"), api.user(8, "Eve")
    video = await api.send_video(CHAT, ana, video_bytes)
    await api.send_text(CHAT, eve, "/score renegade", reply_to=video["message_id"])
    refusal = await api.wait_for(lambda m: m.body == NOT_OWNER)
    assert refusal.method == "sendMessage"  # the "Analysing…" message says why
    assert "getFile" not in api.calls and telegram.engine.attempts == []  # nothing downloaded

    api.make_admin(CHAT, 1)  # a chat administrator may score it for her: it is credited to Ana
    await api.send_text(CHAT, api.user(1, "Mod"), "/score renegade", reply_to=video["message_id"])
    await api.wait_for(lambda m: m.method == "sendPhoto")
    board = await telegram.services.community.show_leaderboard(HERE, "renegade")
    assert [(e.user_id, e.display_name) for e in board.entries] == [("7", "Ana")]

    # the same video sent again by Eve as her own is refused, saying whose it is
    await api.send_video(CHAT, eve, video_bytes, caption="/score renegade")
    taken = await api.wait_for(lambda m: m.body.startswith("This exact video is already on the boards"))
    assert taken.body.startswith("This exact video is already on the boards here under Ana (for “renegade”)")
    assert len(telegram.engine.attempts) == 1


async def test_reference_dance_added_with_a_caption(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    await api.send_video(CHAT, api.user(5), video_bytes, caption="/dance add squat")
    await api.wait_for(lambda m: m.body == "Only moderators can register dances.")
    assert "getFile" not in api.calls
    api.make_admin(CHAT, 5)
    await api.send_video(CHAT, api.user(5), video_bytes, caption="/dance@dancescore_test_bot add Squat")
    added = await api.wait_for(lambda m: m.body.startswith("Added the dance"))
    assert added.body == "Added the dance “Squat”. Try it: send your video with the caption /score Squat"
    dances = await telegram.services.community.list_dances(HERE)
    assert sorted(d.name for d in dances) == ["Squat", "renegade"]


async def test_commands_not_understood_are_answered_with_their_usage(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    await api.send_text(CHAT, api.user(5), "/scroe renegade")
    unknown = await api.wait_for(lambda m: m.body.startswith("I don't know the command /scroe."))
    assert "/score <dance> as the caption of your video" in unknown.body
    await api.send_video(CHAT, api.user(5), video_bytes, caption="/dances")  # a text command as a caption
    await api.wait_for(lambda m: m.body.startswith("Send /dances as a message of its own"))
    await api.send_video(CHAT, api.user(5), video_bytes, caption="/scor renegade")
    await api.wait_for(lambda m: m.body.startswith("I don't know the command /scor."))
    await api.send_text(CHAT, api.user(5), "/dance")
    await api.wait_for(lambda m: m.body.startswith("Use /dance add <name> as the caption of the reference video"))
    await api.send_video(CHAT, api.user(5), video_bytes, caption="/dance")
    await api.wait_for(lambda m: len([x for x in api.sent if x.body.startswith("Use /dance add")]) == 2)
    await api.send_text(CHAT, api.user(5), "/challenge dance")
    await api.wait_for(lambda m: m.body.startswith("Use /challenge status, /challenge start"))
    before = len(api.sent)
    await api.send_text(CHAT, api.user(5), "/roll@another_bot 2d6")  # meant for another bot: not ours to answer
    await api.send_text(CHAT, api.user(5), "/help")
    await api.wait_for(lambda m: m.body.startswith("I score how well you replicate a dance"))
    assert len(api.sent) == before + 1
    assert telegram.engine.attempts == []


@pytest_asyncio.fixture
async def busy_group(database: Database, tmp_path: Path) -> AsyncIterator[TelegramWorld]:
    """The bot at its real pace of progress edits, against a fake server that enforces the group budget."""
    async with built(database, tmp_path, progress_interval_s=None) as services:
        community = Community(services.community, services.community.engine, tmp_path)
        await community.add_dance(HERE, "renegade")
        async with FakeTelegramApi(rate_limits=True) as api, polling(api, services) as application:
            yield TelegramWorld(api, services, community, application)


@pytest.mark.slow
async def test_six_members_at_once_in_one_group_get_their_results_within_30_s(busy_group: TelegramWorld):
    api, engine = busy_group.api, busy_group.engine
    members = [api.user(10 + n, f"Dancer{n}") for n in range(6)]
    # each analysis takes 2-7 s; they finish spread over a few seconds, as on a busy pool
    await asyncio.gather(
        *(
            api.send_video(CHAT, m, script(score=f"7.{n}", seconds=2 + n), caption="/score renegade")
            for n, m in enumerate(members)
        )
    )
    await api.wait_for(lambda m: len([x for x in api.sent if x.method == "sendPhoto"]) == 6, timeout=120)
    finished = dict(engine.finished)  # score -> when its analysis finished
    assert len(finished) == 6
    late = []
    for n in range(6):
        [clip] = [m for m in api.sent if m.method == "sendVideo" and m.body.startswith(f"renegade: 7.{n} / 10")]
        delay = clip.at - finished[float(f"7.{n}")]
        if delay > 30:
            late.append((n, round(delay, 1)))
        assert re.search(r"Rank \d of \d on renegade", clip.body) and clip.buttons  # text and rating keyboard
    assert late == [], f"results later than 30 s after their analysis: {late}"
    counted = [m for m in api.sent if m.method in COUNTED_METHODS]
    # per member: the acknowledgement (deleted once the result is there), the clip with the result, the card
    assert len(counted) + sum(len(m.edits) - 1 for m in api.sent if m.method == "sendMessage") == 18
    assert all(m.deleted for m in api.sent if m.method == "sendMessage")
    assert api.refused == []  # the bot kept within the group's budget instead of being refused
