"""Load check of the engine pool: N real scoring jobs submitted at once, with 1 worker and then 2.

    .venv/bin/python bench/load.py              # tests/data squat clips, 50 jobs, 1 then 2 workers
    .venv/bin/python bench/load.py --jobs 20 --workers 2 --max-wait 60 --attempt A.mp4 --reference R.mp4

For each worker count it starts a `LocalPool` on the real engine (`engine.api:run_job`), runs one job to warm
up and calibrate the wait estimate (what a live bot's running mean would hold), then submits all jobs at
once and prints throughput, p50/p95 latency (submit to result, queueing included), how many were refused
and why, how many failed and why; it checks every job ended (none lost, none hanging). The reference is
analysed once into a .npz first, as the bots do when a moderator registers a dance.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.api import CompareOptions, EngineSettings, ScoreJob, save_reference
from engine.errors import EngineError
from engine.pool import LocalPool, PoolSettings, QueueFullError, WorkerPlan, plan_workers

logger = logging.getLogger("bench.load")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT / "tests/data/squat_reference.mp4"
DEFAULT_ATTEMPTS = sorted(p for p in (ROOT / "tests/data").glob("squat_*.mp4") if p != DEFAULT_REFERENCE)


@dataclass
class RunReport:
    """One load run: N jobs on a pool of `workers`."""

    workers: int
    threads_per_worker: int
    jobs: int
    wall_s: float
    completed: int
    latencies_s: list[float] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    mean_job_s: float = 0.0
    warm_up_job_s: float = 0.0
    cores_obtained: float = 0.0  # CPU seconds the workers got per wall second (2.0 = both cores, all along)
    load_before: float = 0.0  # 1-minute load average of the machine (other processes share the cores)
    load_after: float = 0.0
    placement: str = "cpu"  # "cpu" (no GPU seen), or the GPU placement: "service" or "workers"
    service: dict = field(default_factory=dict)  # the pose service's counters over the run (placement service)

    @property
    def throughput_per_min(self) -> float:
        return 60.0 * self.completed / self.wall_s if self.wall_s > 0 else 0.0

    def summary(self) -> dict:
        lat = np.array(self.latencies_s) if self.latencies_s else np.array([np.nan])
        return {
            "workers": self.workers,
            "threads_per_worker": self.threads_per_worker,
            "jobs": self.jobs,
            "completed": self.completed,
            "refused": dict(self.refused),
            "failed": dict(self.failed),
            "lost_or_hanging": self.lost,
            "wall_s": round(self.wall_s, 1),
            "throughput_jobs_per_min": round(self.throughput_per_min, 2),
            "latency_p50_s": round(float(np.percentile(lat, 50)), 1),
            "latency_p95_s": round(float(np.percentile(lat, 95)), 1),
            "warm_up_job_s": round(self.warm_up_job_s, 2),
            "mean_job_run_s": round(self.mean_job_s, 2),
            "worker_cores_obtained": round(self.cores_obtained, 2),
            "load_avg_1m_before_after": [round(self.load_before, 2), round(self.load_after, 2)],
            "placement": self.placement,
            "service": {k: round(v, 3) for k, v in self.service.items()},
        }


def measure_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (all their threads), from /proc; 0 for a gone one."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def run_load(
    workers: int,
    jobs: list[ScoreJob],
    engine: EngineSettings,
    max_wait_s: float,
    timeout_s: float,
    threads: int | None = None,
    gpu_placement: str = "service",
) -> RunReport:
    """Start a pool of `workers`, warm it up with one job, then submit every job at once and wait for all."""
    settings = PoolSettings(
        workers=workers, max_wait_s=max_wait_s, job_timeout_s=timeout_s, gpu_placement=gpu_placement
    )
    plans = plan_workers(settings)
    if threads is not None:
        plans = [WorkerPlan(p.device, threads, p.service) for p in plans]
    pool = LocalPool(engine, settings, plans=plans)
    await pool.start()
    placement = gpu_placement if any(p.device != "cpu" or p.service is not None for p in pool.plans) else "cpu"
    t0 = time.monotonic()
    await pool.submit(jobs[0])
    warm = time.monotonic() - t0
    report = RunReport(workers, plans[0].threads, len(jobs), 0.0, 0, warm_up_job_s=warm, placement=placement)
    service_before = service_counters(pool)
    report.load_before = os.getloadavg()[0]

    async def one(job: ScoreJob) -> None:
        start = time.monotonic()
        try:
            await pool.submit(job)
        except QueueFullError as e:
            report.refused[f"{e.code}: {e}"] += 1
            return
        except EngineError as e:
            report.failed[f"{e.code}: {e}"] += 1
            return
        report.completed += 1
        report.latencies_s.append(time.monotonic() - start)

    pids = [pid for pid in pool.worker_pids() if pid is not None]
    cpu_before = measure_cpu_seconds(pids)
    t0 = time.monotonic()
    tasks = [asyncio.create_task(one(job)) for job in jobs]
    done, pending = await asyncio.wait(tasks, timeout=timeout_s * len(jobs))
    report.wall_s = time.monotonic() - t0
    report.load_after = os.getloadavg()[0]
    report.cores_obtained = (measure_cpu_seconds(pids) - cpu_before) / report.wall_s
    report.lost = len(pending) + sum(1 for t in done if t.exception() is not None)
    for task in pending:
        task.cancel()
    report.mean_job_s = pool.stats().mean_job_s
    after = service_counters(pool)
    report.service = {k: after[k] - service_before.get(k, 0.0) if k != "graphs" else after[k] for k in after}
    if report.service.get("batches"):
        report.service["frames_per_batch"] = report.service["frames"] / report.service["batches"]
        report.service["busy_fraction"] = report.service["busy_s"] / report.wall_s
    await pool.close(drain=False)
    return report


def service_counters(pool: LocalPool) -> dict[str, float]:
    """The first pose service's counters (frames, batches, busy seconds...), or {} without one."""
    if not pool.services:
        return {}
    from engine.pose_service import link_for

    return {**link_for(pool.services[0].address).stats(), "graphs": float(pool.services[0].graphs)}


