"""How the bots hand scoring jobs to the engine without blocking their event loop.

`ScoringEngine` is the interface (the engine pool implements it too); `ThreadEngine` is the small
stand-in that runs `engine.api.run_job` in worker threads with a bounded queue in front.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from bot.errors import QueueFullError, ShuttingDownError

if TYPE_CHECKING:
    from engine.result import ScoreResult

logger = logging.getLogger(__name__)

Progress = Callable[[str, float], None]  # (stage name, fraction 0-1), called on the event loop


class ScoringEngine(Protocol):
    """Runs scoring jobs away from the event loop. `submit` raises QueueFullError when it can't take one."""

    async def submit(self, job: Any, progress: Progress | None = None) -> ScoreResult: ...

    async def close(self) -> None: ...


class ThreadEngine:
    """Runs `engine.api.run_job` in threads, `workers` at a time, at most `max_waiting` jobs queued.

    Progress events from the worker thread are handed back to the event loop before `progress` sees them.
    A job refused because the queue is full is refused at once with an estimate of the wait.
    """

    def __init__(
        self,
        settings: Any,
        *,
        workers: int = 1,
        max_waiting: int = 8,
        typical_job_s: float = 30.0,
        run: Callable[..., ScoreResult] | None = None,
    ) -> None:
        self._settings = settings
        self._slots = asyncio.Semaphore(workers)
        self._workers = workers
        self._max_waiting = max_waiting
        self._typical_job_s = typical_job_s
        self._run = run
        self._waiting = 0
        self._running = 0
        self._closed = False
        self._recent: list[float] = []  # durations of the last jobs, seconds

    def estimate_wait_s(self) -> float:
        """Seconds a job submitted now would wait before it starts, from recent job durations."""
        per_job = sum(self._recent) / len(self._recent) if self._recent else self._typical_job_s
        return (self._waiting + self._running) * per_job / self._workers

    async def submit(self, job: Any, progress: Progress | None = None) -> ScoreResult:
        if self._closed:
            raise ShuttingDownError()
        if self._waiting >= self._max_waiting:
            raise QueueFullError(self.estimate_wait_s())
        loop = asyncio.get_running_loop()

        def relay(stage: str, fraction: float) -> None:
            if progress is not None:
                loop.call_soon_threadsafe(progress, stage, fraction)

        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        self._running += 1
        started = time.monotonic()
        try:
            return await asyncio.to_thread(self._runner(), job, self._settings, relay)
        finally:
            self._running -= 1
            self._slots.release()
            self._recent = [*self._recent[-9:], time.monotonic() - started]

    async def close(self) -> None:
        """Take no new jobs; running ones finish in their threads."""
        self._closed = True

    def _runner(self) -> Callable[..., ScoreResult]:
        if self._run is None:
            from engine.api import run_job  # imported late: it loads the pose models' libraries

            self._run = run_job
        return self._run
