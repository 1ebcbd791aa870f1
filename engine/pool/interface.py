"""What every engine pool offers the bots, whichever backend runs the jobs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from engine.progress import Progress  # a pool calls it on the caller's event loop

if TYPE_CHECKING:
    from engine.result import ScoreResult

__all__ = ["OUTCOMES", "EnginePool", "JobReport", "PoolSettings", "PoolStats", "Progress"]

OUTCOMES = ("ok", "rejected", "timeout", "crashed", "cancelled", "internal_error", "refused", "shutdown")
"""Every way a submitted job can end. `rejected`: the engine refused the input (an `EngineError` such as a
corrupt video); `refused`: admission control turned it away before it was queued."""


@dataclass(frozen=True)
class PoolSettings:
    """How a pool is shaped. The pool never reads the environment: the bot's configuration builds this.

    workers: worker count; None = one per CPU core (with or without GPUs; see `engine.pool.placement`).
    workers_per_gpu: None (share the cores among the GPUs), or workers per GPU: an int for every GPU, or one
        count per GPU index (e.g. (2, 1) for a big and a small one).
    max_queue: jobs that may wait (not counting the running ones) before new ones are refused.
    max_wait_s: a job whose estimated wait to start is longer is refused at once, with the estimate
        (default 14 minutes: Discord allows follow-ups for 15).
    job_timeout_s: a running job past this is stopped (its worker is killed and replaced).
    expected_job_s: the duration assumed for a job before any has finished (for the wait estimate).
    start_timeout_s: a worker that has not loaded its models by then is killed and started again.
    runner: import path of the job function `(job, settings, progress) -> ScoreResult`, run in the workers.
    """

    workers: int | None = None
    workers_per_gpu: int | tuple[int, ...] | None = None
    max_queue: int = 200
    max_wait_s: float = 14 * 60
    job_timeout_s: float = 10 * 60
    expected_job_s: float = 30.0
    start_timeout_s: float = 180.0
    runner: str = "engine.api:run_job"


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of a pool, for /healthz, /metrics and the bots' status command."""

    backend: str
    workers: int  # configured
    workers_alive: int  # started and ready (idle or busy)
    workers_busy: int
    queue_depth: int  # waiting, not yet running
    estimated_wait_s: float  # for a job submitted now
    mean_job_s: float  # the estimate of one job's run time in use
    outcomes: dict[str, int] = field(default_factory=dict)  # completed jobs by outcome (see OUTCOMES)
    accepting: bool = True  # False once close() has begun


@dataclass(frozen=True)
class JobReport:
    """What happened to one job; given to the pool's listeners (e.g. the metrics) when it ends."""

    outcome: str  # one of OUTCOMES
    code: str  # the error code, or "ok"
    wait_s: float  # queued until it started (0 when refused)
    run_s: float  # started until it ended (0 when it never started)
    stage_seconds: dict[str, float] = field(default_factory=dict)  # ScoreResult.seconds on success


Listener = Callable[[JobReport], None]


@runtime_checkable
class EnginePool(Protocol):
    """Runs scoring jobs away from the bots' event loop.

    `submit` is cancelled like any asyncio task (the user gave up, or shutdown): a waiting job leaves the
    queue, a running one is stopped. Errors are `engine.errors.EngineError`s whose `str()` is fit to show.
    """

    async def start(self) -> None:
        """Start the workers (returns once at least the first is ready, or raises)."""
        ...

    async def submit(self, job: Any, progress: Progress | None = None) -> ScoreResult:
        """Run `job` (an `engine.api.ScoreJob`); raise `QueueFullError` at once if it cannot start in time."""
        ...

    def estimate_wait(self) -> float:
        """Seconds a job submitted now would wait before it starts."""
        ...

    def stats(self) -> PoolStats: ...

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(JobReport)` on the event loop whenever a job ends (including refusals)."""
        ...

    async def close(self, drain: bool = True) -> None:
        """Stop taking jobs; with `drain`, finish the queued and running ones first, else fail them."""
        ...
