"""The part every backend shares: a bounded queue with admission control, dispatch to idle workers,
time limits, cancellation, crash recovery, and the counters behind /metrics.

A backend supplies `Slot`s (one per worker: a process, a Ray actor, a thread) and this runs jobs on them.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.errors import EngineError
from engine.pool.errors import (
    InternalError,
    JobTimeoutError,
    PoolClosedError,
    PoolError,
    QueueFullError,
    WorkerCrashError,
)
from engine.pool.interface import OUTCOMES, JobReport, Listener, PoolSettings, PoolStats, Progress
from engine.result import ScoreResult

logger = logging.getLogger(__name__)

_EWMA_WEIGHT = 0.2  # weight of the newest job in the running mean of job durations
_RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
_MAX_REDISPATCH = 2  # a job whose worker died before taking it is tried on another worker this many times


class WorkerLostError(Exception):
    """Raised by `Slot.run` when the worker died under the job (not a user-facing error). `started` is False
    when the worker never took the job: it may then run on another worker."""

    def __init__(self, message: str, *, started: bool = True) -> None:
        super().__init__(message)
        self.started = started


class Slot(Protocol):
    """One worker as the scheduler sees it. The scheduler sets `on_lost`, which a slot that can tell calls
    when its worker dies while idle (so it is replaced at once, not found dead by the next job)."""

    name: str
    on_lost: Callable[[], None] | None

    async def start(self) -> None:
        """Start the worker; return once it is ready (models loaded); raise `PoolError` if it can't."""
        ...

    async def run(self, job: Any, progress: Progress) -> ScoreResult:
        """Run one job; raise the job's `EngineError`, or `WorkerLostError` when the worker died.

        Cancelling it may leave the worker busy: the scheduler then calls `restart`.
        """
        ...

    async def restart(self) -> None:
        """Stop whatever the worker is doing (kill it) and start a fresh one; return once it is ready."""
        ...

    async def stop(self) -> None:
        """Stop the worker for good."""
        ...


@dataclass(eq=False)
class _Entry:
    job: Any
    progress: Progress | None
    future: asyncio.Future[ScoreResult]
    submitted_at: float
    started_at: float | None = None
    task: asyncio.Task[None] | None = None
    shutdown: bool = False  # cancelled by close(drain=False), not by the caller
    redispatched: int = 0  # times its worker died before taking it


@dataclass(eq=False)
class _SlotState:
    slot: Slot
    ready: bool = False
    entry: _Entry | None = None
    restarting: asyncio.Task[None] | None = None
    failures: int = 0  # consecutive failed starts


@dataclass
class _Counters:
    outcomes: Counter[str] = field(default_factory=lambda: Counter({o: 0 for o in OUTCOMES}))


