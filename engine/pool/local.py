"""The default backend: worker processes on this machine, started with `spawn`.

Each worker loads the models once and then takes jobs one at a time over its own pipe. A reader thread per
worker hands what the worker sends (progress, results, errors, its death) to the event loop. Stopping a job
(time limit, cancellation, shutdown) kills its process and starts a fresh one: native code cannot be
interrupted any other way.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from engine.errors import EngineError
from engine.pool.errors import ErrorPayload, PoolError, decode_error
from engine.pool.interface import PoolSettings, Progress
from engine.pool.placement import WorkerPlan, plan_workers, tailor_settings
from engine.pool.scheduler import ScheduledPool, Slot, WorkerLostError
from engine.pool.worker import serve
from engine.result import ScoreResult

logger = logging.getLogger(__name__)

_STOP_GRACE_S = 5.0


def describe_exit(exitcode: int | None) -> str:
    """'killed by SIGKILL', 'exited with status 3'."""
    if exitcode is None:
        return "vanished"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


class ProcessSlot:
    """One spawned worker process and the pipe to it."""

    def __init__(self, name: str, runner: str, settings: Any, threads: int, start_timeout_s: float) -> None:
        self.name = name
        self.pid: int | None = None
        self._runner = runner
        self._settings = settings
        self._threads = threads
        self._start_timeout_s = start_timeout_s
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._generation = 0
        self._job_ids = itertools.count(1)
        self._ready: asyncio.Future[int] | None = None
        self._current: tuple[int, asyncio.Future[ScoreResult], Progress] | None = None
        self._busy = False  # the worker is (still) running a job, even one nobody waits for any more
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: threading.Thread | None = None
        self._started = False  # the worker has taken the current job (it said "started")
        self.on_lost: Callable[[], None] | None = None  # called when the worker dies while idle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._generation += 1
        generation = self._generation
        parent_conn, child_conn = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=serve,
            args=(child_conn, self._runner, self._settings, self._threads, logging.getLogger().level),
            name=f"dancescore-{self.name}",
            daemon=True,
        )
        self._ready = self._loop.create_future()
        await asyncio.to_thread(process.start)
        child_conn.close()
        self._process, self._conn = process, parent_conn
        threading.Thread(
            target=self._read,
            args=(parent_conn, process, generation),
            name=f"{self.name}-reader",
            daemon=True,
        ).start()
        try:
            async with asyncio.timeout(self._start_timeout_s):
                self.pid = await self._ready
        except TimeoutError:
            await self._kill()
            raise PoolError(f"{self.name} did not get ready within {self._start_timeout_s:.0f} s") from None
        except BaseException:
            await self._kill()
            raise

    async def run(self, job: Any, progress: Progress) -> ScoreResult:
        if self._conn is None or self._loop is None or self._process is None or not self._process.is_alive():
            raise WorkerLostError("the worker is not running", started=False)
        job_id = next(self._job_ids)
        future: asyncio.Future[ScoreResult] = self._loop.create_future()
        self._current = (job_id, future, progress)
        self._started = False
        try:
            self._busy = True
            self._conn.send(("run", job_id, job))
            return await future
        except (BrokenPipeError, ConnectionError, EOFError) as e:
            raise WorkerLostError(f"the pipe to the worker broke: {e}", started=self._started) from e
        finally:
            self._current = None

    async def restart(self) -> None:
        await self._kill()
        await self.start()

    async def stop(self) -> None:
        process, conn = self._process, self._conn
        if process is None:
            return
        self._generation += 1  # its exit is expected now
        if not self._busy and conn is not None and process.is_alive():  # idle: let it exit cleanly
            with contextlib.suppress(OSError):
                conn.send(("stop",))
            await asyncio.to_thread(process.join, _STOP_GRACE_S)
        await self._kill()

    # --- internals -----------------------------------------------------------------------------------------
    async def _kill(self) -> None:
        process, conn, reader = self._process, self._conn, self._reader
        self._process, self._conn, self._reader = None, None, None
        self._busy = False
        self._generation += 1
        if process is not None:
            if process.is_alive():
                process.kill()
            await asyncio.to_thread(process.join, _STOP_GRACE_S)
        if reader is not None:  # it sees the pipe close once the process is gone
            await asyncio.to_thread(reader.join, _STOP_GRACE_S)
        if process is not None:
            process.close()
        if conn is not None:
            conn.close()

    def _read(self, conn: Connection, process: BaseProcess, generation: int) -> None:
        """Reader thread: forward every message to the loop; report the worker's exit when the pipe closes."""
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            except Exception as e:  # a message that does not unpickle: fail the job, keep reading
                message = ("undecodable", repr(e))
            self._post(self._on_message, generation, message)
        try:
            process.join(_STOP_GRACE_S)
            exitcode = process.exitcode
        except ValueError:  # already closed by _kill
            exitcode = None
        self._post(self._on_exit, generation, exitcode)

    def _post(self, callback: Any, *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(callback, *args)

    def _on_message(self, generation: int, message: tuple[Any, ...]) -> None:
        if generation != self._generation:
            return
        kind = message[0]
        if kind == "ready":
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(message[1])
            return
        if kind == "start_failed":
            payload: ErrorPayload = message[1]
            logger.error("worker %s failed to start: %s\n%s", self.name, payload.message, payload.traceback)
            if self._ready is not None and not self._ready.done():
                self._ready.set_exception(PoolError(f"{self.name} failed to start: {payload.message}"))
            return
        current = self._current
        if current is None:
            return
        job_id, future, progress = current
        if kind == "undecodable":
            if not future.done():
                future.set_exception(decode_error_from_text(message[1]))
            return
        if message[1] != job_id or future.done():
            return
        if kind == "started":
            self._started = True
        elif kind == "progress":
            progress(message[2], message[3])
        elif kind == "done":
            self._busy = False
            future.set_result(message[2])
        elif kind == "failed":
            self._busy = False
            future.set_exception(decode_error(message[2]))

    def _on_exit(self, generation: int, exitcode: int | None) -> None:
        if generation != self._generation:
            return
        how = describe_exit(exitcode)
        logger.warning("worker %s (pid %s) %s", self.name, self.pid, how)
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(PoolError(f"{self.name} {how} while starting"))
        elif self._current is not None and not self._current[1].done():
            lost = WorkerLostError(f"{self.name} (pid {self.pid}) {how}", started=self._started)
            self._current[1].set_exception(lost)
        elif self.on_lost is not None:  # idle: nobody would notice before the next job
            self.on_lost()


def decode_error_from_text(text: str) -> EngineError:
    """A worker's message that would not unpickle, as an internal error with a logged reference."""
    return decode_error(ErrorPayload("unexpected", "builtins:Exception", "internal_error", text))


class LocalPool(ScheduledPool):
    """`EnginePool` on spawned worker processes on this machine (see `plan_workers` for how many)."""

    backend = "local"

    def __init__(
        self,
        engine_settings: Any,
        settings: PoolSettings | None = None,
        *,
        plans: list[WorkerPlan] | None = None,
    ) -> None:
        super().__init__(settings or PoolSettings())
        self.engine_settings = engine_settings
        self.plans = plans if plans is not None else plan_workers(self.settings)

    def _create_slots(self) -> list[Slot]:
        return [
            ProcessSlot(
                f"worker-{i}",
                self.settings.runner,
                tailor_settings(self.engine_settings, plan),
                plan.threads,
                self.settings.start_timeout_s,
            )
            for i, plan in enumerate(self.plans)
        ]

    def worker_pids(self) -> list[int | None]:
        """Process ids of the workers (None for one that is restarting)."""
        return [getattr(s.slot, "pid", None) if s.ready else None for s in self._states]
