"""The pool's errors, and how engine errors cross the process boundary.

Every pool error is an `EngineError`, so the bots handle them like any other engine error: show `str(error)`,
switch on `.code`.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from dataclasses import dataclass

from engine.errors import EngineError
from engine.timecode import describe_duration

logger = logging.getLogger(__name__)


class PoolError(EngineError):
    """Base of the errors the pool itself raises (as opposed to the engine's errors it passes on)."""

    code = "pool_error"
    ours = True  # busy, timed out, crashed, restarting: never the user's doing


class QueueFullError(PoolError):
    """Refused up front: the job could not start within the pool's maximum wait."""

    code = "queue_full"

    def __init__(self, estimated_wait_s: float, max_wait_s: float | None = None) -> None:
        self.estimated_wait_s = float(estimated_wait_s)
        self.max_wait_s = max_wait_s
        super().__init__(
            f"The scorer is busy: your video would wait about {describe_duration(estimated_wait_s)} "
            "before it could start. Please send it again later."
        )

    def __reduce__(self):  # keep the estimate when pickled (the Ray backend sends errors between processes)
        return (type(self), (self.estimated_wait_s, self.max_wait_s))


class JobTimeoutError(PoolError):
    """The job ran past the pool's time limit; its worker was stopped."""

    code = "timeout"

    def __init__(self, limit_s: float) -> None:
        self.limit_s = float(limit_s)
        super().__init__(
            f"Scoring took longer than the limit of {describe_duration(limit_s)} and was stopped. "
            "A shorter clip (or a smaller file) should work."
        )

    def __reduce__(self):
        return (type(self), (self.limit_s,))


class WorkerCrashError(PoolError):
    """The worker process running the job died (crash, out of memory, killed)."""

    code = "worker_crashed"

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(
            "The scorer crashed while working on this video. It has been restarted; "
            "please try again, and if it happens again with the same video, try a shorter or smaller clip."
        )

    def __reduce__(self):
        return (type(self), (self.detail,))


class PoolClosedError(PoolError):
    """The pool is shutting down (or was shut down) and takes no more jobs."""

    code = "shutting_down"

    def __init__(self, message: str = "") -> None:
        message = message or "The scorer is restarting; please send your video again in a minute."
        super().__init__(message)


class InternalError(PoolError):
    """An unexpected failure. The message carries a reference id that is logged with the traceback."""

    code = "internal_error"

    def __init__(self, reference: str) -> None:
        self.reference = reference
        super().__init__(
            f"Something went wrong on our side while scoring this video (reference {reference}). "
            "Please try again later."
        )

    def __reduce__(self):
        return (type(self), (self.reference,))


@dataclass(frozen=True)
class ErrorPayload:
    """An exception as it crosses a process boundary: plain strings only, so it always unpickles.

    An `EngineError` travels as its class path, `.code` and message and is rebuilt as the same class;
    anything else travels as its traceback and becomes an `InternalError` with a reference id.
    """

    kind: str  # "engine" or "unexpected"
    class_path: str  # "module:QualName"
    code: str
    message: str
    traceback: str = ""


def encode_error(error: BaseException, traceback_text: str = "") -> ErrorPayload:
    """Describe `error` for the other side of a pipe."""
    cls = type(error)
    path = f"{cls.__module__}:{cls.__qualname__}"
    if isinstance(error, EngineError):
        return ErrorPayload("engine", path, error.code, str(error))
    return ErrorPayload("unexpected", path, "internal_error", repr(error), traceback_text)


def decode_error(payload: ErrorPayload) -> EngineError:
    """Rebuild the error described by `payload`: the same `EngineError` subclass, or an `InternalError`.

    Unexpected errors are logged here with their traceback and a fresh reference id, which the user's
    message quotes.
    """
    if payload.kind == "engine":
        cls = _engine_error_class(payload.class_path)
        error = cls.__new__(cls)
        Exception.__init__(error, payload.message)
        error.code = payload.code
        return error
    reference = uuid.uuid4().hex[:8]
    logger.error("engine job failed unexpectedly (reference %s): %s\n%s", reference, payload.message, payload.traceback)
    return InternalError(reference)


def _engine_error_class(class_path: str) -> type[EngineError]:
    module_name, _, qualname = class_path.partition(":")
    try:
        obj: object = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return EngineError
    if isinstance(obj, type) and issubclass(obj, EngineError):
        return obj
    return EngineError
