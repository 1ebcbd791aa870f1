"""Rating attempts on Telegram through the real python-telegram-bot (inline keyboard, CallbackQueryHandler,
answerCallbackQuery) against the fake Bot API server, on the real community core and database."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bootstrap import Services
from bot.core.models import CommunityRef
from bot.storage.database import Database
from tests.bots.conftest import CHAT, Community, TelegramWorld, built, polling
from tests.fakes.telegram_api import FakeTelegramApi, SentMessage

pytestmark = pytest.mark.asyncio
HERE = CommunityRef("telegram", str(CHAT))
RATINGS_LINE = (
    "Ratings here: 1 from 1 member on 1 attempt, plus 0 ratings by dancers of their own attempts (kept, never used)."
)
PROMPT = "Members: rate this attempt from 1 to 10 below. (Scorer v2.)"


async def scored(telegram: TelegramWorld, video_bytes: bytes) -> SentMessage:
    api = telegram.api
    await api.send_video(CHAT, api.user(7, "Ana"), video_bytes, caption="/score renegade")
    return await api.wait_for(lambda m: "/ 10" in m.body and bool(m.buttons))


async def test_members_rate_under_the_result_and_change_their_rating(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    result = await scored(telegram, video_bytes)
    assert result.body.splitlines()[0] == "renegade: 7.4 / 10 (personal best!)"
    assert result.body.splitlines()[-1] == PROMPT
    assert result.buttons == [["1", "2", "3", "4", "5"], ["6", "7", "8", "9", "10"]]

    first = await api.wait_for_answer(await api.press_button(CHAT, result.message_id, api.user(8, "Ben"), "7"))
    assert (first.text, first.show_alert) == ("You rated Ana's renegade attempt 7/10.", False)
    again = await api.wait_for_answer(await api.press_button(CHAT, result.message_id, api.user(8, "Ben"), "9"))
    assert again.text == "You changed your rating of Ana's renegade attempt from 7 to 9/10."
    assert [m for m in api.sent if m.message_id != result.message_id and "rated" in m.body] == []  # no chat noise

    api.make_admin(CHAT, 1)
    await api.send_text(CHAT, api.user(1, "Mod"), "/rate")
    stats = await api.wait_for(lambda m: m.body.startswith("Ratings here:"))
    assert stats.body.splitlines()[0] == RATINGS_LINE
    assert "Ratings given: 9: 1" in stats.body


async def test_the_dancers_own_rating_is_kept_but_never_used(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    result = await scored(telegram, video_bytes)
    own = await api.wait_for_answer(await api.press_button(CHAT, result.message_id, api.user(7, "Ana"), "10"))
    assert own.text == (
        "You rated your own renegade attempt 10/10. Ratings of your own attempts are kept but never used to tune "
        "the scorer."
    )
    ratings = telegram.community.service.ratings
    _, rows, _ = await ratings.collect_for_calibration(HERE)
    assert [(r.value, r.own) for r in rows] == [(10.0, True)]


async def test_someone_outside_the_chat_cannot_rate(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    result = await scored(telegram, video_bytes)
    api.remove_member(CHAT, 9)  # in a public group, people who are not members can see the buttons
    refused = await api.wait_for_answer(await api.press_button(CHAT, result.message_id, api.user(9, "Cy"), "1"))
    assert (refused.text, refused.show_alert) == (
        "Only members of the community where this attempt was scored can rate it.",
        True,
    )
    assert "getChatMember" in api.calls
    _, rows, _ = await telegram.community.service.ratings.collect_for_calibration(HERE)
    assert rows == []


async def test_rating_buttons_keep_working_after_a_restart(
    community: Community, services: Services, database: Database, video_bytes: bytes, tmp_path: Path
):
    await community.add_dance(HERE, "renegade")
    async with FakeTelegramApi() as api:
        async with polling(api, services):
            await api.send_video(CHAT, api.user(7, "Ana"), video_bytes, caption="/score renegade")
            result = await api.wait_for(lambda m: "/ 10" in m.body and bool(m.buttons))
        # A new process: fresh services on the same database; Telegram still shows the old result's buttons.
        async with built(database, tmp_path / "restarted") as restarted, polling(api, restarted):
            press = await api.press_button(CHAT, result.message_id, api.user(8, "Ben"), "6")
            answer = await api.wait_for_answer(press)
    assert answer.text == "You rated Ana's renegade attempt 6/10."


async def test_scorer_commands_are_for_chat_administrators(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    await scored(telegram, video_bytes)
    await api.send_text(CHAT, api.user(8, "Ben"), "/scorer status")
    refused = await api.wait_for(lambda m: m.body.startswith("Only moderators"))
    assert refused.body == "Only moderators can see the scorer settings."
    api.make_admin(CHAT, 1)
    await api.send_text(CHAT, api.user(1, "Mod"), "/scorer use v1-cal2")
    await api.wait_for(lambda m: m.body == "There is no scorer “v1-cal2” for this community; it can use: v2.")
    await api.send_text(CHAT, api.user(1, "Mod"), "/scorer status")
    status = await api.wait_for(lambda m: m.body.startswith("Scorer in use here"))
    assert status.body.splitlines()[0] == "Scorer in use here: v2."
    await api.send_text(CHAT, api.user(1, "Mod"), "/scorer rescore v2 renegade")
    await api.wait_for(lambda m: m.body.startswith("Re-scored 0 attempts with v2"))
