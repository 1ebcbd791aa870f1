"""The Ray backend on a local Ray cluster started by the test: same contract as the local pool."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the `ray` extra is not installed (pip install -e '.[ray]')")

from conftest import run_async, wait_for_file  # noqa: E402
from pool_jobs import ClipOptions, FileTask, PoseTask, Task  # noqa: E402

from engine.errors import VideoError  # noqa: E402
from engine.pool import JobTimeoutError, PoolSettings, WorkerCrashError  # noqa: E402
from engine.pool.ray_backend import RayPool  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster():
    """One local Ray cluster for the module (starting one takes seconds); workers can import pool_jobs."""
    here = str(Path(__file__).parent)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}},
        log_to_driver=False,
    )
    yield
    ray.shutdown()


def make_pool(settings, workers=1, runner="pool_jobs:run", **options) -> RayPool:
    return RayPool(settings, PoolSettings(workers=workers, runner=runner, **options), max_restarts=3)


def test_ray_pool_returns_results_progress_and_the_engines_own_errors(cluster, worker_settings):
    async def scenario():
        pool = make_pool(worker_settings)
        await pool.start()
        events = []
        result = await pool.submit(Task("sleep", 1.5, tag="ray"), progress=lambda s, f: events.append((s, f)))
        with pytest.raises(VideoError) as rejected:
            await pool.submit(Task("reject"))
        await pool.close()
        return result, events, rejected.value

    result, events, rejected = run_async(scenario())
    assert result.feedback == ["ray"] and int(result.backend.split()[1]) != os.getpid()
    assert events and all(stage == "sleep" and 0 <= f <= 1 for stage, f in events)
    assert str(rejected) == "This file is not a video we can read." and rejected.code == "bad_video"


def test_ray_actor_killed_mid_job_fails_that_job_and_is_restarted(cluster, worker_settings, tmp_path):
    async def scenario():
        pool = make_pool(worker_settings)
        await pool.start()
        victim = asyncio.create_task(pool.submit(Task("sleep", 60, tag="victim")))
        os.kill(int(await wait_for_file(tmp_path / "started-victim", 60)), signal.SIGKILL)
        with pytest.raises(WorkerCrashError):
            await victim
        after = await pool.submit(Task("score", tag="after"))
        stats = pool.stats()
        await pool.close()
        return after, stats

    after, stats = run_async(scenario(), timeout_s=180)
    assert after.feedback == ["after"]
    assert stats.outcomes["crashed"] == 1 and stats.workers_alive == 1


def test_ray_job_past_its_time_limit_is_stopped(cluster, worker_settings):
    async def scenario():
        pool = make_pool(worker_settings, job_timeout_s=2.0)
        await pool.start()
        with pytest.raises(JobTimeoutError):
            await pool.submit(Task("sleep", 60))
        after = await pool.submit(Task("score", tag="after"))
        await pool.close()
        return after

    assert run_async(scenario(), timeout_s=180).feedback == ["after"]


def test_object_store_transfer_ships_inputs_and_brings_the_clip_back(cluster, worker_settings, tmp_path):
    (tmp_path / "ref.bin").write_bytes(b"reference|")
    (tmp_path / "att.bin").write_bytes(b"attempt")
    wanted = tmp_path / "out" / "clip.mp4"
    job = FileTask(str(tmp_path / "ref.bin"), str(tmp_path / "att.bin"), ClipOptions(clip_path=str(wanted)))

    async def scenario():
        pool = RayPool(worker_settings, PoolSettings(workers=1, runner="pool_jobs:join_files"), transfer="object_store")
        result = await pool.submit(job)
        await pool.close()
        return result

    result = run_async(scenario())
    assert result.clip_path == str(wanted)
    assert wanted.read_bytes() == b"reference|attempt"
    assert result.feedback != [job.reference]  # the worker read a shipped copy, not the caller's path


def test_object_store_transfer_ships_a_reference_and_brings_its_poses_back(cluster, worker_settings, tmp_path):
    (tmp_path / "dance.mp4").write_bytes(b"video")
    wanted = tmp_path / "media" / "ref.npz"
    job = PoseTask(str(tmp_path / "dance.mp4"), str(wanted))

    async def scenario():
        shape = PoolSettings(workers=1, runner="pool_jobs:write_poses")
        pool = RayPool(worker_settings, shape, transfer="object_store")
        result = await pool.submit(job)
        await pool.close()
        return result

    result = run_async(scenario())
    assert result.pose_path == str(wanted) and wanted.read_bytes() == b"poses of video"
    assert (tmp_path / "media" / "ref.audio.npy").read_bytes() == b"envelope"  # what was written beside it
