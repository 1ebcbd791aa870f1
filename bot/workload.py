"""The jobs in flight in this process, so that shutdown can stop new work, let running jobs finish, then
fail the rest (whose adapters tell their users to send their video again)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from bot.errors import ShuttingDownError

logger = logging.getLogger(__name__)


class Workload:
    """Adapters wrap each job in `async with workload.job():`; after `close()` that raises ShuttingDownError."""

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

        A cancelled job's adapter tells its user (`bot.errors.RESTART_MESSAGE`) before the task ends.
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
