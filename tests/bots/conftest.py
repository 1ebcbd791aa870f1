"""Fixtures that run the real bots, on the real community core and database, against local stand-ins of
the chat platforms (no network)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.bootstrap import Services, bootstrap
from bot.config import Settings
from bot.core.clock import ManualClock
from bot.core.models import Caller, CommunityRef, Limits
from bot.core.service import CommunityService
from bot.gateways.scripted import ScriptedEngine, write_clip
from bot.storage.database import Database
from bot.telegram.handlers import build_application
from tests.fakes.telegram_api import FakeTelegramApi

TOKEN = "123456:test-token-not-secret"
CHAT = -1001
MOD = Caller("discord", "0", "Mod", is_moderator=True)


@dataclass
class Community:
    """The real community service on a fresh SQLite database, with its engine."""

    service: CommunityService
    engine: Any
    folder: Path

    async def add_dance(self, where: CommunityRef, name: str) -> None:
        reference = self.folder / f"{name}-reference.mp4"
        write_clip(reference, frames=16)
        await self.service.add_dance(MOD, where, name, reference)


@pytest.fixture
def video_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "attempt.mp4"
    write_clip(path, frames=16)
    return path.read_bytes()


@pytest_asyncio.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bots.sqlite'}")
    await db.migrate()
    yield db
    await db.dispose()


def settings_in(folder: Path, **changes: Any) -> Settings:
    """Settings of a bot whose data lives in `folder` (media, work), with a rate limit tests don't hit."""
    values: dict[str, Any] = dict(
        data_dir=folder, db_url=f"sqlite+aiosqlite:///{folder / 'bots.sqlite'}", limits=Limits(rate_limit=50)
    )
    return Settings(**{**values, **changes})


@contextlib.asynccontextmanager
async def built(
    database: Database, folder: Path, progress_interval_s: float | None = 0, **fakes: Any
) -> AsyncIterator[Services]:
    """The bot's services from the composition root, on `database`, with a manual clock and the given fakes
    (default: the scripted engine); progress is shown as it comes unless `progress_interval_s` says."""
    fakes.setdefault("clock", ManualClock())
    if "pool" not in fakes:
        fakes.setdefault("engine", ScriptedEngine())
    settings = settings_in(folder)
    async with bootstrap(settings, database=database, progress_interval_s=progress_interval_s, **fakes) as services:
        yield services


@pytest_asyncio.fixture
async def services(database: Database, tmp_path: Path) -> AsyncIterator[Services]:
    async with built(database, tmp_path) as services:
        yield services


@pytest.fixture
def community(services: Services, tmp_path: Path) -> Community:
    return Community(services.community, services.community.engine, tmp_path)


@contextlib.asynccontextmanager
async def running_telegram(services: Services) -> AsyncIterator[tuple[FakeTelegramApi, Any]]:
    """The real python-telegram-bot Application polling the fake server, started by hand like the runner."""
    async with FakeTelegramApi() as api, polling(api, services) as application:
        yield api, application


@contextlib.asynccontextmanager
async def polling(api: FakeTelegramApi, services: Services) -> AsyncIterator[Any]:
    """One run of the bot (a process, from start to stop) against a fake server that outlives it."""
    application = build_application(TOKEN, api.url, services)
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


@dataclass
class TelegramWorld:
    api: FakeTelegramApi
    services: Services
    community: Community
    application: Any

    @property
    def engine(self) -> Any:
        return self.community.engine


@pytest_asyncio.fixture
async def telegram(community: Community, services: Services) -> AsyncIterator[TelegramWorld]:
    await community.add_dance(CommunityRef("telegram", str(CHAT)), "renegade")
    async with running_telegram(services) as (api, application):
        yield TelegramWorld(api, services, community, application)
