"""The test double of the pool: the same scheduler (queue, admission, time limit, cancellation, counters),
with jobs run on threads in this process. For the bots' tests, and for tools that want no subprocesses.

It cannot stop a job that is already running (a thread cannot be killed): a cancelled or timed-out job's
thread runs to its end and its result is thrown away. Crash isolation needs `LocalPool`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from engine.pool.interface import PoolSettings, Progress
from engine.pool.scheduler import ScheduledPool, Slot
from engine.pool.worker import resolve_runner
from engine.result import ScoreResult

Runner = Callable[[Any, Any, Progress], ScoreResult]


class ThreadSlot:
    """A worker that is a thread of this process."""

    def __init__(self, name: str, runner: Runner, settings: Any) -> None:
        self.name = name
        self.on_lost: Callable[[], None] | None = None  # a thread does not die on its own
        self._runner = runner
        self._settings = settings

    async def start(self) -> None:
        return None

    async def run(self, job: Any, progress: Progress) -> ScoreResult:
        loop = asyncio.get_running_loop()

        def report(stage: str, fraction: float) -> None:  # called on the job's thread
            loop.call_soon_threadsafe(progress, stage, fraction)

        return await asyncio.to_thread(self._runner, job, self._settings, report)

    async def restart(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class InlinePool(ScheduledPool):
    """`EnginePool` on threads; `runner` is a callable or an import path ("engine.api:run_job")."""

    backend = "inline"

    def __init__(
        self, engine_settings: Any, settings: PoolSettings | None = None, runner: Runner | str | None = None
    ) -> None:
        settings = settings or PoolSettings(workers=1)
        super().__init__(settings)
        chosen = runner if runner is not None else settings.runner
        self._runner: Runner = resolve_runner(chosen) if isinstance(chosen, str) else chosen
        self.engine_settings = engine_settings

    def _create_slots(self) -> list[Slot]:
        count = self.settings.workers or 1
        return [ThreadSlot(f"thread-{i}", self._runner, self.engine_settings) for i in range(count)]
