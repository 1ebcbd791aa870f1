"""The Telegram bot through the real python-telegram-bot, against a local fake Bot API server."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import av
import pytest

from tests.bots.conftest import CHAT, TelegramWorld
from tests.fakes.engine import write_clip

pytestmark = pytest.mark.asyncio


@pytest.fixture
def video_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "attempt.mp4"
    write_clip(path, frames=6)
    return path.read_bytes()


def is_playable_mp4(data: bytes) -> bool:
    with av.open(io.BytesIO(data)) as container:
        return container.streams.video[0].codec_context.name == "h264"


async def test_caption_score_replies_with_score_clip_and_card(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    sent = await api.send_video(CHAT, api.user(7, "Ana"), video_bytes, caption="/score Renegade")

    status = await api.wait_for(lambda m: "/ 10" in m.body)
    assert status.edits[0] == "Analysing…"  # acknowledged at once, then edited
    assert status.edits[1] == "Downloading your video…"
    assert [e for e in status.edits[2:-1] if e.endswith("%")], status.edits  # engine progress shown
    assert status.body.startswith("renegade: 7.4 / 10")
    assert "Form 78 · Timing 64" in status.body and "Your left arm is late" in status.body
    clip = await api.wait_for(lambda m: m.method == "sendVideo")
    card = await api.wait_for(lambda m: m.method == "sendPhoto")
    assert clip.reply_to == card.reply_to == sent["message_id"]
    assert is_playable_mp4(clip.files["video"][1])
    assert card.files["photo"][1].startswith(b"\x89PNG")
    # The engine got the downloaded bytes, and the temporary files are gone after the reply.
    assert len(telegram.engine.jobs) == 1
    assert not Path(telegram.engine.jobs[0]["attempt"]).exists()
    assert telegram.community.attempts[0].dancer.display_name == "Ana"


async def test_reply_score_and_animation_are_scored(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    video = await api.send_video(CHAT, api.user(8, "Ben"), video_bytes)
    await api.send_text(CHAT, api.user(8, "Ben"), "/score renegade", reply_to=video["message_id"])
    await api.wait_for(lambda m: m.body.startswith("renegade: 7.4"))
    await api.send_animation(
        CHAT, api.user(9, "Cy"), video_bytes, caption="/score@dancescore_test_bot renegade"
    )
    await api.wait_for(lambda m: m.body.startswith("renegade: 7.4") and m.reply_to != video["message_id"] + 1)
    assert len(telegram.engine.jobs) == 2


async def test_text_file_is_refused_clearly(telegram: TelegramWorld):
    api = telegram.api
    await api.send_document(
        CHAT, api.user(7), b"hello", name="notes.txt", mime_type="text/plain", caption="/score renegade"
    )
    refusal = await api.wait_for(lambda m: "isn't a video" in m.body)
    assert refusal.body == "“notes.txt” isn't a video. Send a recording of your dance (MP4, MOV or WebM)."
    assert telegram.engine.jobs == []


async def test_unknown_dance_suggests_close_names(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    await api.send_video(CHAT, api.user(7), video_bytes, caption="/score renegaed")
    refusal = await api.wait_for(lambda m: "don't know" in m.body)
    assert refusal.body == "I don't know a dance called “renegaed”. Did you mean “renegade”?"
    assert telegram.engine.jobs == []


async def test_video_over_20_mb_is_refused_with_how_to_trim(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    await api.send_video(CHAT, api.user(7), video_bytes, caption="/score renegade", declared_size=34_000_000)
    refusal = await api.wait_for(lambda m: "20 MB" in m.body)
    assert "This video is 34 MB, but Telegram only lets bots download files up to 20 MB." in refusal.body
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
    assert api.calls.count("sendVideo") == 2  # refused once, then sent after retry_after
    assert is_playable_mp4(clip.files["video"][1])


async def test_two_users_at_once_are_scored_concurrently(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    telegram.engine.gate = asyncio.Event()
    await api.send_video(CHAT, api.user(1, "One"), video_bytes, caption="/score renegade")
    await api.send_video(CHAT, api.user(2, "Two"), video_bytes, caption="/score renegade")
    for _ in range(100):
        if telegram.engine.running == 2:
            break
        await asyncio.sleep(0.05)
    assert telegram.engine.running == 2  # neither waits for the other
    telegram.engine.gate.set()
    await api.wait_for(lambda m: len([x for x in api.sent if x.method == "sendPhoto"]) == 2)
    assert {a.dancer.user_id for a in telegram.community.attempts} == {"1", "2"}


async def test_second_video_while_one_runs_is_refused(telegram: TelegramWorld, video_bytes: bytes):
    api = telegram.api
    telegram.engine.gate = asyncio.Event()
    await api.send_video(CHAT, api.user(1), video_bytes, caption="/score renegade")
    await api.wait_for(lambda m: "50%" in m.body)
    await api.send_video(CHAT, api.user(1), video_bytes, caption="/score renegade")
    refusal = await api.wait_for(lambda m: "already have a video" in m.body)
    assert refusal.body.startswith("You already have a video being scored.")
    telegram.engine.gate.set()
    await api.wait_for(lambda m: m.method == "sendPhoto")
    assert len(telegram.engine.jobs) == 1


async def test_engine_refusal_is_shown_and_files_are_removed(telegram: TelegramWorld, video_bytes: bytes):
    from engine.errors import NoDancerError

    api = telegram.api
    telegram.engine.error = NoDancerError("I couldn't find a dancer in your video. Film your whole body.")
    await api.send_video(CHAT, api.user(3), video_bytes, caption="/score renegade")
    await api.wait_for(lambda m: "couldn't find a dancer" in m.body)
    work = telegram.services.flow.work_dir
    assert list(work.iterdir()) == []
    assert ("telegram", "3") not in telegram.community.running  # the slot is free again


async def test_dance_remove_is_for_administrators_only(telegram: TelegramWorld):
    api = telegram.api
    await api.send_text(CHAT, api.user(5), "/dance remove renegade")
    await api.wait_for(lambda m: m.body == "Only chat administrators can do that.")
    assert "getChatMember" in api.calls
    assert await telegram.community.list_dances(f"telegram:{CHAT}") == ["renegade"]
    api.make_admin(CHAT, 5)
    await api.send_text(CHAT, api.user(5), "/dance remove renegade")
    await api.wait_for(lambda m: m.body == "Removed the dance “renegade”.")
    assert await telegram.community.list_dances(f"telegram:{CHAT}") == []
