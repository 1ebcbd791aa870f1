"""The pool on a Ray cluster, for when one machine is not enough: the same scheduler, workers are Ray actors.

Each actor asks Ray for `num_gpus` (0 on CPU-only clusters) and loads the models once. The bot connects to
an existing cluster by address (`ray://head:10001` or `auto`) or starts a local one. An actor that dies is
restarted by Ray (`max_restarts`); one stopped on purpose (time limit, cancellation) is replaced.

How videos reach the workers (`transfer`):
- "shared" (default): the job's paths are read as they are, so every node must see the same files at the
  same paths (an NFS or object-storage mount holding uploads, cache and outputs).
- "object_store": the driver reads the input files and sends their bytes with the job (through Ray's
  object store); the actor writes them to a temporary folder, runs the job there, and sends the clip and
  card back, which the driver writes where the job asked. Costs a copy of each video per job; directories
  (OpenPose JSON) cannot be shipped this way. See docs/pool.md for the limits.

Progress: the actor keeps the latest (stage, fraction) of its job; the driver polls it twice a second.
Ray is an optional extra (`pip install -e ".[ray]"`); importing this module without it raises ImportError.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import os
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayActorError

from engine.errors import InputError
from engine.pool.errors import PoolError, decode_error, encode_error
from engine.pool.interface import PoolSettings, Progress
from engine.pool.placement import WorkerPlan, tailor_settings
from engine.pool.scheduler import ScheduledPool, Slot, WorkerLostError
from engine.pool.worker import limit_threads, resolve_runner, warm_up
from engine.result import ScoreResult

logger = logging.getLogger(__name__)

_POLL_S = 0.5
_INPUT_FIELDS = ("reference", "attempt", "reference_video", "video")  # ScoreJob, ReferenceJob paths read
_OUTPUT_FIELDS = ("clip_path", "card_path")  # CompareOptions paths written by the engine
_JOB_OUTPUT_FIELDS = ("pose_path",)  # ReferenceJob: the poses, and what the engine writes beside them

Files = dict[str, tuple[str, bytes]]  # field -> (file name, content)


class EngineActor:
    """One engine worker inside Ray (wrapped with `ray.remote` by `RaySlot`; threaded for progress polls)."""

    def __init__(self, runner_path: str, settings: Any, threads: int) -> None:
        limit_threads(threads)
        self._runner = resolve_runner(runner_path)
        self._settings = settings
        warm_up(runner_path, settings)
        self._progress: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def ready(self) -> int:
        return os.getpid()

    def progress(self, job_id: int) -> tuple[str, float] | None:
        with self._lock:
            return self._progress.get(job_id)

    def run(self, job_id: int, job: Any, files: Files | None) -> tuple[str, Any, Files]:
        """("done", result, output files) or ("failed", ErrorPayload, {})."""

        def progress(stage: str, fraction: float) -> None:
            with self._lock:
                self._progress[job_id] = (str(stage), float(fraction))

        try:
            with tempfile.TemporaryDirectory(prefix="dancescore-job-") as folder:
                if files is not None:
                    job, outputs = unpack_job(job, files, Path(folder))
                result = self._runner(job, self._settings, progress)
                returned = collect_outputs(result, outputs) if files is not None else {}
            return "done", result, returned
        except Exception as e:
            return "failed", encode_error(e, traceback.format_exc()), {}
        finally:
            with self._lock:
                self._progress.pop(job_id, None)


def pack_job(job: Any) -> Files:
    """Read the job's input files for the object store."""
    files: Files = {}
    for name in _INPUT_FIELDS:
        path = getattr(job, name, None)
        if path is None:
            continue
        if Path(path).is_dir():
            raise InputError(
                "OpenPose keypoint folders cannot be sent to remote workers; "
                "use shared storage for them (Ray transfer 'shared')."
            )
        try:
            files[name] = (Path(path).name, Path(path).read_bytes())
        except OSError as e:
            raise InputError(f"The file {Path(path).name} could not be read ({e.strerror}).") from e
    return files


