"""The pose service: one process per GPU running every worker's pose networks (here on the CPU).

It must find exactly the people the networks find inside the worker, be replaced when it dies (the clip
analysed again), and a job it fails must be ours, never the user's video's.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_async

from engine.api import EngineSettings, ScoreJob
from engine.decode import probe
from engine.pool import LocalPool, PoolSettings, WorkerPlan
from engine.pool.errors import decode_error, encode_error
from engine.pool.pose_supervisor import PoseServiceProcess, new_address
from engine.pose import TorchBackend
from engine.pose_service import PoseServiceError, ServiceAddress, ServiceLostError, run_with_service

DATA = Path(__file__).resolve().parents[1] / "data"
FPS = 2.0  # few frames: the networks run on a CPU here


@pytest.fixture
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def same_people(a, b) -> None:
    assert np.array_equal(a.times, b.times)
    assert [len(frame) for frame in a.people] == [len(frame) for frame in b.people]
    assert sum(len(frame) for frame in a.people) >= len(a.times) - 1  # the dancer, nearly everywhere
    for frame_a, frame_b in zip(a.people, b.people, strict=True):
        for person_a, person_b in zip(frame_a, frame_b, strict=True):
            np.testing.assert_allclose(person_a, person_b, atol=0.05)  # pixels of a 1280x720 frame


@pytest.mark.slow
def test_the_service_finds_the_people_the_networks_find_in_the_worker_and_is_replaced_when_killed(one_torch_thread):
    info = probe(DATA / "squat_reference.mp4", EngineSettings().limits)
    local = TorchBackend(threads=2).find_people(info, FPS)

    async def scenario() -> None:
        folder = tempfile.mkdtemp()
        service = PoseServiceProcess("pose-service-test", new_address(folder, "cpu", wait_s=60), "cpu", batch=16)
        await service.start()
        try:
            remote = TorchBackend(threads=2, service=service.address)
            timings: dict[str, float] = {}
            same_people(await asyncio.to_thread(remote.find_people, info, FPS, None, timings), local)
            assert timings["service"] > 0 and "detector" not in timings  # the networks ran over there

            first_pid = service.pid
            assert first_pid is not None
            killed: list[int] = []

            def kill_midway(stage: str, fraction: float) -> None:  # on the decoding thread, mid-clip
                if not killed and 0 < fraction < 1:
                    os.kill(first_pid, signal.SIGKILL)
                    killed.append(first_pid)

            again = await asyncio.to_thread(remote.find_people, info, FPS, kill_midway)
            assert killed and service.restarts == 1 and service.pid != first_pid and service.alive
            same_people(again, local)  # analysed again from the start on the new service
        finally:
            await service.stop()
        assert not service.alive

    run_async(scenario(), timeout_s=240)


def test_a_clip_that_loses_the_service_twice_fails_as_our_fault_not_the_videos():
    calls: list[int] = []

    def analyse() -> None:
        calls.append(1)
        raise ServiceLostError("the connection to the pose service broke")

    address = ServiceAddress(str(Path(tempfile.mkdtemp()) / "none.sock"), b"key", wait_s=0.2)
    with pytest.raises(PoseServiceError) as caught:
        run_with_service(address, analyse)
    assert len(calls) == 2  # tried once more on a fresh connection
    error = caught.value
    assert error.ours and error.code == "pose_service_unavailable" and "Nothing is wrong with the video" in str(error)
    back = decode_error(encode_error(error))  # as it crosses from the worker to the pool
    assert type(back) is PoseServiceError and back.ours and str(back) == str(error)


def test_no_service_at_the_address_is_reported_after_waiting_for_it():
    address = ServiceAddress(str(Path(tempfile.mkdtemp()) / "none.sock"), b"key", wait_s=0.3)
    info = probe(DATA / "squat_reference.mp4", EngineSettings().limits)
    t0 = time.monotonic()
    with pytest.raises(PoseServiceError):
        TorchBackend(threads=1, service=address).find_people(info, FPS)
    assert 0.5 <= time.monotonic() - t0 < 10  # waited for it twice, then gave up


def test_the_key_is_never_shown():
    address = ServiceAddress("/tmp/x.sock", b"secret-key-bytes")
    assert "secret" not in repr(address) and "secret" not in str(address)


@pytest.mark.slow
def test_a_pool_scores_through_its_pose_service_and_survives_the_service_dying(tmp_path, one_torch_thread):
    settings = EngineSettings(cache_dir=tmp_path / "cache")
    job = ScoreJob(str(DATA / "squat_reference.mp4"), str(DATA / "squat_zoomed_offset.mp4"))

    async def scenario() -> None:
        pool = LocalPool(settings, PoolSettings(workers=1), plans=[WorkerPlan("cpu", 1, service=0)], services=["cpu"])
        await pool.start()
        try:
            service = pool.services[0]
            result = await pool.submit(job)
            assert result.backend == "torch-blazepose-full" and result.score >= 9.0
            assert service.pid is not None
            os.kill(service.pid, signal.SIGKILL)
            again = await pool.submit(job)  # waits for the new service
            assert again.score == pytest.approx(result.score, abs=0.01)
            assert service.restarts == 1 and service.alive
        finally:
            await pool.close(drain=False)
        assert not pool.services

    run_async(scenario(), timeout_s=300)


def test_a_pose_service_that_cannot_start_leaves_the_pose_networks_to_the_workers(worker_settings):
    async def scenario() -> None:
        plans = [WorkerPlan("cpu", 1, service=0)]
        pool = LocalPool(
            worker_settings,
            PoolSettings(workers=1, runner="pool_jobs:run", start_timeout_s=60),
            plans=plans,
            services=["cuda:7"],  # not on this machine: the service fails to start
        )
        await pool.start()
        try:
            assert pool.services == [] and [(p.device, p.service) for p in pool.plans] == [("cpu", None)]
            assert pool.stats().workers_alive == 1
        finally:
            await pool.close()

    run_async(scenario(), timeout_s=120)
