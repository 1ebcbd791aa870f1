"""Operations endpoints of the bot process: `/healthz` and `/metrics` (Prometheus text format).

ops = OpsServer(pool, database, port=9108)  # bind to 127.0.0.1 unless a scraper elsewhere needs it
await ops.start() ... await ops.stop()

`/healthz` answers 200 only while the database answers and at least one engine worker is ready, and says
which of them is wrong otherwise (503).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.core.errors import StorageError
from bot.storage.database import Database
from engine.pool.interface import EnginePool, JobReport

logger = logging.getLogger(__name__)

# Stage times of one clip run from milliseconds (normalise) to minutes (pose on a long clip on a CPU).
STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
JOB_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900)
_USUAL_CODES = {
    "ok": "ok",
    "refused": "queue_full",
    "timeout": "timeout",
    "crashed": "worker_crashed",
    "cancelled": "cancelled",
    "shutdown": "shutting_down",
    "internal_error": "internal_error",
}


class PoolCollector(Collector):
    """Reads the pool's state at scrape time: queue depth, workers, the wait a new job would see."""

    def __init__(self, pool: EnginePool) -> None:
        self._pool = pool

    def collect(self) -> Iterator[Metric]:
        stats = self._pool.stats()
        labels = ["backend"]
        for name, doc, value in (
            ("dancescore_queue_depth", "Jobs waiting for a worker.", stats.queue_depth),
            ("dancescore_workers", "Workers configured.", stats.workers),
            ("dancescore_workers_alive", "Workers started and ready (idle or busy).", stats.workers_alive),
            ("dancescore_workers_busy", "Workers running a job.", stats.workers_busy),
            (
                "dancescore_estimated_wait_seconds",
                "Wait a job submitted now would see.",
                stats.estimated_wait_s,
            ),
            ("dancescore_mean_job_seconds", "Running mean of one job's run time.", stats.mean_job_s),
        ):
            gauge = GaugeMetricFamily(name, doc, labels=labels)
            gauge.add_metric([stats.backend], float(value))
            yield gauge
        accepting = GaugeMetricFamily("dancescore_pool_accepting", "1 while the pool takes jobs.", labels=labels)
        accepting.add_metric([stats.backend], 1.0 if stats.accepting else 0.0)
        yield accepting


class PoolMetrics:
    """Prometheus metrics for one engine pool, in a registry of their own."""

    def __init__(self, pool: EnginePool, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.jobs = Counter(
            "dancescore_jobs",
            "Jobs ended, by outcome and error code.",
            ["outcome", "code"],
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "dancescore_stage_seconds",
            "Wall time per engine stage of successful jobs (ScoreResult.seconds).",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.wait_seconds = Histogram(
            "dancescore_queue_wait_seconds",
            "Time jobs waited for a worker.",
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self.run_seconds = Histogram(
            "dancescore_job_run_seconds",
            "Time jobs ran on a worker.",
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(PoolCollector(pool))
        for outcome, code in _USUAL_CODES.items():  # show zeros before the first job of each kind
            self.jobs.labels(outcome=outcome, code=code)
        pool.add_listener(self.observe)

    def observe(self, report: JobReport) -> None:
        """Count one ended job (a pool listener)."""
        self.jobs.labels(outcome=report.outcome, code=report.code).inc()
        if report.outcome == "refused":
            return
        self.wait_seconds.observe(report.wait_s)
        if report.run_s > 0:
            self.run_seconds.observe(report.run_s)
        for stage, seconds in report.stage_seconds.items():
            self.stage_seconds.labels(stage=stage).observe(seconds)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)


class OpsServer:
    """An aiohttp server with `/healthz` (the database and the engine workers) and `/metrics`.

    `pool` is None when the bot runs without one (a fake engine): its checks and metrics are left out.
    """

    def __init__(
        self,
        pool: EnginePool | None,
        database: Database | None,
        host: str = "127.0.0.1",
        port: int = 9108,
    ) -> None:
        self._pool = pool
        self._database = database
        self._metrics = PoolMetrics(pool) if pool is not None else None
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None  # the bound port (useful with port=0)

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        return app

    async def start(self) -> None:
        """Serve; raises OSError when the port is taken (the runner says so in one line)."""
        self._runner = web.AppRunner(self.application(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        addresses = self._runner.addresses
        self.port = addresses[0][1] if addresses else self._port
        logger.info("ops endpoints on http://%s:%s/healthz and /metrics", self._host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self, request: web.Request) -> web.Response:
        problems = []
        body: dict[str, object] = {}
        if self._database is not None:
            try:
                await self._database.ping()
                body["database"] = "ok"
            except StorageError as error:
                body["database"] = f"unreachable: {error}"
                problems.append("database_unreachable")
        if self._pool is not None:
            stats = self._pool.stats()
            if not stats.accepting:
                problems.append("closing")
            elif stats.workers_alive == 0:
                problems.append("no_workers")
            body.update(
                backend=stats.backend,
                workers=stats.workers,
                workers_alive=stats.workers_alive,
                workers_busy=stats.workers_busy,
                queue_depth=stats.queue_depth,
                estimated_wait_s=round(stats.estimated_wait_s, 1),
            )
        body = {"status": problems[0] if problems else "ok", **body}
        return web.json_response(body, status=503 if problems else 200)

    async def metrics(self, request: web.Request) -> web.Response:
        data = self._metrics.render() if self._metrics is not None else generate_latest(CollectorRegistry())
        return web.Response(body=data, headers={"Content-Type": CONTENT_TYPE_LATEST})
