"""The worker side of the local pool: the loop a spawned process runs.

Messages on the pipe (tuples, parent -> worker): ("run", job_id, job), ("stop",).
Worker -> parent: ("ready", pid), ("start_failed", ErrorPayload), ("started", job_id) as soon as a job is
taken (a worker that dies before saying so never began the job, which may then run on another worker),
("progress", job_id, stage, fraction), ("done", job_id, result), ("failed", job_id, ErrorPayload).
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from engine.native_stderr import silence_native_stderr
from engine.pool.errors import encode_error

logger = logging.getLogger(__name__)

_PROGRESS_INTERVAL_S = 0.1  # at most ten progress messages a second per job, plus every stage change

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def resolve_runner(path: str) -> Callable[..., Any]:
    """Import "package.module:function" and return the function."""
    module_name, sep, name = path.partition(":")
    if not sep or not name:
        raise ValueError(f"runner must look like 'package.module:function', not {path!r}")
    return getattr(importlib.import_module(module_name), name)


def warm_up(runner_path: str, settings: Any) -> None:
    """Load the models once: call `warm_up(settings)` of the runner's module when it has one."""
    module = importlib.import_module(runner_path.partition(":")[0])
    hook = getattr(module, "warm_up", None)
    if callable(hook):
        hook(settings)


def limit_threads(threads: int) -> None:
    """Keep native thread pools to `threads` in this process (workers share the machine's cores)."""
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")  # imported while unpickling the settings: too late for the variables
    if torch is not None:
        torch.set_num_threads(threads)


def serve(conn: Connection, runner_path: str, settings: Any, threads: int, log_level: int) -> None:
    """Entry point of a worker process (multiprocessing target)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the parent decides
    logging.basicConfig(level=log_level, format="%(asctime)s worker %(process)d %(name)s: %(message)s")
    if log_level > logging.DEBUG:
        silence_native_stderr()  # MediaPipe's C++ warnings would flood the bot's log, once per graph
    try:
        limit_threads(threads)
        runner = resolve_runner(runner_path)
        warm_up(runner_path, settings)
    except BaseException as e:
        conn.send(("start_failed", encode_error(e, traceback.format_exc())))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message[0] == "stop":
            return
        _, job_id, job = message
        conn.send(("started", job_id))
        run_one(conn, runner, job_id, job, settings)


def run_one(conn: Connection, runner: Callable[..., Any], job_id: int, job: Any, settings: Any) -> None:
    """Run one job and send its result or error; progress goes out as it comes, throttled."""
    last_stage: list[str | None] = [None]
    last_at = [0.0]

    def progress(stage: str, fraction: float) -> None:
        now = time.monotonic()
        if stage == last_stage[0] and fraction < 1.0 and now - last_at[0] < _PROGRESS_INTERVAL_S:
            return
        last_stage[0], last_at[0] = stage, now
        conn.send(("progress", job_id, str(stage), float(fraction)))

    try:
        result = runner(job, settings, progress)
    except Exception as e:
        conn.send(("failed", job_id, encode_error(e, traceback.format_exc())))
        return
    try:
        conn.send(("done", job_id, result))
    except Exception as e:  # the result would not pickle
        conn.send(("failed", job_id, encode_error(e, traceback.format_exc())))
