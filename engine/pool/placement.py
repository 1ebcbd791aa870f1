"""Where workers run: one per CPU core, GPU or not; on a GPU machine every worker runs its pose networks on a GPU.

Decoding, alignment and rendering are CPU work, so a machine gets as many workers as cores whether it has
GPUs or not: a GPU can only add speed. On a GPU machine each worker runs the torch pose backend on one of
the GPUs (round-robin) in its own CUDA context, batching its own clip's frames; the scorer stays on the
CPU (a few small tensors: 0.08 s there against 0.74 s on a GPU, issue 12). Why not one process per GPU
batching frames from every worker: a clip's own frames already fill the GPU's batches (see
docs/benchmarks.md, bench/gpu.py), the GPU time per clip is small next to decoding it, and shipping
decoded frames between processes would cost more than it saves.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from typing import Any

from engine.pool.interface import PoolSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerPlan:
    """One worker's place: the torch device its engine uses and how many CPU threads it may take."""

    device: str  # "cpu" or "cuda:N"
    threads: int


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
    """Decide each worker's device and thread budget.

    Without GPUs: `settings.workers` or one per core, on the CPU. With GPUs: `settings.workers` or one per
    core (at least one per GPU), spread round-robin over the GPUs; or, when `settings.workers_per_gpu` is
    given (an int, or one count per GPU index), that many on each, capped by `settings.workers`. CPU
    threads are shared out evenly, at least one each.
    """
    gpus = count_gpus() if gpus is None else gpus
    cpus = count_cpus() if cpus is None else cpus
    per_gpu = settings.workers_per_gpu
    if gpus > 0 and per_gpu is None:
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
    threads = max(1, cpus // len(devices))
    return [WorkerPlan(device, threads) for device in devices]


def tailor_settings(settings: Any, plan: WorkerPlan) -> Any:
    """The engine settings for one worker: its pose device and thread budget, the rest as given (the
    scorer keeps its own device: the CPU unless configured)."""
    if not dataclasses.is_dataclass(settings) or isinstance(settings, type):
        return settings
    names = {f.name for f in dataclasses.fields(settings)}
    changes = {"pose_device": plan.device, "pose_threads": plan.threads}
    return dataclasses.replace(settings, **{k: v for k, v in changes.items() if k in names})