def compute_pooled_rate(reports: list[RunReport]) -> float:
    """Jobs completed per minute over several runs together."""
    wall = sum(r.wall_s for r in reports)
    return 60.0 * sum(r.completed for r in reports) / wall if wall > 0 else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--attempt", type=Path, action="append", help="attempt clip(s), used in turn")
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--max-wait", type=float, default=14 * 60, help="admission limit, seconds")
    parser.add_argument("--threads", type=int, help="pose threads per worker (default: cores / workers)")
    parser.add_argument("--timeout", type=float, default=600, help="per-job time limit, seconds")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the worker counts, interleaved")
    parser.add_argument(
        "--gpu-placement", choices=("service", "workers"), default="service", help="pose networks on a GPU machine"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    attempts = args.attempt or DEFAULT_ATTEMPTS
    if not args.reference.is_file() or not attempts:
        parser.error("no reference/attempt clips: pass --reference and --attempt")

    with tempfile.TemporaryDirectory(prefix="dancescore-bench-") as folder:
        engine = EngineSettings(cache_dir=Path(folder) / "cache")
        reference = Path(folder) / "reference.npz"
        save_reference(args.reference, engine, reference)
        jobs = [
            ScoreJob(str(reference), str(attempts[i % len(attempts)]), CompareOptions(), str(args.reference))
            for i in range(args.jobs)
        ]
        reports = [
            asyncio.run(run_load(n, jobs, engine, args.max_wait, args.timeout, args.threads, args.gpu_placement))
            for _ in range(args.rounds)
            for n in args.workers
        ]

    summaries = [r.summary() for r in reports]
    for s in summaries:
        print(json.dumps(s))
    rates = {n: compute_pooled_rate([r for r in reports if r.workers == n]) for n in args.workers}
    for n in args.workers[1:]:
        if rates[args.workers[0]] > 0:
            ratio = rates[n] / rates[args.workers[0]]
            print(f"throughput with {n} workers / with {args.workers[0]}: {ratio:.2f}x (all rounds pooled)")
    if args.json:
        args.json.write_text(json.dumps({"runs": summaries, "args": vars(args)}, indent=2, default=str))
    return 1 if any(r.lost for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
