"""Fixtures that run the real bots against local stand-ins of the chat platforms (no network)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.scoring import Dance, FlowLimits
from bot.services import Services, bootstrap
from bot.telegram.handlers import build_application
from tests.fakes.community import InMemoryCommunity
from tests.fakes.engine import ScriptedEngine, job_fields
from tests.fakes.telegram_api import FakeTelegramApi

TOKEN = "123456:test-token-not-secret"
CHAT = -1001


@dataclass
class TelegramWorld:
    api: FakeTelegramApi
    services: Services
    community: InMemoryCommunity
    engine: Any
    application: Any


@pytest.fixture
def community() -> InMemoryCommunity:
    world = InMemoryCommunity()
    world.register(f"telegram:{CHAT}", Dance("renegade", reference="memory://renegade"))
    return world


@pytest.fixture
def scripted_engine() -> ScriptedEngine:
    return ScriptedEngine()


def scripted_services(community: InMemoryCommunity, engine: Any, work_dir: Path) -> Services:
    services = bootstrap(
        community, engine=engine, work_dir=work_dir, limits=FlowLimits(progress_interval_s=0)
    )
    services.flow._make_job = job_fields
    return services


@contextlib.asynccontextmanager
async def running_telegram(services: Services) -> AsyncIterator[tuple[FakeTelegramApi, Any]]:
    """The real python-telegram-bot Application polling the fake server, started by hand like the runner."""
    async with FakeTelegramApi() as api:
        application = build_application(TOKEN, api.url, services)
        await application.initialize()
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield api, application
        finally:
            await application.updater.stop()
            await application.stop()
            await application.shutdown()


@pytest_asyncio.fixture
async def telegram(community: InMemoryCommunity, scripted_engine: ScriptedEngine, tmp_path: Path):
    services = scripted_services(community, scripted_engine, tmp_path / "work")
    async with running_telegram(services) as (api, application):
        yield TelegramWorld(api, services, community, scripted_engine, application)
