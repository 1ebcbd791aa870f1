"""The in-process test double keeps the pool's contract: results, progress on the loop, the engine's own
errors, the time limit and admission control."""

from __future__ import annotations

import asyncio
import threading

import pytest
from conftest import run_async
from pool_jobs import Task, run

from engine.errors import VideoError
from engine.pool import EnginePool, InlinePool, JobTimeoutError, PoolSettings, QueueFullError


def test_inline_pool_runs_jobs_on_threads_with_the_same_contract(worker_settings):
    async def scenario():
        pool = InlinePool(worker_settings, PoolSettings(workers=1, job_timeout_s=0.5), runner="pool_jobs:run")
        assert isinstance(pool, EnginePool)
        events = []
        result = await pool.submit(
            Task("progress", steps=3, tag="t"),
            progress=lambda s, f: events.append((s, threading.get_ident())),
        )
        with pytest.raises(VideoError) as rejected:
            await pool.submit(Task("reject"))
        with pytest.raises(JobTimeoutError):
            await pool.submit(Task("sleep", 1.0))
        await pool.close()
        return result, events, rejected.value, pool.stats()

    result, events, rejected, stats = run_async(scenario())
    assert result.feedback == ["t"]
    assert [s for s, _ in events] == ["stage-0", "stage-1", "stage-2"]
    assert {t for _, t in events} == {threading.get_ident()}
    assert rejected.code == "bad_video"
    assert stats.outcomes["ok"] == 1 and stats.outcomes["rejected"] == 1 and stats.outcomes["timeout"] == 1


def test_inline_pool_refuses_when_the_wait_is_too_long(worker_settings):
    async def scenario():
        pool = InlinePool(worker_settings, PoolSettings(workers=1, expected_job_s=100, max_wait_s=50), runner=run)
        await pool.start()
        running = asyncio.ensure_future(pool.submit(Task("sleep", 0.2)))
        await asyncio.sleep(0)
        with pytest.raises(QueueFullError) as refused:
            await pool.submit(Task("score"))
        await running
        await pool.close()
        return refused.value

    assert run_async(scenario()).estimated_wait_s > 50
