"""`dancescore bot`: platforms started by hand in one loop, shutdown on SIGTERM, challenge results posted,
no token in the logs, and a clear exit when no platform is configured."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal

import pytest

from bot import runner
from bot.bootstrap import Services
from bot.config import Settings
from bot.core.models import Caller, CommunityRef
from bot.errors import RESTART_MESSAGE
from tests.bots.conftest import CHAT, TOKEN, Community
from tests.fakes.telegram_api import FakeTelegramApi

pytestmark = pytest.mark.asyncio
HERE = CommunityRef("telegram", str(CHAT))


def test_no_token_exits_with_a_clear_message(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    import argparse

    assert runner.start(argparse.Namespace(grace=1.0, verbose=1)) == 2  # what `dancescore bot` runs
    assert "No chat platform configured: set DISCORD_TOKEN and/or TELEGRAM_TOKEN" in capsys.readouterr().err


def test_a_malformed_setting_is_named(monkeypatch, tmp_path, capsys):
    import argparse

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("DANCESCORE_OPS_PORT", "metrics")
    assert runner.start(argparse.Namespace(grace=1.0, verbose=1)) == 2
    assert (
        capsys.readouterr().err.strip() == "DANCESCORE_OPS_PORT must be a port number (1-65535) or off, not “metrics”."
    )


async def test_a_refused_token_stops_with_a_clear_message(services: Services):
    async with FakeTelegramApi() as api:
        settings = Settings(telegram_token=runner_secret("not-a-token"), telegram_api_url=api.url)
        with pytest.raises(runner.StartError, match="Telegram refused TELEGRAM_TOKEN"):
            await runner.serve(settings, services)
        settings = Settings(telegram_token=runner_secret(TOKEN), telegram_api_url="http://127.0.0.1:9")
        with pytest.raises(
            runner.StartError, match=re.escape("Could not reach the Telegram Bot API at http://127.0.0.1:9 (")
        ):
            await runner.serve(settings, services)


async def test_sigterm_fails_running_jobs_with_a_message_and_stops(
    community: Community, services: Services, video_bytes: bytes, caplog
):
    await community.add_dance(HERE, "renegade")
    community.engine.gate = asyncio.Event()  # the job never finishes by itself
    caplog.set_level(logging.DEBUG)
    async with FakeTelegramApi() as api:
        settings = Settings(telegram_token=runner_secret(TOKEN), telegram_api_url=api.url)
        serving = asyncio.create_task(runner.serve(settings, services, grace_s=0.5))
        await api.send_video(CHAT, api.user(1), video_bytes, caption="/score renegade")
        await api.wait_for(lambda m: "50%" in m.body)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(serving, timeout=20)
        status = await api.wait_for(lambda m: m.body == RESTART_MESSAGE)
        assert status.edits[:2] == ["Analysing…", "Downloading your video…"]
    assert services.workload.closed and services.workload.running == 0
    assert TOKEN not in caplog.text  # httpx logs every URL; the token is redacted
    assert "getUpdates" in caplog.text


async def test_new_work_during_shutdown_is_refused(community: Community, services: Services, video_bytes):
    await community.add_dance(HERE, "renegade")
    community.engine.gate = asyncio.Event()
    async with FakeTelegramApi() as api:
        settings = Settings(telegram_token=runner_secret(TOKEN), telegram_api_url=api.url)
        stop = asyncio.Event()
        serving = asyncio.create_task(runner.serve(settings, services, stop, grace_s=30))
        await api.send_video(CHAT, api.user(1), video_bytes, caption="/score renegade")
        await api.wait_for(lambda m: "50%" in m.body)
        stop.set()  # the running job may finish; new ones are refused
        await asyncio.sleep(0.2)
        await api.send_video(CHAT, api.user(2), video_bytes + b"\0", caption="/score renegade")
        await api.wait_for(lambda m: m.body.startswith("DanceScore is restarting and can't take new videos"))
        community.engine.gate.set()
        await asyncio.wait_for(serving, timeout=20)
        assert (await api.wait_for(lambda m: m.method == "sendPhoto")).method == "sendPhoto"


async def test_closed_challenge_results_are_posted_in_the_chat(community: Community, services: Services):
    await community.add_dance(HERE, "renegade")
    mod = Caller("telegram", "5", "Mo", is_moderator=True)
    from datetime import timedelta

    await community.service.start_challenge(mod, HERE, "renegade", timedelta(days=1), channel=str(CHAT))
    await community.service.end_challenge(mod, HERE)
    async with FakeTelegramApi() as api:
        settings = Settings(telegram_token=runner_secret(TOKEN), telegram_api_url=api.url)
        stop = asyncio.Event()
        serving = asyncio.create_task(runner.serve(settings, services, stop, announce_every_s=0.1))
        posted = await api.wait_for(lambda m: m.body.startswith("Challenge #1 (renegade) is over!"))
        assert [c["command"] for c in api.commands][:2] == ["score", "dances"]  # the menu users see
        assert posted.chat_id == CHAT and "Nobody took part" in posted.body
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(serving, timeout=20)
    assert len([m for m in api.sent if "is over" in m.body]) == 1  # posted once, never twice


def runner_secret(value: str):
    from bot.config import SecretStr

    return SecretStr(value)


@pytest.mark.slow
async def test_run_scores_through_the_engine_pool_and_counts_it_in_metrics(tmp_path):
    """`dancescore bot` as deployed: pool started, /metrics served, a real clip scored by a pool worker."""
    import socket
    from pathlib import Path

    import aiohttp

    from bot.bootstrap import bootstrap, engine_settings
    from engine.pool import InlinePool, PoolSettings

    data = Path(__file__).resolve().parents[1] / "data"
    with socket.socket() as probe:  # a free local port for the ops server
        probe.bind(("127.0.0.1", 0))
        ops_port = probe.getsockname()[1]
    async with FakeTelegramApi() as api:
        settings = Settings(
            data_dir=tmp_path / "data",
            db_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite'}",
            telegram_token=runner_secret(TOKEN),
            telegram_api_url=api.url,
            ops_port=ops_port,
        )
        threads = InlinePool(engine_settings(settings), PoolSettings(workers=1))
        async with bootstrap(settings, pool=threads) as services:  # a moderator adds the dance first
            mod = Caller("telegram", "5", "Mo", is_moderator=True)
            await services.community.add_dance(mod, HERE, "squat", data / "squat_reference.mp4")
        pool = InlinePool(engine_settings(settings), PoolSettings(workers=1))  # the pool's thread backend
        stop = asyncio.Event()
        running = asyncio.create_task(runner.run(settings, pool=pool, stop=stop))
        await api.send_video(CHAT, api.user(7), (data / "squat_zoomed_offset.mp4").read_bytes(), caption="/score squat")
        await api.wait_for(lambda m: m.method == "sendPhoto", timeout=240)
        [clip] = [m for m in api.sent_to(CHAT) if m.method == "sendVideo"]  # the result is the clip's caption
        assert re.match(r"squat: (9|10)\.\d / 10", clip.body)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{ops_port}/metrics") as response:
                metrics = await response.text()
            async with session.get(f"http://127.0.0.1:{ops_port}/healthz") as response:
                assert response.status == 200
        assert re.search(r'dancescore_jobs_total\{[^}]*outcome="ok"[^}]*\} 1\.0', metrics), metrics
        stop.set()
        await asyncio.wait_for(running, timeout=30)
    assert pool.stats().accepting is False  # closed with the bot
