"""Runs scoring jobs away from the bots: a bounded, crash-safe worker pool with one interface and several
backends (local processes by default, Ray for several machines, threads as a test double).

    pool = LocalPool(EngineSettings(), PoolSettings(max_wait_s=14 * 60))
    await pool.start()
    result = await pool.submit(ScoreJob(reference, attempt), progress=lambda stage, f: ...)
    await pool.close(drain=True)
"""

from engine.pool.backends import BACKENDS, create_pool
from engine.pool.errors import (
    InternalError,
    JobTimeoutError,
    PoolClosedError,
    PoolError,
    QueueFullError,
    WorkerCrashError,
)
from engine.pool.inline import InlinePool
from engine.pool.interface import OUTCOMES, EnginePool, JobReport, PoolSettings, PoolStats, Progress
from engine.pool.local import LocalPool
from engine.pool.placement import WorkerPlan, plan_workers

__all__ = [
    "BACKENDS",
    "OUTCOMES",
    "EnginePool",
    "InlinePool",
    "InternalError",
    "JobReport",
    "JobTimeoutError",
    "LocalPool",
    "PoolClosedError",
    "PoolError",
    "PoolSettings",
    "PoolStats",
    "Progress",
    "QueueFullError",
    "WorkerCrashError",
    "WorkerPlan",
    "create_pool",
    "plan_workers",
]
