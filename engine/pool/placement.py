"""Where workers run: one per CPU core, GPU or not; on a GPU machine the pose networks run on the GPUs.

Decoding, alignment, scoring and rendering are CPU work, so a machine gets as many workers as cores whether
it has GPUs or not: a GPU can only add speed. On a GPU machine the pose networks go to the GPUs in one of
two ways (`PoolSettings.gpu_placement`):

- "service" (default): one pose service process per GPU (`engine.pose_service`) runs the tracking steps of
  every worker's clips together, batching frames across jobs in one CUDA context; the workers stay on the
  CPU and send it their decoded, downscaled frames through shared memory. Without MPS, kernels of
  different processes' CUDA contexts never run at the same time: the GPU switches between them, so 16
  workers each with their own small batches mostly wait for their turn, and each holds its own CUDA
  context (host and GPU memory).
- "workers": each worker runs the torch pose backend on one of the GPUs (round-robin) in its own CUDA
  context, batching its own clip's frames.

`bench/gpu.py` measures both against the GPU hidden, in one run. The scorer stays on the CPU either way (a
few small tensors: 0.08 s there against 0.74 s on a GPU, issue 12).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from typing import Any

from engine.pool.interface import PoolSettings

logger = logging.getLogger(__name__)

PLACEMENTS = ("service", "workers")


@dataclass(frozen=True)
class WorkerPlan:
    """One worker's place: the torch device its engine uses and how many CPU threads it may take."""

    device: str  # "cpu" or "cuda:N": where its own pose networks run
    threads: int
    service: int | None = None  # the GPU whose pose service runs its pose networks instead


def count_cpus() -> int:
    """CPU cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def count_gpus() -> int:
    """CUDA devices visible to torch; 0 without torch or CUDA.

    Safe in the parent: workers are started with `spawn`, so no CUDA state is inherited.
    """
    try:
        import torch
    except ImportError:
        return 0
    try:
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception as e:  # a broken driver: run on the CPU rather than not at all
        logger.warning("CUDA is present but unusable (%s); workers will use the CPU", e)
        return 0


def plan_workers(settings: PoolSettings, *, gpus: int | None = None, cpus: int | None = None) -> list[WorkerPlan]:
    """Decide each worker's device, pose service and thread budget.

    Without GPUs: `settings.workers` or one per core, on the CPU. With GPUs and `gpu_placement="service"`:
    as many, on the CPU, each using the pose service of one GPU (round-robin). With `"workers"`:
    `settings.workers` or one per core (at least one per GPU), spread round-robin over the GPUs; or, when
    `settings.workers_per_gpu` is given (an int, or one count per GPU index), that many on each, capped by
    `settings.workers`. CPU threads are shared out evenly, at least one each.
    """
    gpus = count_gpus() if gpus is None else gpus
    cpus = count_cpus() if cpus is None else cpus
    if settings.gpu_placement not in PLACEMENTS:
        raise ValueError(f"unknown GPU placement {settings.gpu_placement!r}; choose one of {', '.join(PLACEMENTS)}")
    per_gpu = settings.workers_per_gpu
    services: list[int | None]
    if gpus > 0 and settings.gpu_placement == "service":
        count = settings.workers if settings.workers is not None else cpus
        devices = ["cpu"] * count
        services = [k % gpus for k in range(count)]
    elif gpus > 0 and per_gpu is None:
        count = settings.workers if settings.workers is not None else max(cpus, gpus)
        devices = [f"cuda:{k % gpus}" for k in range(count)]
    elif gpus > 0 and per_gpu is not None:
        counts = [per_gpu] * gpus if isinstance(per_gpu, int) else list(per_gpu)[:gpus]
        counts += [0] * (gpus - len(counts))
        devices = [
            f"cuda:{gpu}" for round_ in range(max(counts, default=0)) for gpu in range(gpus) if counts[gpu] > round_
        ]
        if settings.workers is not None:
            devices = devices[: settings.workers]
    else:
        devices = ["cpu"] * (settings.workers if settings.workers is not None else cpus)
    if not devices:
        raise ValueError("the pool settings leave no worker to run jobs on")
    if not (gpus > 0 and settings.gpu_placement == "service"):
        services = [None] * len(devices)
    threads = max(1, cpus // len(devices))
    return [WorkerPlan(device, threads, service) for device, service in zip(devices, services, strict=True)]


def service_devices(plans: list[WorkerPlan]) -> list[str]:
    """The devices of the pose services the plans use, by GPU index: ["cuda:0", "cuda:1"] (none: [])."""
    used = {p.service for p in plans if p.service is not None}
    return [f"cuda:{g}" for g in range(max(used) + 1)] if used else []


def tailor_settings(settings: Any, plan: WorkerPlan, service: Any = None) -> Any:
    """The engine settings for one worker: its pose device, thread budget and pose service address (an
    `engine.pose_service.ServiceAddress`, or None), the rest as given (the scorer keeps its own device: the
    CPU unless configured)."""
    if not dataclasses.is_dataclass(settings) or isinstance(settings, type):
        return settings
    names = {f.name for f in dataclasses.fields(settings)}
    changes = {"pose_device": plan.device, "pose_threads": plan.threads, "pose_service": service}
    return dataclasses.replace(settings, **{k: v for k, v in changes.items() if k in names})
