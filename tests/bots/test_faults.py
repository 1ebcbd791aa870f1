"""Faults an operator meets, on the bot as a process of its own against the fake Bot API server: killed with
SIGKILL in the middle of a job and restarted, started twice, started with no database, and its whole log
read for the Telegram token and for noise."""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import signal
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.core.models import CommunityRef
from bot.gateways.scripted import write_clip
from tests.bots.processes import BotProcess, add_dance, bot_environment, free_port
from tests.fakes.discord_api import FakeDiscordApi
from tests.fakes.telegram_api import FakeTelegramApi

pytestmark = pytest.mark.asyncio
CHAT = -1001
HERE = CommunityRef("telegram", str(CHAT))
RUNNING = "DanceScore running on telegram"


def new_token() -> tuple[str, str]:
    """A bot token as @BotFather makes them (`<bot id>:<secret>`) and its secret half."""
    secret = "AAH" + secrets.token_urlsafe(24)
    return f"123456789:{secret}", secret


def clip_bytes(folder: Path, frames: int) -> bytes:
    return write_clip(folder / f"clip-{frames}.mp4", frames=frames).read_bytes()


def running_jobs(folder: Path) -> int:
    with sqlite3.connect(folder / "data" / "dancescore.db") as db:
        return db.execute("SELECT count(*) FROM jobs WHERE status = 'running'").fetchone()[0]


async def test_kill_9_in_the_middle_of_a_job_then_restart(tmp_path: Path) -> None:
    token, _ = new_token()
    async with FakeTelegramApi() as api:
        env = bot_environment(tmp_path, api.url, token, DANCESCORE_RATE_LIMIT="1")
        await add_dance(env, HERE, "renegade")
        first = await BotProcess(env, tmp_path / "first.log", "--hold").start()
        await first.wait_for_log(RUNNING)
        await api.send_video(CHAT, api.user(7), clip_bytes(tmp_path, 16), caption="/score renegade")
        status = await api.wait_for(lambda m: m.body == "Analysing…")  # a group sees no progress for 20 s
        while running_jobs(tmp_path) != 1:  # the job is claimed in the database, then held by the engine
            await asyncio.sleep(0.05)
        work = tmp_path / "data" / "work"
        assert [p.name[:7] for p in work.iterdir()] == ["upload-"]  # the download, mid-job
        assert await first.stop(signal.SIGKILL) == -signal.SIGKILL  # no chance to clean up or to tell anyone

        second = await BotProcess(env, tmp_path / "second.log").start()
        told = await api.wait_for(lambda m: m.message_id == status.message_id and "send it again" in m.body)
        assert told.body == (
            "DanceScore restarted while your video for “renegade” was being analysed, so it was not scored. "
            "Please send it again."
        )
        await second.wait_for_log(RUNNING)
        assert list(work.iterdir()) == []  # the dead process's upload is gone
        # Not locked out ("still being analysed"), and the lost job did not use up the rate limit of 1.
        await api.send_video(CHAT, api.user(7), clip_bytes(tmp_path, 17), caption="/score renegade")
        await api.wait_for(lambda m: m.method == "sendPhoto")
        assert await second.stop() == 0
    with sqlite3.connect(tmp_path / "data" / "dancescore.db") as db:
        assert db.execute("SELECT status FROM jobs ORDER BY id").fetchall() == [("lost",), ("done",)]


async def test_the_token_is_in_no_line_of_a_real_runs_log_in_any_encoding(tmp_path: Path) -> None:
    token, secret = new_token()
    async with FakeTelegramApi() as api:
        env = bot_environment(tmp_path, api.url, token)
        await add_dance(env, HERE, "renegade")
        bot = await BotProcess(env, tmp_path / "bot.log", "-vv").start()  # debug: every library logs its URLs
        await bot.wait_for_log(RUNNING)
        await api.send_video(CHAT, api.user(7), clip_bytes(tmp_path, 16), caption="/score renegade")
        await api.wait_for(lambda m: m.method == "sendPhoto")  # the video was downloaded by its URL
        assert await bot.stop() == 0
    log = bot.log()
    assert "getFile" in log and "/file/bot" in log and "<redacted>" in log  # the URLs were logged, redacted
    for value in (token, secret):
        for form in (
            value,
            quote(value, safe=""),
            quote(value, safe="").lower(),
            base64.b64encode(value.encode()).decode(),
            base64.urlsafe_b64encode(value.encode()).decode().rstrip("="),
            value.encode().hex(),
        ):
            assert form not in log, f"the token leaked as {form!r}"


