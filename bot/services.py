"""What both bots share in one process: the community service, the scoring flow, and the workload."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.service import CommunityService
from bot.errors import ShuttingDownError
from bot.scoring import ScoringFlow

logger = logging.getLogger(__name__)

RESTART_MESSAGE = "DanceScore is restarting, so your video could not be scored. Please send it again in a minute."


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
    """The shared pieces the adapters are given (cosmicpython-style bootstrap: tests build their own)."""

    community: CommunityService
    flow: ScoringFlow
    workload: Workload = field(default_factory=Workload)


def build_services(community: CommunityService, work_dir: Path, progress_interval_s: float | None = None) -> Services:
    """The shared services; `progress_interval_s` overrides the platforms' own pace of progress edits."""
    return Services(community, ScoringFlow(community, work_dir, progress_interval_s))