class ScheduledPool:
    """An `EnginePool` built on `Slot`s; subclasses implement `_create_slots`."""

    backend = "scheduled"

    def __init__(self, settings: PoolSettings) -> None:
        self.settings = settings
        self._states: list[_SlotState] = []
        self._queue: deque[_Entry] = deque()
        self._listeners: list[Listener] = []
        self._counters = _Counters()
        self._mean_job_s = settings.expected_job_s
        self._measured = False  # whether _mean_job_s comes from a finished job yet
        self._start_s = 5.0  # how long a worker takes to start, measured at start()
        self._closed = False
        self._starting: asyncio.Future[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    # --- subclass hook -------------------------------------------------------------------------------------
    def _create_slots(self) -> list[Slot]:
        raise NotImplementedError

    # --- EnginePool ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        await asyncio.shield(self._starting)

    async def _start(self) -> None:
        t0 = time.monotonic()
        self._states = [_SlotState(slot) for slot in self._create_slots()]
        for state in self._states:
            state.slot.on_lost = functools.partial(self._lost_while_idle, state)
        results = await asyncio.gather(*(s.slot.start() for s in self._states), return_exceptions=True)
        failed = [(s, r) for s, r in zip(self._states, results, strict=True) if isinstance(r, BaseException)]
        for state, result in zip(self._states, results, strict=True):
            state.ready = not isinstance(result, BaseException)
        self._start_s = time.monotonic() - t0
        if len(failed) == len(self._states):
            await asyncio.gather(*(s.slot.stop() for s in self._states), return_exceptions=True)
            raise PoolError(f"no engine worker could start: {failed[0][1]}") from failed[0][1]
        for state, error in failed:
            logger.error("worker %s failed to start (%s); retrying in the background", state.slot.name, error)
            self._schedule_restart(state)
        logger.info(
            "%s pool ready: %d/%d workers in %.1f s",
            self.backend,
            len(self._states) - len(failed),
            len(self._states),
            self._start_s,
        )

    async def submit(self, job: Any, progress: Progress | None = None) -> ScoreResult:
        if self._closed:
            raise PoolClosedError()
        await self.start()
        wait = self.estimate_wait()
        if len(self._queue) >= self.settings.max_queue or wait > self.settings.max_wait_s:
            self._report(JobReport("refused", QueueFullError.code, 0.0, 0.0))
            logger.info("refused a job: %d queued, estimated wait %.0f s", len(self._queue), wait)
            raise QueueFullError(wait, self.settings.max_wait_s)
        loop = asyncio.get_running_loop()
        entry = _Entry(job, progress, loop.create_future(), time.monotonic())
        self._queue.append(entry)
        self._idle.clear()
        self._dispatch()
        try:
            return await entry.future
        except asyncio.CancelledError:
            self._abandon(entry)
            raise

    def estimate_wait(self) -> float:
        """Simulate the queue on the workers with the running mean job duration."""
        if not self._states:
            return 0.0 if self._starting is None else self._start_s
        now = time.monotonic()
        mean = self._mean_job_s
        free_at = []
        for state in self._states:
            if state.entry is not None and state.entry.started_at is not None:
                free_at.append(max(mean - (now - state.entry.started_at), 0.0))
            elif state.ready:
                free_at.append(0.0)
            else:
                free_at.append(self._start_s)
        heapq.heapify(free_at)
        for _ in self._queue:
            heapq.heappush(free_at, heapq.heappop(free_at) + mean)
        return free_at[0]

    def stats(self) -> PoolStats:
        return PoolStats(
            backend=self.backend,
            workers=len(self._states),
            workers_alive=sum(s.ready for s in self._states),
            workers_busy=sum(s.entry is not None for s in self._states),
            queue_depth=len(self._queue),
            estimated_wait_s=self.estimate_wait(),
            mean_job_s=self._mean_job_s,
            outcomes=dict(self._counters.outcomes),
            accepting=not self._closed,
        )

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def close(self, drain: bool = True) -> None:
        self._closed = True
        if drain:
            await self._idle.wait()
        else:
            while self._queue:
                entry = self._queue.popleft()
                self._finish(entry, "shutdown", PoolClosedError())
            running = [s.entry.task for s in self._states if s.entry is not None and s.entry.task is not None]
            for state in self._states:
                if state.entry is not None and state.entry.task is not None:
                    state.entry.shutdown = True
                    state.entry.task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        for state in self._states:
            if state.restarting is not None:
                state.restarting.cancel()
        await asyncio.gather(*(s.slot.stop() for s in self._states), return_exceptions=True)
        for state in self._states:
            state.ready = False

    # --- internals -----------------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        for state in self._states:
            if not self._queue:
                break
            if state.ready and state.entry is None:
                entry = self._queue.popleft()
                entry.started_at = time.monotonic()
                state.entry = entry
                entry.task = asyncio.get_running_loop().create_task(self._execute(state, entry))
        self._update_idle()

    def _update_idle(self) -> None:
        if not self._queue and all(s.entry is None for s in self._states):
            self._idle.set()
        else:
            self._idle.clear()

    async def _execute(self, state: _SlotState, entry: _Entry) -> None:
        slot = state.slot
        restart = False
        outcome, result = "ok", None
        error: EngineError | None = None
        try:
            async with asyncio.timeout(self.settings.job_timeout_s):
                result = await slot.run(entry.job, self._guard_progress(entry.progress))
        except TimeoutError:
            restart = True
            outcome, error = "timeout", JobTimeoutError(self.settings.job_timeout_s)
            logger.warning("job on %s passed %.0f s; stopping it", slot.name, self.settings.job_timeout_s)
        except WorkerLostError as lost:
            restart = True
            if not lost.started and entry.redispatched < _MAX_REDISPATCH:
                outcome = "redispatch"
                logger.warning("worker %s died before taking a job (%s); it goes to another worker", slot.name, lost)
            else:
                outcome, error = "crashed", WorkerCrashError(str(lost))
                logger.error("worker %s died under a job: %s", slot.name, lost)
        except asyncio.CancelledError:
            restart = True
            outcome = "shutdown" if entry.shutdown else "cancelled"
            error = PoolClosedError() if entry.shutdown else None
        except InternalError as e:
            outcome, error = "internal_error", e
        except EngineError as e:
            outcome, error = "rejected", e
        except Exception:  # a bug on this side of the pipe: log it, tell the user only a reference
            reference = uuid.uuid4().hex[:8]
            logger.exception("job on %s failed in the pool (reference %s)", slot.name, reference)
            outcome, error = "internal_error", InternalError(reference)
            restart = True
        finally:
            state.entry = None
            if restart:
                state.ready = False
        if outcome in ("ok", "rejected"):
            ran = time.monotonic() - (entry.started_at or entry.submitted_at)
            weight = _EWMA_WEIGHT if self._measured else 1.0  # the first real job replaces the prior
            self._mean_job_s += weight * (ran - self._mean_job_s)
            self._measured = True
        if outcome == "redispatch":  # never began: first in line again, as if just submitted
            entry.redispatched += 1
            entry.started_at = entry.task = None
            self._queue.appendleft(entry)
        else:
            self._finish(entry, outcome, error, result)
        if restart and (not self._closed or self._queue):  # a draining close still needs its workers
            self._schedule_restart(state)
        self._dispatch()

    def _finish(
        self, entry: _Entry, outcome: str, error: BaseException | None, result: ScoreResult | None = None
    ) -> None:
        if not entry.future.done():
            if error is not None:
                entry.future.set_exception(error)
            elif result is not None:
                entry.future.set_result(result)
            else:
                entry.future.cancel()
        now = time.monotonic()
        started = entry.started_at
        self._report(
            JobReport(
                outcome=outcome,
                code=getattr(error, "code", "cancelled" if outcome == "cancelled" else "ok"),
                wait_s=(started or now) - entry.submitted_at,
                run_s=(now - started) if started is not None else 0.0,
                stage_seconds=dict(result.seconds) if result is not None else {},
            )
        )

    def _abandon(self, entry: _Entry) -> None:
        """The caller stopped waiting (task cancelled): drop the job from the queue or stop it."""
        if entry in self._queue:
            self._queue.remove(entry)
            self._finish(entry, "cancelled", None)
            self._update_idle()
        elif entry.task is not None and not entry.task.done():
            entry.task.cancel()

    def _lost_while_idle(self, state: _SlotState) -> None:
        """A worker died with no job (killed, out of memory): replace it now, not when a job finds it dead."""
        if state.entry is not None or not state.ready:
            return
        state.ready = False
        logger.error("worker %s died while idle; starting a new one", state.slot.name)
        if not self._closed:
            self._schedule_restart(state)

    def _schedule_restart(self, state: _SlotState) -> None:
        if state.restarting is not None and not state.restarting.done():
            return
        state.restarting = asyncio.get_running_loop().create_task(self._restart(state))

    async def _restart(self, state: _SlotState) -> None:
        while not self._closed or self._queue:
            try:
                await state.slot.restart()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                delay = _RESTART_BACKOFF_S[min(state.failures, len(_RESTART_BACKOFF_S) - 1)]
                state.failures += 1
                logger.error("worker %s failed to restart (%s); next try in %.0f s", state.slot.name, e, delay)
                await asyncio.sleep(delay)
                continue
            state.failures = 0
            state.ready = True
            logger.info("worker %s restarted", state.slot.name)
            self._dispatch()
            return

    def _guard_progress(self, progress: Progress | None) -> Progress:
        def deliver(stage: str, fraction: float) -> None:
            if progress is None:
                return
            try:
                progress(stage, fraction)
            except Exception:
                logger.exception("a progress callback failed; the job goes on")

        return deliver

    def _report(self, report: JobReport) -> None:
        self._counters.outcomes[report.outcome] += 1
        for listener in self._listeners:
            try:
                listener(report)
            except Exception:
                logger.exception("a pool listener failed")