async def test_an_idle_bot_logs_no_request_lines_and_every_line_has_a_time(tmp_path: Path) -> None:
    token, _ = new_token()
    async with FakeTelegramApi() as api:
        env = bot_environment(tmp_path, api.url, token)
        bot = await BotProcess(env, tmp_path / "bot.log").start()  # as deployed: `dancescore bot`
        await bot.wait_for_log(RUNNING)
        polls = api.calls.count("getUpdates")
        while api.calls.count("getUpdates") < polls + 2:  # the long poll (10 s each), over and over
            await asyncio.sleep(0.2)
        assert await bot.stop() == 0
    lines = bot.log().splitlines()
    assert lines and not [line for line in lines if "getUpdates" in line or "HTTP Request" in line]
    stamped = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")
    assert [line for line in lines if not stamped.match(line)] == []


async def test_a_second_instance_and_a_busy_port_are_refused_in_one_line(tmp_path: Path) -> None:
    token, _ = new_token()
    async with FakeTelegramApi() as api:
        env = bot_environment(tmp_path, api.url, token)
        first = await BotProcess(env, tmp_path / "first.log").start()
        await first.wait_for_log(RUNNING)
        second = await BotProcess(env, tmp_path / "second.log").start()  # the same data directory
        assert await second.exit_status() == 1
        assert second.log().strip() == (
            f"Another DanceScore bot (pid {first.pid}) is already running with the data directory "
            f"{(tmp_path / 'data').resolve()}: stop it first, or give this one its own DANCESCORE_DATA_DIR."
        )
        other = dict(env, DANCESCORE_DATA_DIR=str(tmp_path / "other"))  # its own data, the same ops port
        third = await BotProcess(other, tmp_path / "third.log").start()
        assert await third.exit_status() == 1
        assert third.log().strip().splitlines()[-1] == (
            f"Port {env['DANCESCORE_OPS_PORT']} on 127.0.0.1 (for /healthz and /metrics) is already in use: set "
            "DANCESCORE_OPS_PORT to a free port, or to off."
        )
        assert "Traceback" not in third.log()
        assert await first.stop() == 0


async def test_an_unreachable_database_is_one_line_and_status_1(tmp_path: Path) -> None:
    token, _ = new_token()
    async with FakeTelegramApi() as api:
        url = f"postgresql+asyncpg://dancer:hunter2@127.0.0.1:{free_port()}/dancescore"  # nothing listens
        env = bot_environment(tmp_path, api.url, token, DANCESCORE_DB_URL=url)
        bot = await BotProcess(env, tmp_path / "bot.log").start()
        assert await bot.exit_status() == 1
    lines = bot.log().strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in bot.log() and "hunter2" not in bot.log()
    assert lines[0].startswith("Cannot start: the database at postgresql+asyncpg://dancer:***@127.0.0.1:")
    assert lines[0].endswith("Check DANCESCORE_DB_URL and that the database server is running.")


async def test_a_discord_gateway_failure_leaves_telegram_running_and_the_exit_status_says_so(
    tmp_path: Path,
) -> None:
    token, _ = new_token()
    async with FakeTelegramApi() as api, FakeDiscordApi(close_code=4004) as discord_api:
        env = bot_environment(tmp_path, api.url, token, DISCORD_TOKEN="fake.discord.token")
        await add_dance(env, HERE, "renegade")
        bot = await BotProcess(env, tmp_path / "bot.log", "--discord-api", discord_api.url).start()
        await bot.wait_for_log("Discord stopped: ConnectionClosed: ")  # logged in, then the gateway refused
        assert "gateway" in discord_api.calls
        await api.send_video(CHAT, api.user(7), clip_bytes(tmp_path, 16), caption="/score renegade")
        await api.wait_for(lambda m: m.method == "sendPhoto")  # Telegram kept serving
        assert await bot.stop() == 1  # a platform failed during the run
    failure = [line for line in bot.log().splitlines() if "Discord stopped" in line]
    assert len(failure) == 1 and failure[0].endswith("; the other platform keeps running.")
    assert "Traceback" not in bot.log()


async def test_discord_without_a_network_is_one_line_and_status_1(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: like a machine without a network
    token, _ = new_token()
    async with FakeTelegramApi() as api:
        alone = bot_environment(tmp_path / "alone", api.url, token, DISCORD_TOKEN="fake.discord.token")
        del alone["TELEGRAM_TOKEN"]
        bot = await BotProcess(alone, tmp_path / "alone.log", "--discord-api", nowhere).start()
        assert await bot.exit_status() == 1
        last = bot.log().strip().splitlines()[-1]  # after the start-up's info lines: what went wrong
        assert last.startswith("Could not reach Discord (ClientConnectorError: ") and last.endswith("the network.")
        assert "Traceback" not in bot.log() and "ERROR" not in bot.log()

        both = bot_environment(tmp_path / "both", api.url, token, DISCORD_TOKEN="fake.discord.token")
        bot = await BotProcess(both, tmp_path / "both.log", "--discord-api", nowhere).start()
        await bot.wait_for_log(RUNNING)  # Telegram runs without Discord
        await api.send_text(CHAT, api.user(7), "/dances")
        await api.wait_for(lambda m: m.body.startswith("No dances yet"))
        assert await bot.stop() == 1
    assert "Traceback" not in bot.log()
