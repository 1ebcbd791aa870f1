"""The composition root: every part of the bot process is built here, from one `Settings` object.

In the manner of cosmicpython's `bootstrap.py`: the real parts by default, any of them replaced by a fake
through a keyword argument. Nothing else builds the database, the engine pool, the engine gateway, the
community core or the /score flow, so the engine and the core cannot disagree on a limit: both get
`settings.limits`.

    async with bootstrap(settings) as services: ...                          # the deployed bot
    async with bootstrap(settings, engine=ScriptedEngine()) as services: ... # a test, no pool at all
    async with bootstrap(settings, pool=InlinePool(...)) as services: ...    # the real engine on threads
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.core.clock import SystemClock
from bot.core.models import JobOwner
from bot.core.pending import PendingAttempts
from bot.core.ports import Clock, DanceEngine
from bot.core.ratings import RatingService
from bot.core.scorers import ScorerBook
from bot.core.service import CommunityService
from bot.gateways.engine import PoolEngine
from bot.scoring import ScoringFlow
from bot.storage.database import Database
from bot.storage.ratings import SqlRatingStore
from bot.storage.repository import SqlCommunityStore
from bot.workload import Workload
from engine.api import EngineSettings
from engine.pool import EnginePool, PoolSettings, create_pool

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the adapters and the runner are given."""

    settings: Settings
    database: Database
    community: CommunityService
    flow: ScoringFlow
    workload: Workload
    pool: EnginePool | None  # None when a fake engine stands in for the pool


def engine_settings(settings: Settings) -> EngineSettings:
    """The engine's settings from the bot's: the same limits in the same units (bytes, seconds)."""
    return EngineSettings(
        cache_dir=settings.cache_dir,
        max_duration_s=settings.limits.max_duration_s,
        max_bytes=settings.limits.max_bytes,
        pose_backend=settings.pose_backend,
    )


def scorer_book(settings: Settings) -> ScorerBook:
    """The scorer versions a community may use: the one the engine runs, and the calibrations learned from
    members' ratings, kept in `<data dir>/calibrations` (never in the package)."""
    return ScorerBook(settings.data_dir / "calibrations", (engine_settings(settings).scorer_version,))


def job_owner(settings: Settings) -> JobOwner:
    """This process as the owner of the jobs it runs: its home (host and data directory, which one process
    at a time may hold: `bot.recovery.DataDirLock`) and a fresh run id."""
    return JobOwner(f"{socket.gethostname()}:{Path(settings.data_dir).resolve()}", uuid.uuid4().hex[:12])


def build_pool(settings: Settings, *, backend: str | None = None, workers: int | None = None) -> EnginePool:
    """The engine pool the settings ask for (not started: it starts on `start()` or its first job)."""
    backend = backend or settings.engine_pool
    options = {"address": settings.ray_address} if backend == "ray" and settings.ray_address else {}
    shape = PoolSettings(workers=workers or settings.workers, gpu_placement=settings.gpu_placement)
    return create_pool(backend, engine_settings(settings), shape, **options)


@asynccontextmanager
async def bootstrap(
    settings: Settings,
    *,
    engine: DanceEngine | None = None,
    pool: EnginePool | None = None,
    clock: Clock | None = None,
    database: Database | None = None,
    progress_interval_s: float | None = None,
) -> AsyncIterator[Services]:
    """Open the database (migrating it), build the engine gateway on the pool, the core and the /score flow,
    close challenges whose deadline passed while nothing ran, and yield them; close it all on the way out.

    `engine` replaces the engine gateway (and its pool); `pool` replaces the configured pool; `database` is
    left open for its owner; `progress_interval_s` overrides each platform's pace of progress edits.
    """
    db = database or Database(settings.db_url)
    if engine is None:
        pool = pool or build_pool(settings)
        engine = PoolEngine(pool)
    clock = clock or SystemClock()
    try:
        await db.migrate()
        core = CommunityService(
            SqlCommunityStore(db),
            engine,
            clock,
            media_dir=settings.media_dir,
            limits=settings.limits,
            default_season=settings.season,
            owner=job_owner(settings),
            pending=PendingAttempts(settings.data_dir / "pending"),
            ratings=RatingService(SqlRatingStore(db), scorer_book(settings), clock),
        )
        closed = await core.close_due_challenges()
        if closed:
            log.info("closed %d challenge(s) whose deadline passed while stopped", len(closed))
        flow = ScoringFlow(core, settings.work_dir, progress_interval_s)
        yield Services(settings, db, core, flow, Workload(), pool)
    finally:
        if pool is not None:
            await pool.close(drain=False)  # the runner gave running jobs their grace period already
        if database is None:
            await db.dispose()
