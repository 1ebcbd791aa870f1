"""PostgreSQL going away in the middle of a job (a real server behind a proxy whose cable is cut): the
finished analysis is kept, the user gets the score, is never locked out, and /healthz says what is wrong."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from bot.core.models import Caller, CommunityRef
from bot.gateways.scripted import ScriptedEngine, write_clip
from bot.ops import OpsServer
from bot.storage.database import Database
from engine.errors import NoDancerError
from tests.bots.conftest import CHAT, built, running_telegram
from tests.fakes.tcp_proxy import TcpProxy
from tests.postgres import create_schema, drop_schema

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]
HERE = CommunityRef("telegram", str(CHAT))
MOD = Caller("telegram", "5", "Mo", is_moderator=True)


@pytest_asyncio.fixture
async def proxied_database() -> AsyncIterator[tuple[Database, TcpProxy]]:
    """A fresh schema on the test PostgreSQL, reached through a proxy the test can cut."""
    pg = await create_schema()
    target = make_url(pg.url)
    async with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        db = Database(target.set(host="127.0.0.1", port=proxy.port).render_as_string(False), schema=pg.schema)
        await db.migrate()
        try:
            yield db, proxy
        finally:
            proxy.restore()
            await db.dispose()
            await drop_schema(pg)


async def health(port: int) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as response:
        return response.status, await response.json()


async def wait_until(predicate, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_the_database_goes_away_mid_job_and_comes_back(proxied_database, tmp_path: Path, video_bytes) -> None:
    db, proxy = proxied_database
    engine = ScriptedEngine(gate=asyncio.Event())
    async with built(db, tmp_path, engine=engine) as services:
        await services.community.add_dance(MOD, HERE, "renegade", write_clip(tmp_path / "reference.mp4", 16))
        ops = OpsServer(None, db, port=0)
        await ops.start()
        try:
            async with running_telegram(services) as (api, _):
                assert (await health(ops.port))[0] == 200
                await api.send_video(CHAT, api.user(7, "Ana"), video_bytes, caption="/score renegade")
                await wait_until(lambda: engine.running == 1)  # claimed in the database, being analysed
                proxy.cut()
                status, body = await health(ops.port)
                assert status == 503 and body["status"] == "database_unreachable", body
                engine.gate.set()  # the analysis finishes while the database is away
                await asyncio.sleep(1.5)  # recording is retried meanwhile
                proxy.restore()
                scored = await api.wait_for(lambda m: m.body.startswith("renegade: 7.4 / 10"))
                assert "Rank 1 of 1 on renegade (all time)." in scored.body  # recorded once it came back
                assert (await health(ops.port))[0] == 200
                # the user is not locked out: the next video is taken at once
                await api.send_video(CHAT, api.user(7, "Ana"), video_bytes + b"\0", caption="/score renegade")
                await api.wait_for(lambda m: len([x for x in api.sent if x.method == "sendPhoto"]) == 2)
        finally:
            await ops.stop()


async def test_a_long_outage_keeps_the_result_and_adds_it_later(proxied_database, tmp_path: Path, video_bytes) -> None:
    db, proxy = proxied_database
    engine = ScriptedEngine(gate=asyncio.Event())
    async with built(db, tmp_path, engine=engine) as services:
        core = services.community
        core.save_retry_s = 1.0  # the outage outlasts the retries
        await core.add_dance(MOD, HERE, "renegade", write_clip(tmp_path / "reference.mp4", 16))
        async with running_telegram(services) as (api, _):
            await api.send_video(CHAT, api.user(7, "Ana"), video_bytes, caption="/score renegade")
            await wait_until(lambda: engine.running == 1)
            proxy.cut()
            engine.gate.set()
            scored = await api.wait_for(lambda m: m.body.startswith("renegade: 7.4 / 10"))
            assert "your score will be added to it as soon as it is back" in scored.body
            await api.wait_for(lambda m: m.method == "sendPhoto")  # the clip and card went out too
            assert [p.suffix for p in (tmp_path / "pending").iterdir()] == [".json"]
            proxy.restore()
            assert await core.save_pending() == 1  # what the upkeep loop does every 30 s
            assert list((tmp_path / "pending").iterdir()) == []
            board = await core.show_leaderboard(HERE, "renegade")
            assert [(e.display_name, e.score) for e in board.entries] == [("Ana", 7.4)]
            await api.send_video(CHAT, api.user(7, "Ana"), video_bytes + b"\0", caption="/score renegade")
            await api.wait_for(lambda m: "Rank 1 of 1" in m.body and m.body.startswith("renegade: 7.4"))


async def test_a_job_that_failed_during_the_outage_frees_its_user_once_the_database_is_back(
    proxied_database, tmp_path: Path, video_bytes
) -> None:
    db, proxy = proxied_database
    engine = ScriptedEngine(gate=asyncio.Event(), error=NoDancerError("No dancer in that video.", code="no_dancer"))
    async with built(db, tmp_path, engine=engine) as services:
        core = services.community
        await core.add_dance(MOD, HERE, "renegade", write_clip(tmp_path / "reference.mp4", 16))
        async with running_telegram(services) as (api, _):
            await api.send_video(CHAT, api.user(7, "Ana"), video_bytes, caption="/score renegade")
            await wait_until(lambda: engine.running == 1)
            proxy.cut()
            engine.gate.set()  # the analysis fails, and the job cannot be marked as ended
            await api.wait_for(lambda m: m.body == "No dancer in that video.")
            proxy.restore()
            await core.save_pending()  # what the upkeep loop does every 30 s
            engine.error = None
            await api.send_video(CHAT, api.user(7, "Ana"), video_bytes + b"\0", caption="/score renegade")
            await api.wait_for(lambda m: m.method == "sendPhoto")  # not "still being analysed" for 20 min
