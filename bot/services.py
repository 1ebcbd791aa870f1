"""What both bots share in one process: the scoring flow, the community core, the engine, the workload.

`bootstrap` wires them (cosmicpython style): tests pass their own community or engine, the runner passes
none and gets the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.engine_client import ScoringEngine, ThreadEngine
from bot.errors import ShuttingDownError
from bot.scoring import Community, FlowLimits, ScoringFlow

logger = logging.getLogger(__name__)

RESTART_MESSAGE = (
    "DanceScore is restarting, so your video could not be scored. Please send it again in a minute."
)


class Workload:
    """Tracks jobs in flight so that shutdown can stop new work, let running jobs finish, then fail the rest.

    Adapters wrap each job in `async with workload.job():`; after `close()` that raises ShuttingDownError.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    @property
    def running(self) -> int:
        return len(self._tasks)

    @contextlib.asynccontextmanager
    async def job(self) -> AsyncIterator[None]:
        if self.closed:
            raise ShuttingDownError()
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            yield
        finally:
            self._tasks.discard(task)

    async def close(self, grace_s: float) -> None:
        """Refuse new jobs, wait up to `grace_s` for running ones, then cancel what is left.

        A cancelled job's adapter tells its user (RESTART_MESSAGE) before the task ends.
        """
        self.closed = True
        pending = set(self._tasks)
        if not pending:
            return
        logger.info("waiting up to %.0f s for %d running job(s)", grace_s, len(pending))
        _, still = await asyncio.wait(pending, timeout=grace_s)
        for task in still:
            task.cancel()
        if still:
            logger.warning("cancelled %d job(s) still running at shutdown", len(still))
            await asyncio.wait(still, timeout=10)


@dataclass
class Services:
    community: Any  # the community core (bot.scoring.Community plus the commands' service functions)
    engine: ScoringEngine
    flow: ScoringFlow
    workload: Workload = field(default_factory=Workload)

    async def close(self, grace_s: float = 60.0) -> None:
        await self.workload.close(grace_s)
        await self.engine.close()


def bootstrap(
    community: Community,
    *,
    engine: ScoringEngine | None = None,
    engine_settings: Any = None,
    work_dir: Path = Path("data/work"),
    limits: FlowLimits | None = None,
) -> Services:
    """Wire the shared services; `engine` defaults to threads running the real engine (`engine_settings`)."""
    if engine is None:
        if engine_settings is None:
            from engine.api import EngineSettings

            engine_settings = EngineSettings()
        engine = ThreadEngine(engine_settings)
    if limits is None and engine_settings is not None:
        limits = FlowLimits(
            max_bytes=engine_settings.max_bytes, max_duration_s=engine_settings.max_duration_s
        )
    flow = ScoringFlow(community, engine, work_dir, limits)
    return Services(community=community, engine=engine, flow=flow)