def unpack_job(job: Any, files: Files, folder: Path) -> tuple[Any, dict[str, str]]:
    """Write shipped inputs into `folder` and point the job at them (and its outputs into `folder` too).

    Returns the new job and {output field: the path the caller asked for}.
    """
    changes: dict[str, Any] = {}
    for name, (filename, content) in files.items():
        target = folder / f"{name}-{filename}"
        target.write_bytes(content)
        changes[name] = str(target)
    outputs: dict[str, str] = {}
    for name in _JOB_OUTPUT_FIELDS:
        wanted = getattr(job, name, None)
        if wanted is not None:
            outputs[name] = wanted
            changes[name] = str(folder / f"{name}-{Path(wanted).name}")
    options = getattr(job, "options", None)
    if options is not None and dataclasses.is_dataclass(options) and not isinstance(options, type):
        option_changes = {}
        for name in _OUTPUT_FIELDS:
            wanted = getattr(options, name, None)
            if wanted is not None:
                outputs[name] = wanted
                option_changes[name] = str(folder / f"{name}-{Path(wanted).name}")
        changes["options"] = dataclasses.replace(options, **option_changes)
    return dataclasses.replace(job, **changes), outputs


def collect_outputs(result: Any, outputs: dict[str, str]) -> Files:
    """Read the clip/card the engine wrote in the actor's folder, named as the caller asked."""
    shipped: Files = {}
    for name, wanted in outputs.items():
        written = getattr(result, name, None)
        if written is None or not Path(written).is_file():
            continue
        written = Path(written)
        shipped[name] = (wanted, written.read_bytes())
        if name in _JOB_OUTPUT_FIELDS:  # files beside it with the same stem (a pose file's music envelope)
            for extra in sorted(written.parent.glob(f"{written.stem}.*")):
                if extra != written:
                    beside = Path(wanted).with_name(Path(wanted).stem + extra.name[len(written.stem) :])
                    shipped[f"{name}:{extra.name}"] = (str(beside), extra.read_bytes())
    return shipped


def deliver_outputs(result: Any, shipped: Files) -> Any:
    """Write the clip/card where the caller asked, and point the result at them."""
    for name, (wanted, content) in shipped.items():
        Path(wanted).parent.mkdir(parents=True, exist_ok=True)
        Path(wanted).write_bytes(content)
        if ":" not in name:  # "pose_path:<file>" is a file beside an output, not a field
            setattr(result, name, wanted)
    return result


class RaySlot:
    """One Ray actor as a pool worker."""

    def __init__(
        self,
        name: str,
        runner: str,
        settings: Any,
        *,
        num_gpus: float,
        num_cpus: float,
        max_restarts: int,
        transfer: str,
        start_timeout_s: float,
    ) -> None:
        self.name = name
        self.pid: int | None = None
        self.on_lost: Callable[[], None] | None = None  # Ray restarts a dead actor itself (max_restarts)
        self._args = (runner, settings, max(1, int(num_cpus)))
        self._options = {
            "num_gpus": num_gpus,
            "num_cpus": num_cpus,
            "max_restarts": max_restarts,
            "max_task_retries": 0,  # a job that killed its worker is not run again: it may kill the next one
            "max_concurrency": 2,  # one job plus progress polls
        }
        self._transfer = transfer
        self._start_timeout_s = start_timeout_s
        self._actor: Any = None
        self._lost = False
        self._job_ids = itertools.count(1)

    async def start(self) -> None:
        self._actor = ray.remote(EngineActor).options(**self._options).remote(*self._args)
        await self._await_ready()

    async def _await_ready(self) -> None:
        try:
            async with asyncio.timeout(self._start_timeout_s):
                self.pid = await self._actor.ready.remote()
        except TimeoutError:
            ray.kill(self._actor, no_restart=True)
            raise PoolError(f"{self.name} did not get ready within {self._start_timeout_s:.0f} s") from None
        except RayActorError as e:
            raise PoolError(f"{self.name} failed to start: {e}") from e

    async def run(self, job: Any, progress: Progress) -> ScoreResult:
        job_id = next(self._job_ids)
        files = await asyncio.to_thread(pack_job, job) if self._transfer == "object_store" else None
        ref = self._actor.run.remote(job_id, job, files)
        poller = asyncio.get_running_loop().create_task(self._poll(job_id, progress))
        try:
            kind, value, shipped = await ref
        except RayActorError as e:
            self._lost = True
            raise WorkerLostError(f"{self.name} (pid {self.pid}) died: {type(e).__name__}") from e
        finally:
            poller.cancel()
        if kind == "failed":
            raise decode_error(value)
        return await asyncio.to_thread(deliver_outputs, value, shipped) if shipped else value

    async def _poll(self, job_id: int, progress: Progress) -> None:
        last = None
        while True:
            await asyncio.sleep(_POLL_S)
            try:
                now = await self._actor.progress.remote(job_id)
            except RayActorError:
                return
            if now is not None and now != last:
                last = now
                progress(*now)

    async def restart(self) -> None:
        if self._lost:  # Ray restarts a crashed actor itself; wait for it
            self._lost = False
            try:
                await self._await_ready()
                return
            except PoolError as e:
                logger.warning("%s did not come back (%s); starting a new actor", self.name, e)
        with contextlib.suppress(RayActorError, ValueError):
            ray.kill(self._actor, no_restart=True)
        await self.start()

    async def stop(self) -> None:
        if self._actor is not None:
            with contextlib.suppress(RayActorError, ValueError):
                ray.kill(self._actor, no_restart=True)
            self._actor = None


