"""Where workers go, and how errors and waits are put to users."""

from __future__ import annotations

import pickle

import pytest

from engine.api import EngineSettings
from engine.errors import EngineError, NoDancerError, VideoError
from engine.pool import PoolSettings, QueueFullError, create_pool, plan_workers
from engine.pool.errors import InternalError, decode_error, encode_error
from engine.pool.local import describe_exit
from engine.pool.placement import count_gpus, tailor_settings
from engine.timecode import describe_duration


@pytest.mark.parametrize(("gpus", "cpus"), [(1, 16), (2, 16), (4, 8), (1, 2), (8, 4)])
def test_a_gpu_machine_gets_at_least_a_worker_per_core_spread_over_its_gpus(gpus, cpus):
    with_gpus = plan_workers(PoolSettings(), gpus=gpus, cpus=cpus)
    hidden = plan_workers(PoolSettings(), gpus=0, cpus=cpus)
    assert len(with_gpus) >= cpus and len(with_gpus) >= len(hidden)  # never fewer workers for having a GPU
    assert {p.device for p in with_gpus} == {f"cuda:{g}" for g in range(gpus)}
    per_gpu = [sum(p.device == f"cuda:{g}" for p in with_gpus) for g in range(gpus)]
    assert max(per_gpu) - min(per_gpu) <= 1
    assert all(p.threads >= 1 for p in with_gpus) and sum(p.threads for p in with_gpus) <= max(cpus, gpus)


def test_each_worker_runs_its_pose_networks_on_its_gpu_and_the_scorer_on_the_cpu():
    plans = plan_workers(PoolSettings(), gpus=2, cpus=4)
    tailored = [tailor_settings(EngineSettings(), plan) for plan in plans]
    assert [s.pose_device for s in tailored] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert {s.device for s in tailored} == {"cpu"} and {s.pose_threads for s in tailored} == {1}
    assert tailor_settings(EngineSettings(), plan_workers(PoolSettings(), gpus=0, cpus=2)[0]).pose_device == "cpu"


def test_the_gpu_count_comes_from_torch_and_a_broken_driver_means_none(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    assert count_gpus() == 3

    def broken() -> int:
        raise RuntimeError("CUDA driver initialization failed")

    monkeypatch.setattr(torch.cuda, "device_count", broken)
    assert count_gpus() == 0


def test_workers_per_gpu_can_differ_per_gpu_and_are_spread_round_robin():
    plans = plan_workers(PoolSettings(workers_per_gpu=(2, 1)), gpus=2, cpus=4)
    assert [p.device for p in plans] == ["cuda:0", "cuda:1", "cuda:0"]
    capped = plan_workers(PoolSettings(workers_per_gpu=3, workers=4), gpus=2, cpus=4)
    assert [p.device for p in capped] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]


def test_without_gpus_one_worker_per_core_with_one_thread_each():
    assert [(p.device, p.threads) for p in plan_workers(PoolSettings(), gpus=0, cpus=2)] == [("cpu", 1)] * 2
    assert [(p.device, p.threads) for p in plan_workers(PoolSettings(workers=1), gpus=0, cpus=2)] == [("cpu", 2)]


def test_settings_that_leave_no_worker_are_refused():
    with pytest.raises(ValueError, match="no worker"):
        plan_workers(PoolSettings(workers_per_gpu=0), gpus=1, cpus=2)


def test_engine_errors_cross_the_process_boundary_as_themselves():
    for error in (VideoError("The file is cut short."), NoDancerError("Nobody is in the clip.")):
        back = decode_error(pickle.loads(pickle.dumps(encode_error(error))))
        assert type(back) is type(error) and str(back) == str(error) and back.code == error.code
    custom = decode_error(encode_error(EngineError("Odd.", code="odd_case")))
    assert custom.code == "odd_case"


def test_other_errors_become_an_internal_error_without_internals():
    back = decode_error(encode_error(KeyError("secret_column"), "Traceback ...KeyError"))
    assert isinstance(back, InternalError) and "secret_column" not in str(back)
    assert back.reference in str(back)


def test_waits_and_exits_are_described_in_words():
    assert describe_duration(1) == "1 second"
    assert describe_duration(45) == "45 seconds"
    assert describe_duration(179) == "3 minutes"
    assert describe_duration(3900) == "1 hour 5 minutes"
    assert "about 15 minutes" in str(QueueFullError(900))
    assert pickle.loads(pickle.dumps(QueueFullError(900, 840))).estimated_wait_s == 900
    assert describe_exit(-9) == "killed by SIGKILL" and describe_exit(3) == "exited with status 3"


def test_an_unknown_backend_name_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="local, ray, inline"):
        create_pool("celery", engine_settings=None)
