"""Real job functions for the pool tests, run inside the pool's spawned workers.

They stand in for `engine.api.run_job` where a test needs a job that is slow, crashes its process, or fails
in a known way; the pool imports them by path (`pool_jobs:run`) exactly as it imports the engine.
"""

from __future__ import annotations

import ctypes
import os
import time
from dataclasses import dataclass
from pathlib import Path

from engine.errors import VideoError
from engine.result import ScoreResult


@dataclass(frozen=True)
class WorkerSettings:
    """Stands in for `engine.api.EngineSettings`: the fields the pool sets per worker, plus a log file."""

    log_dir: str
    device: str = "cpu"
    pose_threads: int = 2


@dataclass(frozen=True)
class Task:
    """What the job does: "score" (return a result), "sleep", "segfault", "reject" (an engine error),
    "bug" (an unexpected exception), "progress" (report `steps` progress events)."""

    action: str
    seconds: float = 0.0
    steps: int = 0
    tag: str = ""


def warm_up(settings: WorkerSettings) -> None:
    """Leave a trace of each worker's start: its pid, device and thread budget."""
    line = f"{os.getpid()} {settings.device} {settings.pose_threads}\n"
    with open(Path(settings.log_dir) / "warm_up.log", "a") as log:
        log.write(line)


def run(task: Task, settings: WorkerSettings, progress) -> ScoreResult:
    Path(settings.log_dir, f"started-{task.tag or task.action}").write_text(str(os.getpid()))
    if task.action == "sleep":
        deadline = time.monotonic() + task.seconds
        while time.monotonic() < deadline:
            progress("sleep", 1 - (deadline - time.monotonic()) / task.seconds)
            time.sleep(0.05)
    elif task.action == "segfault":
        ctypes.string_at(0)  # reads address 0: SIGSEGV, the way native code crashes
    elif task.action == "reject":
        raise VideoError("This file is not a video we can read.")
    elif task.action == "bug":
        raise ZeroDivisionError("division by zero in a stage")
    elif task.action == "progress":
        for i in range(task.steps):
            progress(f"stage-{i}", 1.0)
    return make_result(task, os.getpid())


def make_result(task: Task, pid: int) -> ScoreResult:
    """A small result that tells which task and which worker made it."""
    return ScoreResult(
        score=7.5,
        form=80.0,
        timing=70.0,
        parts={"arms": 80.0, "legs": 80.0, "torso": 80.0, "head": 80.0},
        mirrored=False,
        offset_s=0.0,
        tempo=1.0,
        weak_moments=[],
        feedback=[task.tag or task.action],
        frames={"reference": {"analysed": 1, "with_dancer": 1}, "attempt": {"analysed": 1, "with_dancer": 1}},
        backend=f"pid {pid}",
        seconds={"pose": task.seconds, "score": 0.01},
    )


@dataclass(frozen=True)
class ClipOptions:
    """Stands in for `engine.api.CompareOptions`: where the annotated clip should be written."""

    clip_path: str | None = None
    card_path: str | None = None


@dataclass(frozen=True)
class FileTask:
    """Stands in for `engine.api.ScoreJob`: two input files and an output path."""

    reference: str
    attempt: str
    options: ClipOptions = ClipOptions()
    reference_video: str | None = None


def join_files(task: FileTask, settings: WorkerSettings, progress) -> ScoreResult:
    """Read both inputs where the job says they are and write their concatenation as the 'clip'."""
    content = Path(task.reference).read_bytes() + Path(task.attempt).read_bytes()
    Path(task.options.clip_path).write_bytes(content)
    result = make_result(Task("join", tag=task.reference), os.getpid())
    result.clip_path = task.options.clip_path
    return result


@dataclass(frozen=True)
class PoseTask:
    """Stands in for `engine.api.ReferenceJob`: a video in, a pose file out (with a file beside it)."""

    video: str
    pose_path: str


@dataclass
class PoseResult:
    pose_path: str
    seconds: dict


def write_poses(task: PoseTask, settings: WorkerSettings, progress) -> PoseResult:
    """Write the 'poses' (the video's bytes) and an 'envelope' beside them, as `engine.api.save_reference`."""
    pose_path = Path(task.pose_path)
    pose_path.write_bytes(b"poses of " + Path(task.video).read_bytes())
    pose_path.with_name(pose_path.stem + ".audio.npy").write_bytes(b"envelope")
    return PoseResult(str(pose_path), {})
