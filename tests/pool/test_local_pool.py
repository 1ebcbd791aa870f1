"""The local pool with real spawned worker processes running real (test) job functions."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import run_async, wait_for_file
from pool_jobs import Task, WorkerSettings

from engine.errors import VideoError
from engine.pool import (
    InternalError,
    JobTimeoutError,
    LocalPool,
    PoolClosedError,
    PoolError,
    PoolSettings,
    QueueFullError,
    WorkerCrashError,
    WorkerPlan,
)

RUNNER = "pool_jobs:run"


def make_pool(settings: WorkerSettings, workers: int = 2, **overrides) -> LocalPool:
    pool_settings = PoolSettings(runner=RUNNER, **overrides)
    return LocalPool(settings, pool_settings, plans=[WorkerPlan("cpu", 1)] * workers)


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_result_and_progress_arrive_on_the_callers_loop(worker_settings):
    async def scenario():
        pool = make_pool(worker_settings, workers=1)
        await pool.start()
        events: list[tuple[str, float, int]] = []
        result = await pool.submit(
            Task("progress", steps=5, tag="p"),
            progress=lambda s, f: events.append((s, f, threading.get_ident())),
        )
        await pool.close()
        return result, events

    result, events = run_async(scenario())
    assert result.feedback == ["p"]
    assert int(result.backend.split()[1]) != os.getpid()  # it ran in a worker process
    assert [(s, f) for s, f, _ in events] == [(f"stage-{i}", 1.0) for i in range(5)]
    assert {t for _, _, t in events} == {threading.get_ident()}


def test_each_worker_loads_once_with_its_device_and_thread_budget(worker_settings):
    async def scenario():
        pool = make_pool(worker_settings, workers=2)
        await pool.start()
        results = await asyncio.gather(*(pool.submit(Task("sleep", 0.2, tag=str(i))) for i in range(6)))
        pids = pool.worker_pids()
        await pool.close()
        return results, pids

    results, pids = run_async(scenario())
    warmed = (Path(worker_settings.log_dir) / "warm_up.log").read_text().split("\n")[:-1]
    assert sorted(int(line.split()[0]) for line in warmed) == sorted(pids)
    assert all(line.split()[1:] == ["cpu", "1"] for line in warmed)
    assert {int(r.backend.split()[1]) for r in results} == set(pids)  # both workers took jobs


def test_kill_9_mid_job_fails_only_that_job_and_the_pool_keeps_serving(worker_settings, tmp_path):
    async def scenario():
        pool = make_pool(worker_settings, workers=2)
        await pool.start()
        victim = asyncio.create_task(pool.submit(Task("sleep", 30, tag="victim")))
        bystander = asyncio.create_task(pool.submit(Task("sleep", 1.5, tag="bystander")))
        pid = int(await wait_for_file(tmp_path / "started-victim"))
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkerCrashError) as crash:
            await victim
        survivor = await bystander
        after = await pool.submit(Task("sleep", 0.1, tag="after"))
        stats = pool.stats()
        await pool.close()
        return crash.value, survivor, after, stats, pid

    crash, survivor, after, stats, pid = run_async(scenario())
    assert "crashed" in str(crash) and crash.code == "worker_crashed"
    assert "SIGKILL" in crash.detail
    assert survivor.feedback == ["bystander"] and after.feedback == ["after"]
    assert stats.outcomes["crashed"] == 1 and stats.outcomes["ok"] == 2
    assert stats.workers_alive == 2
    assert not is_alive(pid)


def test_a_worker_killed_while_idle_is_noticed_at_once_and_the_next_job_still_runs(worker_settings):
    """Killed (an out-of-memory kill, an operator) while no job runs on it: it stops counting as alive at
    once and is replaced; a job sent to it before anyone could notice runs on a worker after all."""

    async def scenario():
        pool = make_pool(worker_settings, workers=1)
        await pool.start()
        pid = pool.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        result = await pool.submit(Task("score", tag="next"))  # dispatched before the death is seen
        os.kill(pool.worker_pids()[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pool.stats().workers_alive == 1:  # nothing is submitted: only the death itself can tell
            assert time.monotonic() < deadline, "the idle worker's death went unnoticed"
            await asyncio.sleep(0.02)
        noticed_after = time.monotonic() - (deadline - 10)
        while pool.stats().workers_alive == 0:
            assert time.monotonic() < deadline + 30, "the dead worker was not replaced"
            await asyncio.sleep(0.05)
        stats = pool.stats()
        await pool.close()
        return result, stats, pid, noticed_after

    result, stats, pid, noticed_after = run_async(scenario())
    assert result.feedback == ["next"]  # not "The scorer crashed while working on this video"
    assert stats.outcomes["crashed"] == 0 and stats.outcomes["ok"] == 1
    assert stats.workers_alive == 1 and noticed_after < 2.0
    assert not is_alive(pid)


def test_native_crash_fails_its_job_and_the_worker_is_replaced(worker_settings):
    async def scenario():
        pool = make_pool(worker_settings, workers=1)
        await pool.start()
        before = pool.worker_pids()
        with pytest.raises(WorkerCrashError) as crash:
            await pool.submit(Task("segfault"))
        result = await pool.submit(Task("score", tag="next"))
        after = pool.worker_pids()
        await pool.close()
        return crash.value, result, before, after

    crash, result, before, after = run_async(scenario())
    assert "SIGSEGV" in crash.detail
    assert result.feedback == ["next"]
    assert before != after and None not in after


def test_job_past_its_time_limit_is_stopped_and_its_worker_replaced(worker_settings, tmp_path):
    async def scenario():
        pool = make_pool(worker_settings, workers=1, job_timeout_s=1.0)
        await pool.start()
        t0 = time.monotonic()
        with pytest.raises(JobTimeoutError) as timeout:
            await pool.submit(Task("sleep", 60, tag="slow"))
        waited = time.monotonic() - t0
        pid = int((tmp_path / "started-slow").read_text())
        result = await pool.submit(Task("score", tag="next"))
        await pool.close()
        return timeout.value, waited, pid, result

    error, waited, pid, result = run_async(scenario())
    assert 1.0 <= waited < 5.0
    assert error.code == "timeout" and "1 second" in str(error)
    assert not is_alive(pid)
    assert result.feedback == ["next"]


def test_engine_errors_keep_their_class_code_and_message(worker_settings):
    async def scenario():
        pool = make_pool(worker_settings, workers=1)
        with pytest.raises(VideoError) as error:
            await pool.submit(Task("reject"))
        ok = await pool.submit(Task("score", tag="same worker"))
        stats = pool.stats()
        await pool.close()
        return error.value, ok, stats

    error, ok, stats = run_async(scenario())
    assert str(error) == "This file is not a video we can read." and error.code == "bad_video"
    assert ok.feedback == ["same worker"]
    assert stats.outcomes["rejected"] == 1


def test_unexpected_error_reaches_the_user_as_a_reference_logged_with_its_traceback(worker_settings, caplog):
    async def scenario():
        pool = make_pool(worker_settings, workers=1)
        with pytest.raises(InternalError) as error:
            await pool.submit(Task("bug"))
        await pool.close()
        return error.value

    with caplog.at_level(logging.ERROR, logger="engine.pool"):
        error = run_async(scenario())
    assert "division" not in str(error)  # no internals in the user's message
    reference = re.search(r"reference ([0-9a-f]{8})", str(error)).group(1)
    logged = [r.getMessage() for r in caplog.records if reference in r.getMessage()]
    assert logged and "ZeroDivisionError" in logged[0] and "pool_jobs.py" in logged[0]


def test_admission_refuses_at_once_with_the_estimate(worker_settings):
    async def scenario():
        pool = make_pool(worker_settings, workers=1, expected_job_s=100.0, max_wait_s=150.0)
        await pool.start()
        running = asyncio.create_task(pool.submit(Task("sleep", 1.0, tag="running")))
        await asyncio.sleep(0)
        queued = asyncio.create_task(pool.submit(Task("score", tag="queued")))
        await asyncio.sleep(0)
        t0 = time.monotonic()
        with pytest.raises(QueueFullError) as refused:
            await pool.submit(Task("score", tag="refused"))
        refused_in = time.monotonic() - t0
        done = await asyncio.gather(running, queued)
        stats = pool.stats()
        await pool.close()
        return refused.value, refused_in, done, stats

    refused, refused_in, done, stats = run_async(scenario())
    assert refused_in < 0.5
    assert 150 < refused.estimated_wait_s <= 200  # one job queued ahead, one running: about two job lengths
    assert refused.code == "queue_full" and "about 3 minutes" in str(refused)
    assert [r.feedback for r in done] == [["running"], ["queued"]]  # accepted jobs are never dropped
    assert stats.outcomes["refused"] == 1 and stats.outcomes["ok"] == 2


def test_a_full_queue_refuses_even_when_jobs_are_quick(worker_settings):
    async def scenario():
        pool = make_pool(worker_settings, workers=1, max_queue=2, expected_job_s=0.1)
        await pool.start()
        accepted = [asyncio.create_task(pool.submit(Task("sleep", 0.3, tag=str(i)))) for i in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(QueueFullError):
            await pool.submit(Task("score"))
        results = await asyncio.gather(*accepted)
        await pool.close()
        return results

    assert [r.feedback for r in run_async(scenario())] == [["0"], ["1"], ["2"]]


def test_cancelling_a_waiting_job_takes_it_off_the_queue(worker_settings, tmp_path):
    async def scenario():
        pool = make_pool(worker_settings, workers=1)
        await pool.start()
        running = asyncio.create_task(pool.submit(Task("sleep", 1.0, tag="running")))
        waiting = asyncio.create_task(pool.submit(Task("score", tag="waiting")))
        await asyncio.sleep(0.2)
        assert pool.stats().queue_depth == 1
        waiting.cancel()
        await asyncio.sleep(0)
        depth = pool.stats().queue_depth
        await running
        stats = pool.stats()
        await pool.close()
        return depth, stats, waiting

    depth, stats, waiting = run_async(scenario())
    assert depth == 0 and waiting.cancelled()
    assert not (tmp_path / "started-waiting").exists()
    assert stats.outcomes["cancelled"] == 1 and stats.outcomes["ok"] == 1


def test_cancelling_a_running_job_stops_its_worker_and_the_next_job_runs(worker_settings, tmp_path):
    async def scenario():
        pool = make_pool(worker_settings, workers=1)
        await pool.start()
        job = asyncio.create_task(pool.submit(Task("sleep", 60, tag="doomed")))
        pid = int(await wait_for_file(tmp_path / "started-doomed"))
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        result = await pool.submit(Task("score", tag="next"))
        stats = pool.stats()
        await pool.close()
        return pid, result, stats

    pid, result, stats = run_async(scenario())
    assert not is_alive(pid)
    assert result.feedback == ["next"]
    assert stats.outcomes["cancelled"] == 1


def test_shutdown_without_drain_fails_running_and_waiting_jobs_and_stops_every_worker(worker_settings, tmp_path):
    async def scenario():
        pool = make_pool(worker_settings, workers=1)
        await pool.start()
        pids = pool.worker_pids()
        running = asyncio.create_task(pool.submit(Task("sleep", 60, tag="running")))
        waiting = asyncio.create_task(pool.submit(Task("score", tag="waiting")))
        await wait_for_file(tmp_path / "started-running")
        t0 = time.monotonic()
        await pool.close(drain=False)
        closed_in = time.monotonic() - t0
        outcomes = await asyncio.gather(running, waiting, return_exceptions=True)
        with pytest.raises(PoolClosedError):
            await pool.submit(Task("score"))
        return pids, closed_in, outcomes, pool.stats()

    pids, closed_in, outcomes, stats = run_async(scenario())
    assert closed_in < 4  # a running job is stopped, not waited for
    assert all(isinstance(o, PoolClosedError) for o in outcomes)
    assert "send your video again" in str(outcomes[0])
    assert not any(is_alive(pid) for pid in pids)
    assert stats.outcomes["shutdown"] == 2 and stats.workers_alive == 0


def test_shutdown_with_drain_finishes_accepted_jobs_and_refuses_new_ones(worker_settings):
    async def scenario():
        pool = make_pool(worker_settings, workers=1)
        await pool.start()
        pids = pool.worker_pids()
        jobs = [asyncio.create_task(pool.submit(Task("sleep", 0.3, tag=str(i)))) for i in range(3)]
        await asyncio.sleep(0.1)
        closing = asyncio.create_task(pool.close(drain=True))
        await asyncio.sleep(0)
        with pytest.raises(PoolClosedError):
            await pool.submit(Task("score"))
        await closing
        return pids, [j.result() for j in jobs]

    pids, results = run_async(scenario())
    assert [r.feedback for r in results] == [["0"], ["1"], ["2"]]
    assert not any(is_alive(pid) for pid in pids)


def test_a_pool_whose_workers_cannot_start_says_why(worker_settings):
    async def scenario():
        pool = LocalPool(
            worker_settings, PoolSettings(runner="pool_jobs:no_such_function"), plans=[WorkerPlan("cpu", 1)]
        )
        with pytest.raises(PoolError) as error:
            await pool.start()
        return error.value

    assert "no_such_function" in str(run_async(scenario()))


def test_jobs_submitted_before_the_pool_started_wait_for_its_workers(worker_settings):
    async def scenario():
        pool = make_pool(worker_settings, workers=1)
        results = await asyncio.gather(*(pool.submit(Task("score", tag=str(i))) for i in range(3)))
        await pool.close()
        return results

    assert [r.feedback for r in run_async(scenario())] == [["0"], ["1"], ["2"]]


def test_the_wait_estimate_learns_from_finished_jobs(worker_settings):
    async def scenario():
        pool = make_pool(worker_settings, workers=1, expected_job_s=100.0, max_wait_s=50.0)
        await pool.start()
        before = pool.estimate_wait()
        await pool.submit(Task("sleep", 0.2))  # the first real job replaces the 100 s guess
        results = await asyncio.gather(*(pool.submit(Task("score", tag=str(i))) for i in range(3)))
        await pool.close()
        return before, results, pool.stats()

    before, results, stats = run_async(scenario())
    assert before == 0.0 and len(results) == 3
    assert stats.outcomes["refused"] == 0 and stats.mean_job_s < 5
