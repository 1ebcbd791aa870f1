"""Wiring: builds the community service from settings; tests pass their own engine, clock or database."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import Settings
from bot.core.ports import Clock, DanceEngine, LocalEngine, SystemClock
from bot.core.ratings import RatingService
from bot.core.scorers import ScorerBook
from bot.core.service import CommunityService
from bot.storage.database import Database
from bot.storage.ratings import SqlRatingStore
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

    Defaults: the real engine (`LocalEngine`), the system clock, the database at `settings.db_url`. Its
    `ratings` (members' ratings, scorer versions) keep calibrations in `<data dir>/calibrations`.
    """
    db = database or Database(settings.db_url)
    engine = engine if engine is not None else LocalEngine()
    clock = clock or SystemClock()
    try:
        await db.migrate()
        service = CommunityService(
            SqlCommunityStore(db),
            engine,
            clock,
            media_dir=settings.media_dir,
            limits=settings.limits,
            default_season=settings.season,
            ratings=RatingService(SqlRatingStore(db), scorer_book(settings, engine), clock),
        )
        closed = await service.close_due_challenges()
        if closed:
            log.info("closed %d challenge(s) whose deadline passed while stopped", len(closed))
        yield service
    finally:
        if database is None:
            await db.dispose()


def scorer_book(settings: Settings, engine: DanceEngine) -> ScorerBook:
    """The scorer versions: the one the engine runs (v1 for engines without settings) and the calibrations."""
    base = getattr(getattr(engine, "settings", None), "scorer_version", None) or "v1"
    return ScorerBook(settings.data_dir / "calibrations", (base,))
