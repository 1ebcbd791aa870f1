"""The pose service: one process per GPU that runs the pose networks for every job of the machine at once.

Workers (one per core) decode their clips, align and score them; the service runs the tracking steps
(`engine.blazepose.BlazePose.step`) of the streams of all the jobs that are waiting as one batch, so the
GPU sees batches of many jobs' frames from one CUDA context, instead of 16 processes each taking turns
on it with their own small batches.

A worker writes each step's frames (one per stream of its clip, the size the clip is analysed at) into a
shared-memory block of its own and sends the service a small message naming them; the service reads them
from there and sends back the people it found in each. The tracking state (where each stream's people
are) stays in the service for the duration of a job. Messages (pickled tuples on an authenticated Unix
socket, `multiprocessing.connection`):

    worker -> service: ("open", job, shm_name, streams, height, width), ("step", job, [stream, ...]),
                       ("close", job), ("stats",)
    service -> worker: ("opened", job), ("people", job, [(landmarks, presence, regions), ...]),
                       ("error", job, text), ("stats", {...})

Crash isolation: the service is supervised by the pool (`engine.pool.pose_supervisor`), which starts a
new one when it dies. A worker whose service went away mid-clip waits for the new one and analyses the
clip again, once; if that fails too, the job fails with `PoseServiceError`, which is ours (`ours=True`),
never the user's video's. The engine reads no environment: the pool hands each worker the address.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import resource_tracker
from multiprocessing.connection import Client, Connection, Listener, wait
from multiprocessing.shared_memory import SharedMemory
from typing import Any, TypeVar

import numpy as np

from engine.errors import EngineError

log = logging.getLogger(__name__)

T = TypeVar("T")
REPLY_TIMEOUT_S = 120.0  # a step of any batch takes well under a second: longer means the service hangs
MAX_FRAMES_PER_CALL = 1024  # frames of one size put through `BlazePose.step` at once


@dataclass(frozen=True)
class ServiceAddress:
    """Where a pose service listens: a Unix socket path and the key that admits its workers.

    wait_s: how long a worker waits for the service to be there (starting, or restarting after a crash)."""

    path: str
    authkey: bytes = field(repr=False)
    wait_s: float = 60.0


class PoseServiceError(EngineError):
    """The pose service was lost twice while analysing a clip: our failure, not the video's."""

    code = "pose_service_unavailable"
    ours = True

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(
            message
            or "Our pose estimator restarted while it was analysing your video. Nothing is wrong with the "
            "video: please send it again in a minute.",
            code=code,
        )


class ServiceLostError(Exception):
    """The connection to the pose service broke, or it did not answer (internal: retried, then reported as
    `PoseServiceError`)."""


# --- the worker's side --------------------------------------------------------------------------------------


def run_with_service(address: ServiceAddress, analyse: Callable[[], T]) -> T:
    """`analyse()`, which talks to the pose service; if the service is lost midway, wait for its successor
    and run `analyse()` once more. Raises PoseServiceError when the second try is lost too."""
    for attempt in (1, 2):
        try:
            return analyse()
        except ServiceLostError as e:
            link_for(address).reset()
            if attempt == 2:
                raise PoseServiceError() from e
            log.warning("lost the pose service at %s (%s); analysing the clip again", address.path, e)
    raise AssertionError("unreachable")


class ServiceSteps:
    """The tracking steps of one clip's streams, run by the pose service (an `engine.pose.Steps`).

    size: (width, height) of the frames as analysed."""

    def __init__(self, address: ServiceAddress, streams: int, size: tuple[int, int]) -> None:
        self.link = link_for(address)
        self.job = self.link.open_job(streams, size[1], size[0])

    def __call__(self, frames: dict[int, np.ndarray], timings: dict[str, float]) -> dict[int, Any]:
        t0 = time.perf_counter()
        found = self.link.step(self.job, frames)
        timings["service"] = timings.get("service", 0.0) + time.perf_counter() - t0
        return found

    def close(self) -> None:
        self.link.close_job(self.job)


