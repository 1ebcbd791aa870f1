"""Wiring: builds the community service from settings; tests pass their own engine, clock or database."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import Settings
from bot.core.ports import Clock, DanceEngine, LocalEngine, SystemClock
from bot.core.service import CommunityService
from bot.storage.database import Database
from bot.storage.repository import SqlCommunityStore

log = logging.getLogger(__name__)


@asynccontextmanager
async def community_service(
    settings: Settings,
    *,
    engine: DanceEngine | None = None,
    clock: Clock | None = None,
    database: Database | None = None,
) -> AsyncIterator[CommunityService]:
    """Open the database (migrating it), close overdue challenges, and yield a ready service.

    Defaults: the real engine (`LocalEngine`), the system clock, the database at `settings.db_url`.
    """
    db = database or Database(settings.db_url)
    try:
        await db.migrate()
        service = CommunityService(
            SqlCommunityStore(db),
            engine if engine is not None else LocalEngine(),
            clock or SystemClock(),
            media_dir=settings.media_dir,
            limits=settings.limits,
            default_season=settings.season,
        )
        closed = await service.close_due_challenges()
        if closed:
            log.info("closed %d challenge(s) whose deadline passed while stopped", len(closed))
        yield service
    finally:
        if database is None:
            await db.dispose()