class RayPool(ScheduledPool):
    """`EnginePool` on Ray actors.

    address: a cluster to join ("auto", "ray://head:10001"); None starts a local cluster (stopped by close).
    workers: `settings.workers`, or one per `num_cpus_per_worker` CPUs of the cluster; with GPUs each takes
        an equal share of them (or 1 / `workers_per_gpu` of one, when that is set: an int here).
    transfer: "shared" (paths as they are) or "object_store" (inputs and outputs travel with the job).
    runtime_env: passed to `ray.init` (e.g. env_vars, or a working_dir for code that is not installed).
    """

    backend = "ray"

    def __init__(
        self,
        engine_settings: Any,
        settings: PoolSettings | None = None,
        *,
        address: str | None = None,
        transfer: str = "shared",
        max_restarts: int = 5,
        num_cpus_per_worker: float = 1.0,
        runtime_env: dict[str, Any] | None = None,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        if transfer not in ("shared", "object_store"):
            raise ValueError(f"transfer must be 'shared' or 'object_store', not {transfer!r}")
        super().__init__(settings or PoolSettings())
        self.engine_settings = engine_settings
        self._address = address
        self._transfer = transfer
        self._max_restarts = max_restarts
        self._num_cpus = num_cpus_per_worker
        self._runtime_env = runtime_env
        self._init_options = init_options or {}
        self._owns_cluster = False

    async def start(self) -> None:
        if not ray.is_initialized():
            self._owns_cluster = self._address is None
            ray.init(
                address=self._address,
                runtime_env=self._runtime_env,
                include_dashboard=False,
                log_to_driver=True,
                **self._init_options,
            )
        await super().start()

    def _create_slots(self) -> list[Slot]:
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        per_gpu = self.settings.workers_per_gpu
        by_cpus = max(1, int(resources.get("CPU", 1) // self._num_cpus))
        if gpus > 0 and per_gpu is not None:
            per_gpu = per_gpu if isinstance(per_gpu, int) else max(per_gpu, default=1)
            count = self.settings.workers or gpus * per_gpu
            num_gpus, device = 1.0 / per_gpu, "cuda:0"  # Ray sets CUDA_VISIBLE_DEVICES for each actor
        elif gpus > 0:
            count = self.settings.workers or max(by_cpus, gpus)
            num_gpus, device = min(1.0, gpus / count), "cuda:0"
        else:
            count = self.settings.workers or by_cpus
            num_gpus, device = 0.0, "cpu"
        settings = tailor_settings(self.engine_settings, WorkerPlan(device, max(1, int(self._num_cpus))))
        return [
            RaySlot(
                f"ray-worker-{i}",
                self.settings.runner,
                settings,
                num_gpus=num_gpus,
                num_cpus=self._num_cpus,
                max_restarts=self._max_restarts,
                transfer=self._transfer,
                start_timeout_s=self.settings.start_timeout_s,
            )
            for i in range(count)
        ]

    async def close(self, drain: bool = True) -> None:
        await super().close(drain)
        if self._owns_cluster and ray.is_initialized():
            ray.shutdown()

    def worker_pids(self) -> list[int | None]:
        return [getattr(s.slot, "pid", None) if s.ready else None for s in self._states]
