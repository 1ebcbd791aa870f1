"""/healthz and /metrics served over real HTTP by the bot's ops server, scraped while a real pool works."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from conftest import run_async
from pool_jobs import Task
from prometheus_client.parser import text_string_to_metric_families

from bot.ops import OpsServer
from engine.errors import VideoError
from engine.pool import LocalPool, PoolSettings, QueueFullError, WorkerPlan


def parse_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by (name, sorted labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(session: aiohttp.ClientSession, port: int, path: str) -> tuple[int, str, str]:
    async with session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, response.headers["Content-Type"], await response.text()


def test_metrics_scraped_over_http_show_the_counters_moving(worker_settings):
    async def scenario():
        pool = LocalPool(
            worker_settings,
            PoolSettings(runner="pool_jobs:run", expected_job_s=60.0, max_wait_s=90.0),
            plans=[WorkerPlan("cpu", 1)],
        )
        await pool.start()
        ops = OpsServer(pool, None, port=0)  # metrics subscribe to the pool's job reports from here on
        await ops.start()
        async with aiohttp.ClientSession() as session:
            health = await scrape(session, ops.port, "/healthz")
            before = await scrape(session, ops.port, "/metrics")
            slow = asyncio.create_task(pool.submit(Task("sleep", 0.6, tag="slow")))
            queued = asyncio.create_task(pool.submit(Task("score", tag="queued")))
            await asyncio.sleep(0.3)
            busy = await scrape(session, ops.port, "/metrics")
            with pytest.raises(QueueFullError):
                await pool.submit(Task("score", tag="refused"))
            await asyncio.gather(slow, queued)
            with pytest.raises(VideoError):
                await pool.submit(Task("reject"))
            after = await scrape(session, ops.port, "/metrics")
            await pool.close()
            closed_health = await scrape(session, ops.port, "/healthz")
        await ops.stop()
        return health, before, busy, after, closed_health

    health, before, busy, after, closed_health = run_async(scenario())
    assert health[0] == 200 and '"workers_alive": 1' in health[2]
    assert before[1].startswith("text/plain") and "version=" in before[1]
    b, during, a = parse_samples(before[2]), parse_samples(busy[2]), parse_samples(after[2])
    backend = (("backend", "local"),)
    ok = ("dancescore_jobs_total", (("code", "ok"), ("outcome", "ok")))
    refused = ("dancescore_jobs_total", (("code", "queue_full"), ("outcome", "refused")))
    rejected = ("dancescore_jobs_total", (("code", "bad_video"), ("outcome", "rejected")))
    assert b[ok] == 0 and b[refused] == 0 and rejected not in b
    assert during[("dancescore_queue_depth", backend)] == 1
    assert during[("dancescore_workers_busy", backend)] == 1
    assert a[ok] == 2 and a[refused] == 1 and a[rejected] == 1
    assert a[("dancescore_queue_depth", backend)] == 0
    # stage histograms come from ScoreResult.seconds of the two successful jobs (pose 0.6 s and 0 s)
    assert a[("dancescore_stage_seconds_count", (("stage", "pose"),))] == 2
    assert a[("dancescore_stage_seconds_sum", (("stage", "pose"),))] == pytest.approx(0.6)
    assert a[("dancescore_stage_seconds_bucket", (("le", "0.5"), ("stage", "pose")))] == 1
    assert a[("dancescore_job_run_seconds_count", ())] == 3
    assert closed_health[0] == 503 and '"status": "closing"' in closed_health[2]
