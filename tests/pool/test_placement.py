"""Where workers go, and how errors and waits are put to users."""

from __future__ import annotations

import pickle

import pytest

from engine.errors import EngineError, NoDancerError, VideoError
from engine.pool import PoolSettings, QueueFullError, create_pool, plan_workers
from engine.pool.errors import InternalError, decode_error, describe_duration, encode_error
from engine.pool.local import describe_exit


def test_one_worker_per_gpu_by_default_sharing_the_cpu_threads():
    plans = plan_workers(PoolSettings(), gpus=2, cpus=16)
    assert [p.device for p in plans] == ["cuda:0", "cuda:1"]
    assert {p.threads for p in plans} == {8}


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
