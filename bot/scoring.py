"""The platform-free /score flow: check the upload, download it, score it, reply, clean up.

The adapters turn a chat event into a `ScoreRequest` (plain data plus a `fetch` coroutine that downloads
the file), call `ScoringFlow.score`, and send the `ScoreReply` it yields. Temporary files live only inside
that `async with`: they are removed after the reply, whether it succeeded or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bot.errors import NotAVideoError, TooBigError

if TYPE_CHECKING:
    from bot.engine_client import ScoringEngine
    from engine.result import ScoreResult

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp"}
GENERIC_MIME_TYPES = {None, "", "application/octet-stream"}
MB = 1000 * 1000

Report = Callable[[str], Awaitable[None]]  # shows a progress line to the user (edits the status message)


@dataclass(frozen=True)
class Dancer:
    """Who sent the attempt."""

    platform: str  # "discord" or "telegram"
    user_id: str
    display_name: str


@dataclass(frozen=True)
class Dance:
    """A registered dance as the scoring flow needs it."""

    name: str
    reference: str  # the .npz pose sequence (or the video) of the reference
    reference_video: str | None = None  # the original video, for the clip's reference panel


@dataclass(frozen=True)
class VideoUpload:
    """The file a user sent, before it is downloaded. `fetch(path)` downloads it to `path`."""

    filename: str
    size: int | None
    mime_type: str | None
    fetch: Callable[[Path], Awaitable[None]]
    duration_s: float | None = None


@dataclass(frozen=True)
class PlatformLimits:
    """What the platform allows a bot: the largest file it may download and upload, in bytes."""

    platform: str
    download_bytes: int
    upload_bytes: int
    trim_hint: str = "Trim it to the part with the dance, or record at a lower resolution, and send it again."


@dataclass(frozen=True)
class ScoreRequest:
    community: str  # "discord:<guild id>" or "telegram:<chat id>"
    dancer: Dancer
    dance_name: str
    video: VideoUpload
    limits: PlatformLimits


@dataclass
class ScoreReply:
    """What to send back: the text, and the clip and card files (None where there is none)."""

    text: str
    clip: Path | None
    card: Path | None
    result: ScoreResult


class Community(Protocol):
    """What the scoring flow needs from the community core (dances, attempts, limits)."""

    async def find_dance(self, community: str, name: str) -> Dance:
        """The dance called `name` (tolerating case and typos); raises UnknownDanceError with suggestions."""
        ...

    async def begin_attempt(self, community: str, dancer: Dancer, dance: Dance) -> Any:
        """Reserve the user's slot; raises AlreadyRunningError or TooManyTriesError. Returns a ticket."""
        ...

    async def finish_attempt(self, ticket: Any, result: ScoreResult, video_sha256: str) -> str | None:
        """Record the scored attempt; returns a line about the user's new rank, if any."""
        ...

    async def abandon_attempt(self, ticket: Any) -> None:
        """Release the user's slot after a failure (nothing is recorded)."""
        ...


@dataclass(frozen=True)
class FlowLimits:
    max_bytes: int = 200 * 1024 * 1024  # the engine's own cap
    max_duration_s: float = 180.0
    progress_interval_s: float = 2.0  # at most one progress edit per this many seconds