class ServiceLink:
    """This process's connection to a pose service, and its shared-memory block for frames."""

    def __init__(self, address: ServiceAddress) -> None:
        self.address = address
        self._conn: Connection | None = None
        self._shm: SharedMemory | None = None
        self._jobs = itertools.count(1)
        self._slots: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def connect(self) -> Connection:
        """The connection, made now if there is none: waits up to `address.wait_s` for the service."""
        if self._conn is not None:
            return self._conn
        deadline = time.monotonic() + self.address.wait_s
        while True:
            try:
                self._conn = Client(self.address.path, family="AF_UNIX", authkey=self.address.authkey)
                return self._conn
            except (OSError, EOFError) as e:  # not there (yet): starting or restarting
                if time.monotonic() >= deadline:
                    raise ServiceLostError(f"no pose service at {self.address.path} ({e})") from e
                time.sleep(0.1)

    def reset(self) -> None:
        """Drop the connection (the next request connects again)."""
        conn, self._conn = self._conn, None
        self._slots.clear()
        if conn is not None:
            conn.close()

    def request(self, message: tuple) -> tuple:
        """Send a message and return the service's reply; ServiceLostError if it broke or hung."""
        with self._lock:
            conn = self.connect()
            try:
                conn.send(message)
                if not conn.poll(REPLY_TIMEOUT_S):
                    raise ServiceLostError(f"the pose service did not answer within {REPLY_TIMEOUT_S:.0f} s")
                reply = conn.recv()
            except (EOFError, OSError) as e:
                self.reset()
                raise ServiceLostError(f"the connection to the pose service broke ({e!r})") from e
            except ServiceLostError:
                self.reset()
                raise
        if reply[0] == "error":
            raise RuntimeError(f"the pose service failed: {reply[2]}")
        return reply

    def open_job(self, streams: int, height: int, width: int) -> int:
        """Register a clip of `streams` streams of height x width frames; returns its job number."""
        shm = self._shared_memory(streams * height * width * 3)
        job = next(self._jobs)
        self.request(("open", job, shm.name, streams, height, width))
        self._slots[job] = np.ndarray((streams, height, width, 3), dtype=np.uint8, buffer=shm.buf)
        return job

    def step(self, job: int, frames: dict[int, np.ndarray]) -> dict[int, Any]:
        """The people in the next frame of some streams of a job: stream -> `FramePeople`."""
        from engine.blazepose import FramePeople

        slots = self._slots.get(job)
        if slots is None:
            raise ServiceLostError("the job is no longer open on the pose service")
        for k, image in frames.items():
            slots[k] = image
        reply = self.request(("step", job, list(frames)))
        return {k: FramePeople(*found) for k, found in zip(frames, reply[2], strict=True)}

    def close_job(self, job: int) -> None:
        """Forget a job (its streams' state) on both sides; a broken connection is left for the next job."""
        if self._slots.pop(job, None) is None or self._conn is None:
            return
        try:
            self.request(("close", job))
        except (ServiceLostError, RuntimeError) as e:
            log.debug("closing a job on the pose service: %s", e)

    def stats(self) -> dict[str, float]:
        """The service's counters: frames, batches, seconds busy, since it started."""
        return dict(self.request(("stats",))[1])

    def _shared_memory(self, size: int) -> SharedMemory:
        if self._shm is None or self._shm.size < size:
            if self._shm is not None:
                self._slots.clear()
                self._shm.close()
                self._shm.unlink()
            self._shm = SharedMemory(create=True, size=max(size, 1))
        return self._shm


_links: dict[ServiceAddress, ServiceLink] = {}


def link_for(address: ServiceAddress) -> ServiceLink:
    """This process's link to the service at `address` (one per process)."""
    if address not in _links:
        _links[address] = ServiceLink(address)
    return _links[address]


# --- the service's side -------------------------------------------------------------------------------------


@dataclass
class _Job:
    shm: SharedMemory
    frames: np.ndarray  # (streams, H, W, 3) uint8 view of the worker's shared memory
    streams: list[Any]  # engine.blazepose.Stream, one per stream


@dataclass
class _Client:
    conn: Connection
    jobs: dict[int, _Job] = field(default_factory=dict)


