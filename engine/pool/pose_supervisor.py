"""Keeps a pose service (`engine.pose_service`) running for the pool: one process per GPU, restarted when it
dies.

The pool starts each service before its workers and stops it after them. A monitor thread waits on the
process; when it exits unexpectedly, a new one is started at the same address (with backoff when starts
keep failing). Workers that were waiting on the dead one see their connection break, wait for the new one,
and analyse their clip again (`engine.pose_service.run_with_service`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
from multiprocessing.process import BaseProcess
from typing import Any

from engine.pool.errors import PoolError
from engine.pose_service import ServiceAddress, serve

logger = logging.getLogger(__name__)

_RESTART_BACKOFF_S = (0.5, 2.0, 5.0, 10.0, 30.0)
_STOP_GRACE_S = 5.0


def new_address(folder: str, name: str, wait_s: float = 60.0) -> ServiceAddress:
    """A fresh address for a service: a socket in `folder` and a random key."""
    return ServiceAddress(os.path.join(folder, f"{name}.sock"), os.urandom(16), wait_s)


class PoseServiceProcess:
    """One pose service process on one device, kept alive.

    device: torch device of its networks ("cuda:0"; "cpu" in tests); batch: its networks' largest batch.
    """

    def __init__(
        self, name: str, address: ServiceAddress, device: str, batch: int = 256, start_timeout_s: float = 180.0
    ) -> None:
        self.name = name
        self.address = address
        self.device = device
        self.batch = batch
        self.start_timeout_s = start_timeout_s
        self.pid: int | None = None
        self.graphs = 0  # CUDA graphs the running service captured (0: eager, or the CPU)
        self.restarts = 0
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._generation = 0
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._restarting: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    async def start(self) -> None:
        """Start the service; return once its networks are loaded and it listens. Raises PoolError if not."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._generation += 1
        generation = self._generation
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=serve,
            args=(self.address, self.device, self.batch, writer, logging.getLogger().level),
            name=f"dancescore-{self.name}",
            daemon=True,
        )
        await asyncio.to_thread(process.start)
        writer.close()
        self._process = process
        message: Any
        try:
            ready = await asyncio.to_thread(reader.poll, self.start_timeout_s)
            message = reader.recv() if ready else ("start_failed", f"not ready within {self.start_timeout_s:.0f} s")
        except (EOFError, OSError):
            message = ("start_failed", "it exited while starting")
        finally:
            reader.close()
        if message[0] != "ready":
            await self._kill()
            raise PoolError(f"the pose service on {self.device} failed to start: {message[1]}")
        pid, graphs = message[1:3]
        self.pid, self.graphs = int(pid), int(graphs)
        watch = threading.Thread(target=self._watch, args=(process, generation), name=f"{self.name}-watch", daemon=True)
        watch.start()
        logger.info("pose service %s on %s: pid %s, %d CUDA graphs", self.name, self.device, self.pid, self.graphs)

    async def stop(self) -> None:
        """Stop the service for good."""
        self._stopping = True
        if self._restarting is not None:
            self._restarting.cancel()
        await self._kill()

    async def _kill(self) -> None:
        process, self._process = self._process, None
        self._generation += 1
        if process is None:
            return
        if process.is_alive():
            process.kill()
        await asyncio.to_thread(process.join, _STOP_GRACE_S)
        process.close()

    def _watch(self, process: BaseProcess, generation: int) -> None:
        """Monitor thread: wait for the process to end; if nobody stopped it, have it started again."""
        with contextlib.suppress(ValueError):  # closed by _kill meanwhile
            process.join()
        if self._loop is None or generation != self._generation or self._stopping:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the pool is gone
            self._loop.call_soon_threadsafe(self._on_exit, generation, process.exitcode)

    def _on_exit(self, generation: int, exitcode: int | None) -> None:
        if generation != self._generation or self._stopping:
            return
        logger.error("pose service %s (pid %s) ended (exit code %s); starting a new one", self.name, self.pid, exitcode)
        self._process = None
        if self._restarting is None or self._restarting.done():
            self._restarting = asyncio.get_running_loop().create_task(self._restart())

    async def _restart(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                await self.start()
            except PoolError as e:
                delay = _RESTART_BACKOFF_S[min(failures, len(_RESTART_BACKOFF_S) - 1)]
                failures += 1
                logger.error("%s; next try in %.1f s", e, delay)
                await asyncio.sleep(delay)
                continue
            self.restarts += 1
            return