class ScoringFlow:
    """The /score flow shared by both bots."""

    def __init__(
        self,
        community: Community,
        engine: ScoringEngine,
        work_dir: Path,
        limits: FlowLimits | None = None,
        make_job: Callable[..., Any] | None = None,
    ) -> None:
        self.community = community
        self.engine = engine
        self.work_dir = work_dir
        self.limits = limits or FlowLimits()
        self._make_job = make_job

    def check_upload(self, video: VideoUpload, limits: PlatformLimits) -> None:
        """Refuse what can be refused before downloading: not a video, too big, too long."""
        suffix = Path(video.filename).suffix.lower()
        mime = (video.mime_type or "").lower()
        is_video = mime.startswith("video/") or (
            video.mime_type in GENERIC_MIME_TYPES and suffix in VIDEO_SUFFIXES
        )
        if not is_video:
            raise NotAVideoError(
                f"“{video.filename}” isn't a video. Send a recording of your dance (MP4, MOV or WebM)."
            )
        if video.size is not None and video.size > limits.download_bytes:
            raise TooBigError(
                f"This video is {math.ceil(video.size / MB)} MB, but {limits.platform.capitalize()} only "
                f"lets bots download files up to {limits.download_bytes // MB} MB. {limits.trim_hint}"
            )
        if video.size is not None and video.size > self.limits.max_bytes:
            raise TooBigError(
                f"This video is {math.ceil(video.size / MB)} MB; the most I can score is "
                f"{self.limits.max_bytes // MB} MB. {limits.trim_hint}"
            )
        if video.duration_s is not None and video.duration_s > self.limits.max_duration_s:
            raise TooBigError(
                f"This video is {round(video.duration_s)} s long; the most I can score is "
                f"{round(self.limits.max_duration_s)} s. Trim it to the dance and send it again."
            )

    @contextlib.asynccontextmanager
    async def score(self, request: ScoreRequest, report: Report) -> AsyncIterator[ScoreReply]:
        """Score one attempt; yields the reply to send. Raises BotError / EngineError with a user message."""
        self.check_upload(request.video, request.limits)
        dance = await self.community.find_dance(request.community, request.dance_name)
        ticket = await self.community.begin_attempt(request.community, request.dancer, dance)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="attempt-", dir=self.work_dir))
        relay = ProgressRelay(report, self.limits.progress_interval_s)
        recorded = False
        try:
            await report("Downloading your video…")
            # The server names the file: nothing the user chose reaches the file system.
            suffix = Path(request.video.filename).suffix.lower()
            attempt = folder / f"attempt{suffix if suffix in VIDEO_SUFFIXES else '.mp4'}"
            await request.video.fetch(attempt)
            size = attempt.stat().st_size
            if size > self.limits.max_bytes:
                raise TooBigError(
                    f"This video is {math.ceil(size / MB)} MB; the most I can score is "
                    f"{self.limits.max_bytes // MB} MB. {request.limits.trim_hint}"
                )
            relay.update("analysing", 0.0)
            job = self.build_job(dance, attempt, folder, request.limits)
            result = await self.engine.submit(job, relay.update)
            await relay.close()
            digest = await asyncio.to_thread(hash_file, attempt)
            rank_line = await self.community.finish_attempt(ticket, result, digest)
            recorded = True
            clip = _existing(result.clip_path)
            if clip is not None and clip.stat().st_size > request.limits.upload_bytes:
                logger.info(
                    "clip of %d bytes is over the %s cap; sending the card alone",
                    clip.stat().st_size,
                    request.limits.platform,
                )
                clip = None
            yield ScoreReply(
                describe_result(result, dance, rank_line), clip, _existing(result.card_path), result
            )
        finally:
            await relay.close()
            if not recorded:
                await self.community.abandon_attempt(ticket)
            shutil.rmtree(folder, ignore_errors=True)

    def build_job(self, dance: Dance, attempt: Path, folder: Path, limits: PlatformLimits) -> Any:
        """The engine job for one attempt: the clip within the platform's upload cap (with a margin)."""
        make_job = self._make_job or _engine_job
        budget = min(limits.upload_bytes, 8 * 1024 * 1024) * 0.95
        return make_job(
            reference=dance.reference,
            attempt=str(attempt),
            clip_path=str(folder / "clip.mp4"),
            card_path=str(folder / "card.png"),
            clip_budget_bytes=int(budget),
            reference_video=dance.reference_video,
        )


def _engine_job(**fields: Any) -> Any:
    from engine.api import CompareOptions, ScoreJob

    options = CompareOptions(
        clip_path=fields["clip_path"],
        card_path=fields["card_path"],
        clip_budget_bytes=fields["clip_budget_bytes"],
    )
    return ScoreJob(
        reference=fields["reference"],
        attempt=fields["attempt"],
        options=options,
        reference_video=fields["reference_video"],
    )


class ProgressRelay:
    """Turns engine progress events into at most one status edit per `interval_s` (and one per stage).

    `update` is called on the event loop; a failed edit (e.g. a rate limit) is logged and never fails the job.
    """

    def __init__(self, report: Report, interval_s: float) -> None:
        self._report = report
        self._interval_s = interval_s
        self._last_at = -math.inf
        self._stage: str | None = None
        self._wanted: str | None = None  # the newest line worth showing
        self._shown: str | None = None
        self._task: asyncio.Task[None] | None = None

    def update(self, stage: str, fraction: float) -> None:
        text = describe_progress(stage, fraction)
        now = time.monotonic()
        if text == self._wanted or (stage == self._stage and now - self._last_at < self._interval_s):
            return
        self._wanted, self._stage, self._last_at = text, stage, now
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        """Shows the newest wanted line until the shown one is current (one edit in flight at a time)."""
        while self._wanted is not None and self._wanted != self._shown:
            text = self._wanted
            try:
                await self._report(text)
            except Exception:
                logger.warning("could not show progress %r", text, exc_info=True)
            self._shown = text

    async def close(self) -> None:
        if self._task is not None:
            await self._task


def describe_progress(stage: str, fraction: float) -> str:
    """A progress line such as "Analysing… 40%"."""
    label = {"decode": "analysing", "pose": "analysing", "render": "rendering the clip"}.get(stage, stage)
    percent = int(max(0.0, min(1.0, fraction)) * 100)
    return f"{label[:1].upper()}{label[1:]}… {percent}%"


def describe_result(result: ScoreResult, dance: Dance, rank_line: str | None = None) -> str:
    """The reply text: score, form and timing, the parts, two or three feedback lines, notes, rank."""
    parts = " · ".join(f"{name.capitalize()} {round(value)}" for name, value in result.parts.items())
    lines = [
        f"{dance.name}: {result.score:.1f} / 10",
        f"Form {round(result.form)} · Timing {round(result.timing)}"
        + (" · mirrored" if result.mirrored else ""),
        parts,
    ]
    lines += [f"• {line}" for line in result.feedback[:3]]
    lines += [f"Note: {note}" for note in result.notes[:2]]
    if rank_line:
        lines.append(rank_line)
    return "\n".join(line for line in lines if line)


def hash_file(path: Path) -> str:
    """SHA-256 of a file's content, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _existing(path: str | None) -> Path | None:
    if path and Path(path).is_file():
        return Path(path)
    return None