class PoseServer:
    """The service's loop: take every waiting request of every worker, run them as batches, answer each.

    model: an `engine.blazepose.BlazePose` (warmed up); listener: where workers connect."""

    def __init__(self, model: Any, listener: Listener) -> None:
        self.model = model
        self.listener = listener
        self.clients: dict[Connection, _Client] = {}
        self._new: list[Connection] = []
        self._new_lock = threading.Lock()
        self._wake_r, self._wake_w = _pipe()
        self.counters = {"frames": 0.0, "batches": 0.0, "busy_s": 0.0, "requests": 0.0}
        self.timings: dict[str, float] = {}

    def run(self) -> None:
        """Serve until the process ends."""
        threading.Thread(target=self._accept, name="accept", daemon=True).start()
        while True:
            pending: list[tuple[_Client, int, list[int]]] = []
            for conn in wait([self._wake_r, *self.clients]):
                if conn is self._wake_r:
                    self._take_new()
                else:
                    assert isinstance(conn, Connection)
                    self._read(self.clients[conn], pending)
            if pending:
                self._run_steps(pending)

    def _accept(self) -> None:
        while True:
            try:
                conn = self.listener.accept()
            except (OSError, EOFError) as e:  # a bad key or a client that left during the handshake
                log.warning("refused a connection to the pose service: %r", e)
                continue
            with self._new_lock:
                self._new.append(conn)
            self._wake_w.send_bytes(b"!")

    def _take_new(self) -> None:
        self._wake_r.recv_bytes()
        with self._new_lock:
            new, self._new = self._new, []
        for conn in new:
            self.clients[conn] = _Client(conn)

    def _read(self, client: _Client, pending: list[tuple[_Client, int, list[int]]]) -> None:
        try:
            while client.conn.poll():
                message = client.conn.recv()
                self._handle(client, message, pending)
        except Exception as e:  # gone, or talking nonsense: forget it, serve the others
            if not isinstance(e, EOFError | ConnectionError):
                log.warning("dropping a pose service client: %r", e)
            self._drop(client)

    def _handle(self, client: _Client, message: tuple, pending: list[tuple[_Client, int, list[int]]]) -> None:
        kind = message[0]
        if kind == "step":
            _, job, streams = message
            if job not in client.jobs or not all(0 <= k < len(client.jobs[job].streams) for k in streams):
                client.conn.send(("error", job, f"unknown job {job} or stream"))
                return
            pending.append((client, job, list(streams)))
        elif kind == "open":
            from engine.blazepose import Stream

            _, job, name, streams, height, width = message
            shm = _attach(name)
            if shm.size < streams * height * width * 3:
                shm.close()
                client.conn.send(("error", job, "the shared memory is smaller than the frames"))
                return
            frames: np.ndarray = np.ndarray((streams, height, width, 3), dtype=np.uint8, buffer=shm.buf)
            client.jobs[job] = _Job(shm, frames, [Stream() for _ in range(streams)])
            client.conn.send(("opened", job))
        elif kind == "close":
            self._close_job(client, message[1])
            client.conn.send(("closed", message[1]))
        elif kind == "stats":
            client.conn.send(("stats", {**self.counters, **self.timings}))
        else:
            raise ValueError(f"unknown message {kind!r}")

    def _run_steps(self, pending: list[tuple[_Client, int, list[int]]]) -> None:
        """All waiting steps, grouped by frame size, through the networks; then every answer."""
        t0 = time.perf_counter()
        by_size: dict[tuple[int, ...], list[tuple[_Client, int, int]]] = {}
        for client, job, streams in pending:
            for k in streams:
                by_size.setdefault(client.jobs[job].frames.shape[1:], []).append((client, job, k))
        found: dict[tuple[int, int, int], Any] = {}
        failed: dict[tuple[int, int], str] = {}
        for items in by_size.values():
            for start in range(0, len(items), MAX_FRAMES_PER_CALL):
                chunk = items[start : start + MAX_FRAMES_PER_CALL]
                jobs = [c.jobs[j] for c, j, _ in chunk]
                try:
                    people = self.model.step(
                        [job.frames[k] for job, (_, _, k) in zip(jobs, chunk, strict=True)],
                        [job.streams[k] for job, (_, _, k) in zip(jobs, chunk, strict=True)],
                        self.timings,
                    )
                except Exception as e:  # e.g. out of GPU memory: these jobs fail, the service goes on
                    log.exception("a batch of the pose service failed")
                    for c, j, _ in chunk:
                        failed[id(c), j] = repr(e)
                    continue
                for (c, j, k), person in zip(chunk, people, strict=True):
                    found[id(c), j, k] = person
                self.counters["batches"] += 1
                self.counters["frames"] += len(chunk)
        self.counters["busy_s"] += time.perf_counter() - t0
        self.counters["requests"] += len(pending)
        for client, job, streams in pending:
            if (id(client), job) in failed:
                reply: tuple = ("error", job, failed[id(client), job])
            else:
                people = [found[id(client), job, k] for k in streams]
                reply = ("people", job, [(p.landmarks, p.presence, p.regions) for p in people])
            try:
                client.conn.send(reply)
            except (OSError, ValueError):
                self._drop(client)

    def _close_job(self, client: _Client, job: int) -> None:
        entry = client.jobs.pop(job, None)
        if entry is not None:
            entry.frames = np.zeros((0, 0, 0, 3), dtype=np.uint8)  # no view may outlive the mapping
            entry.shm.close()

    def _drop(self, client: _Client) -> None:
        for job in list(client.jobs):
            self._close_job(client, job)
        self.clients.pop(client.conn, None)
        client.conn.close()


def _pipe() -> tuple[Connection, Connection]:
    from multiprocessing import Pipe

    reader, writer = Pipe(duplex=False)
    return reader, writer


def _attach(name: str) -> SharedMemory:
    """A worker's shared-memory block, opened without taking it over: the worker removes it, not us."""
    if sys.version_info >= (3, 13):
        return SharedMemory(name=name, track=False)  # type: ignore[call-arg,unused-ignore]
    shm = SharedMemory(name=name)
    resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    return shm


def serve(address: ServiceAddress, device: str, batch: int, ready: Connection, log_level: int) -> None:
    """Entry point of the service process (multiprocessing target): load and warm up the networks on
    `device`, listen at `address`, tell the pool ("ready", pid) on `ready`, then serve forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the pool decides
    logging.basicConfig(level=log_level, format="%(asctime)s pose-service %(process)d %(name)s: %(message)s")
    try:
        import torch

        from engine.blazepose import BlazePose

        torch.set_num_threads(1)  # the networks run on the GPU; the CPU work here is small and serial
        model = BlazePose(device, batch=batch)
        model.warm_up()
        if os.path.exists(address.path):  # left by a predecessor that crashed
            os.unlink(address.path)
        listener = Listener(address.path, family="AF_UNIX", authkey=address.authkey)
    except BaseException as e:
        ready.send(("start_failed", repr(e)))
        raise
    ready.send(("ready", os.getpid(), model.graph_count()))
    ready.close()
    PoseServer(model, listener).run()
