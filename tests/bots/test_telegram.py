"""The Telegram bot through the real python-telegram-bot, against a local fake Bot API server, on the real
community core and database (the engine is scripted here; test_end_to_end.py runs the real one)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import av
import pytest

from bot.core.models import Caller, CommunityRef
from engine.errors import NoDancerError
from tests.bots.conftest import CHAT, TelegramWorld

pytestmark = pytest.mark.asyncio
HERE = CommunityRef("telegram", str(CHAT))


def is_h264_mp4(data: bytes) -> bool:
    with av.open(io.BytesIO(data)) as container:
        return container.streams.video[0].codec_context.name == "h264"


async def test_caption_score_replies_with_score_clip_and_card(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    sent = await api.send_video(CHAT, api.user(7, "Ana"), video_bytes, caption="/score Renegade")

    card = await api.wait_for(lambda m: m.method == "sendPhoto")  # the card comes last
    clip = await api.wait_for(lambda m: m.method == "sendVideo")
    status = api.sent[0]
    assert status.edits[:2] == ["Analysing…", "Downloading your video…"]  # acknowledged at once
    assert [e for e in status.edits[2:] if e.endswith("%")], status.edits  # engine progress shown
    assert status.deleted  # the result took its place
    lines = clip.body.splitlines()  # the result is the clip's caption
    assert lines[0] == "renegade: 7.4 / 10 (personal best!)"
    assert lines[1] == "Form 78 · Timing 64"
    assert "• Your left arm is late at 0:03." in lines
    assert "Rank 1 of 1 on renegade (all time)." in lines
    assert clip.reply_to == card.reply_to == sent["message_id"]
    assert is_h264_mp4(clip.files["video"][1])
    assert card.files["photo"][1].startswith(b"\x89PNG")
    # The engine got the bytes the user sent; the downloaded copy is gone after the reply.
    assert telegram.engine.attempt_bytes == [video_bytes]
    assert not telegram.engine.attempts[0].exists()
    assert list(telegram.services.flow.work_dir.iterdir()) == []


async def test_reply_score_and_animation_are_scored(telegram: TelegramWorld, video_bytes: bytes, tmp_path: Path):
    api = telegram.api
    video = await api.send_video(CHAT, api.user(8, "Ben"), video_bytes)
    await api.send_text(CHAT, api.user(8, "Ben"), "/score renegade", reply_to=video["message_id"])
    await api.wait_for(lambda m: m.body.startswith("renegade: 7.4"))
    other = tmp_path / "other.mp4"
    from bot.gateways.scripted import write_clip

    write_clip(other, frames=17)  # different bytes: the core refuses the same video twice
    await api.send_animation(CHAT, api.user(9, "Cy"), other.read_bytes(), caption="/score@dancescore_test_bot renegade")
    await api.wait_for(lambda m: "Rank 2 of 2" in m.body or "Rank 1 of 2" in m.body)
    assert len(telegram.engine.attempts) == 2


async def test_leaderboard_and_me_show_the_scores(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    await api.send_video(CHAT, api.user(7, "Ana"), video_bytes, caption="/score renegade")
    await api.wait_for(lambda m: m.method == "sendPhoto")
    await api.send_text(CHAT, api.user(7, "Ana"), "/leaderboard renegade")
    board = await api.wait_for(lambda m: m.body.startswith("renegade · all time"))
    assert board.body.splitlines()[1] == "1. Ana: 7.4"
    await api.send_text(CHAT, api.user(7, "Ana"), "/me")
    me = await api.wait_for(lambda m: "your ranks" in m.body)
    assert "• renegade: 7.4, rank 1 of 1" in me.body


async def test_text_file_is_refused_clearly(telegram: TelegramWorld):
    api = telegram.api
    await api.send_document(
        CHAT, api.user(7), b"hello", name="notes.txt", mime_type="text/plain", caption="/score renegade"
    )
    refusal = await api.wait_for(lambda m: "isn't a video" in m.body)
    assert refusal.body == "“notes.txt” isn't a video. Send a recording of your dance (MP4, MOV or WebM)."
    assert telegram.engine.attempts == []
    assert "getFile" not in api.calls  # refused before downloading anything


async def test_photo_and_too_long_video_are_refused_before_download(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    await api.send_photo(CHAT, api.user(7), b"\xff\xd8jpeg", caption="/score renegade")
    await api.wait_for(lambda m: m.body.startswith("A photo can't be scored: send a video of your dance"))
    await api.send_video(CHAT, api.user(7), video_bytes, caption="/score renegade", duration=600)
    refusal = await api.wait_for(lambda m: "10 min long" in m.body)
    assert refusal.body == (
        "This video is 10 min long; the most I can score is 3 min. Trim it to the dance and send it again."
    )
    assert "getFile" not in api.calls and telegram.engine.attempts == []


async def test_too_many_tries_is_refused_with_when_to_come_back(telegram: TelegramWorld, video_bytes: bytes):
    from bot.core.models import Limits

    api = telegram.api
    telegram.services.community.limits = Limits(rate_limit=1, rate_window_s=3600)
    await api.send_video(CHAT, api.user(7), video_bytes, caption="/score renegade")
    await api.wait_for(lambda m: m.method == "sendPhoto")
    await api.send_video(CHAT, api.user(7), video_bytes + b"\0", caption="/score renegade")
    refusal = await api.wait_for(lambda m: m.body.startswith("You can send 1 videos every"))
    assert "try again in" in refusal.body
    assert len(telegram.engine.attempts) == 1


async def test_unknown_dance_suggests_close_names(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    await api.send_video(CHAT, api.user(7), video_bytes, caption="/score renegaaaade")
    refusal = await api.wait_for(lambda m: "no dance called" in m.body)
    assert refusal.body == "There is no dance called “renegaaaade” here. Did you mean “renegade”?"
    assert "getFile" not in api.calls


async def test_video_over_20_mb_is_refused_with_how_to_trim(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    await api.send_video(CHAT, api.user(7), video_bytes, caption="/score renegade", declared_size=34_000_000)
    refusal = await api.wait_for(lambda m: "20 MiB" in m.body)
    assert "This video is 32.4 MiB, but Telegram only lets bots download files up to 20 MiB." in refusal.body
    assert "Trim it" in refusal.body
    assert "getFile" not in api.calls


async def test_score_without_video_explains_usage(telegram: TelegramWorld):
    api = telegram.api
    await api.send_text(CHAT, api.user(7), "/score renegade")
    reply = await api.wait_for(lambda m: "caption /score" in m.body)
    assert reply.method == "sendMessage"


async def test_rate_limit_429_is_waited_out_and_retried(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    api.fail_next("sendVideo", retry_after=1)
    await api.send_video(CHAT, api.user(7), video_bytes, caption="/score renegade")
    clip = await api.wait_for(lambda m: m.method == "sendVideo")
    assert api.calls.count("sendVideo") == 2  # refused once with 429, sent after retry_after
    assert is_h264_mp4(clip.files["video"][1])


async def test_two_users_at_once_are_scored_concurrently(telegram: TelegramWorld, video_bytes: bytes, tmp_path):
    api = telegram.api
    telegram.engine.gate = asyncio.Event()
    await api.send_video(CHAT, api.user(1, "One"), video_bytes, caption="/score renegade")
    await api.send_video(CHAT, api.user(2, "Two"), video_bytes + b"\0", caption="/score renegade")
    for _ in range(100):
        if telegram.engine.running == 2:
            break
        await asyncio.sleep(0.05)
    assert telegram.engine.running == 2  # neither waits for the other
    telegram.engine.gate.set()
    await api.wait_for(lambda m: len([x for x in api.sent if x.method == "sendPhoto"]) == 2)
    board = await telegram.services.community.show_leaderboard(HERE, "renegade")
    assert {e.display_name for e in board.entries} == {"One", "Two"}


async def test_second_video_while_one_runs_is_refused(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    telegram.engine.gate = asyncio.Event()
    await api.send_video(CHAT, api.user(1), video_bytes, caption="/score renegade")
    await api.wait_for(lambda m: "50%" in m.body)
    await api.send_video(CHAT, api.user(1), video_bytes + b"\0", caption="/score renegade")
    refusal = await api.wait_for(lambda m: "still being analysed" in m.body)
    assert refusal.body.startswith("Your previous video is still being analysed")
    telegram.engine.gate.set()
    await api.wait_for(lambda m: m.method == "sendPhoto")
    assert len(telegram.engine.attempts) == 1


async def test_engine_refusal_is_shown_and_files_are_removed(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    telegram.engine.error = NoDancerError("I couldn't find a dancer in your video. Film your whole body.")
    await api.send_video(CHAT, api.user(3), video_bytes, caption="/score renegade")
    await api.wait_for(lambda m: m.body == "I couldn't find a dancer in your video. Film your whole body.")
    assert list(telegram.services.flow.work_dir.iterdir()) == []
    telegram.engine.error = None  # the user's slot is free again
    await api.send_video(CHAT, api.user(3), video_bytes + b"\0", caption="/score renegade")
    await api.wait_for(lambda m: m.method == "sendPhoto")


async def test_moderator_commands_follow_chat_administrators(telegram: TelegramWorld):
    api = telegram.api
    core = telegram.services.community
    await api.send_text(CHAT, api.user(5), "/dance remove renegade")
    await api.wait_for(lambda m: m.body == "Only moderators can remove dances.")
    assert "getChatMember" in api.calls
    await api.send_text(CHAT, api.user(5), "/challenge start renegade 2d")
    await api.wait_for(lambda m: m.body == "Only moderators can run challenges.")
    assert [d.name for d in await core.list_dances(HERE)] == ["renegade"]

    await api.send_text(CHAT, api.user(5), "/challenge status", anonymous_admin=True)
    await api.wait_for(lambda m: m.body.startswith("No challenge is running here."))
    await api.send_text(CHAT, api.user(5), "/challenge start renegade 2d", anonymous_admin=True)
    started = await api.wait_for(lambda m: m.body.startswith("Challenge #1 on “renegade” is on until"))
    assert started.method == "sendMessage"
    assert [s.challenge.dance_name for s in await core.show_challenges(HERE)] == ["renegade"]
    api.make_admin(CHAT, 6, owner=True)  # the owner (creator) moderates too
    await api.send_text(CHAT, api.user(6), "/challenge end")
    await api.wait_for(lambda m: m.body == "Challenge #1 on “renegade” has ended; the results follow.")
    await api.send_text(CHAT, api.user(6), "/dance remove renegade")
    await api.wait_for(lambda m: m.body == "Removed the dance “renegade”.")
    assert await core.list_dances(HERE) == []


async def test_reference_dance_added_by_an_administrator(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    reference = await api.send_video(CHAT, api.user(5), video_bytes)
    await api.send_text(CHAT, api.user(5), "/dance add Savage Love", reply_to=reference["message_id"])
    await api.wait_for(lambda m: m.body == "Only moderators can register dances.")
    assert "getFile" not in api.calls  # a member's request downloads nothing
    api.make_admin(CHAT, 5)
    await api.send_text(CHAT, api.user(5), "/dance add Savage Love", reply_to=reference["message_id"])
    await api.wait_for(lambda m: m.body.startswith("Added the dance “Savage Love”."))
    core = telegram.services.community
    assert sorted(d.name for d in await core.list_dances(HERE)) == ["Savage Love", "renegade"]
    assert list(telegram.services.flow.work_dir.iterdir()) == []
    member = Caller("telegram", "77", "x")
    assert (await core.show_profile(member, HERE)).attempts == []
