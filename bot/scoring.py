"""The platform-free /score flow: check the upload, download it, score it, reply, clean up.

The adapters turn a chat event into a `ScoreRequest` (plain data plus a `fetch` coroutine that downloads
the file), call `ScoringFlow.score`, and send the `ScoreReply` it yields. Temporary files live only inside
that `async with`: they are removed after the reply, whether it succeeded or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.errors import TooLargeError
from bot.core.models import Caller, CommunityRef, ScoredAttempt
from bot.core.service import CommunityService, check_owner
from bot.errors import NotAVideoError
from bot.replies import describe_scored
from engine.progress import Stage

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".3gp"}
GENERIC_MIME_TYPES = {None, "", "application/octet-stream"}
MiB = 2**20
CLIP_BUDGET_BYTES = 8 * MiB  # the engine's default size of the annotated clip
# The engine's stage names, in the words a user sees.
STAGE_LABELS: dict[str, str] = {  # Stage is a str: the names as the engine sends them
    Stage.REFERENCE: "analysing the reference",
    Stage.POSE: "analysing",
    Stage.ALIGN: "comparing",
    Stage.RENDER: "rendering the clip",
}

Report = Callable[[str], Awaitable[None]]  # shows a progress line to the user (edits the status message)


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
    """What the platform allows a bot: the largest file it may download and upload, in bytes, and how often
    a chat may be shown progress (a busy group has a budget of messages, edits included)."""

    platform: str
    download_bytes: int
    upload_bytes: int
    trim_hint: str = TooLargeError.HINT
    progress_interval_s: float = 2.0  # at most one progress edit per this many seconds
    progress_quiet_s: float = 0.0  # no progress edit before the job has run this long (short jobs get none)

    @property
    def clip_budget_bytes(self) -> int:
        """What the clip may weigh: the default, or less where the upload cap is small (it goes with the
        card, in one message on Discord)."""
        return min(CLIP_BUDGET_BYTES, int(self.upload_bytes * 0.8))


@dataclass(frozen=True)
class ScoreRequest:
    """One /score: where, who, which dance, the upload; `notice` is where the user watches its progress (a
    chat message, as plain ids) so that a restarted bot can tell them if the job died with the process."""

    where: CommunityRef
    caller: Caller
    dance_name: str
    video: VideoUpload
    limits: PlatformLimits
    notice: dict[str, Any] | None = None
    requested_by: Caller | None = None  # who asked, when not the poster (a moderator, for them)
    finish_within_s: float | None = None  # the time the platform leaves to answer (Discord: 15 min)


@dataclass
class ScoreReply:
    """What to send back: the text, and the clip and card files (None where there is none to send)."""

    text: str
    clip: Path | None
    card: Path | None
    scored: ScoredAttempt


class ScoringFlow:
    """The /score flow shared by both bots, over the community core (which runs the engine)."""

    def __init__(self, service: CommunityService, work_dir: Path, progress_interval_s: float | None = None) -> None:
        """`progress_interval_s` overrides every platform's pace of progress (and its quiet start)."""
        self.service = service
        self.work_dir = work_dir
        self.progress_interval_s = progress_interval_s

    def check_upload(self, video: VideoUpload, limits: PlatformLimits) -> None:
        """Refuse what can be refused before downloading, from what the platform declares: not a video, too
        big for the platform to hand over, over our caps (`Limits.check_video`, as for the file itself)."""
        suffix = Path(video.filename).suffix.lower()
        mime = (video.mime_type or "").lower()
        is_video = mime.startswith("video/") or (video.mime_type in GENERIC_MIME_TYPES and suffix in VIDEO_SUFFIXES)
        if not is_video:
            raise NotAVideoError(
                f"“{video.filename}” isn't a video. Send a recording of your dance (MP4, MOV or WebM)."
            )
        if video.size is not None and video.size > limits.download_bytes:
            raise TooLargeError(video.size, limits.download_bytes, platform=limits.platform, hint=limits.trim_hint)
        self.service.limits.check_video(video.size, video.duration_s)

    @contextlib.asynccontextmanager
    async def score(self, request: ScoreRequest, report: Report) -> AsyncIterator[ScoreReply]:
        """Score one attempt; yields the reply to send. Raises CoreError / EngineError with a user message.

        The downloaded video is removed when the `async with` ends, whether the reply went out or not.
        """
        check_owner(request.caller, request.requested_by)
        self.check_upload(request.video, request.limits)
        await self.service.find_dance(request.where, request.dance_name)  # refuse before downloading
        pace = self.progress_interval_s
        limits = request.limits
        relay = ProgressRelay(
            report,
            limits.progress_interval_s if pace is None else pace,
            limits.progress_quiet_s if pace is None else pace,
        )
        await relay.show_now("Downloading your video…")
        try:
            async with self.downloaded(request.video) as attempt:
                relay.update(Stage.POSE, 0.0)
                scored = await self.service.submit_attempt(
                    request.caller,
                    request.where,
                    request.dance_name,
                    attempt,
                    progress=relay.update,
                    notice=request.notice,
                    requested_by=request.requested_by,
                    finish_within_s=request.finish_within_s,
                    clip_budget_bytes=request.limits.clip_budget_bytes,
                )
                await relay.close()
                clip = _existing(scored.result.clip_path)
                if clip is not None and clip.stat().st_size > request.limits.upload_bytes:
                    logger.info("the clip is over the %s upload cap; sending the card alone", request.limits.platform)
                    clip = None
                yield ScoreReply(describe_scored(scored), clip, _existing(scored.result.card_path), scored)
        finally:
            await relay.close()

    @contextlib.asynccontextmanager
    async def downloaded(self, video: VideoUpload) -> AsyncIterator[Path]:
        """Downloads the upload into a fresh folder (named by the server, not the user); removed on exit."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="upload-", dir=self.work_dir))
        try:
            suffix = Path(video.filename).suffix.lower()
            path = folder / f"video{suffix if suffix in VIDEO_SUFFIXES else '.mp4'}"
            await video.fetch(path)
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)


class ProgressRelay:
    """Turns engine progress events into status edits: the newest line, at most one edit per `interval_s`,
    and none before the job has run `quiet_s` (a job that ends sooner shows no progress at all).

    `update` is called on the event loop; a failed edit (e.g. a rate limit) is logged and never fails the job.
    """

    def __init__(self, report: Report, interval_s: float, quiet_s: float = 0.0) -> None:
        self._report = report
        self._interval_s = interval_s
        self._not_before = time.monotonic() + quiet_s
        self._wanted: str | None = None  # the newest line worth showing
        self._shown: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._reporting = False
        self._closed = False

    def update(self, stage: str, fraction: float) -> None:
        self.show(describe_progress(stage, fraction))

    def show(self, text: str) -> None:
        """Show `text` when the pace allows (a newer line replaces it meanwhile)."""
        if self._closed or text == self._wanted:
            return
        self._wanted = text
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._pump())

    async def show_now(self, text: str) -> None:
        """Show `text` and wait until it is shown, when the pace allows it now (else as `show`)."""
        self.show(text)
        task = self._task
        if task is not None and not task.done() and time.monotonic() >= self._not_before:
            await asyncio.wait([task])

    async def _pump(self) -> None:
        """Shows the newest wanted line until the shown one is current (one edit in flight at a time)."""
        while not self._closed and self._wanted is not None and self._wanted != self._shown:
            wait = self._not_before - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            text = self._wanted
            self._reporting = True
            try:
                await self._report(text)
            except Exception:
                logger.warning("could not show progress %r", text, exc_info=True)
            finally:
                self._reporting = False
            self._shown = text
            self._not_before = time.monotonic() + self._interval_s

    async def close(self) -> None:
        """No more edits: one waiting for its turn is dropped, one being sent is let finish."""
        self._closed = True
        task = self._task
        if task is None or task.done():
            return
        if not self._reporting:
            task.cancel()
        await asyncio.wait([task])


def describe_progress(stage: str, fraction: float) -> str:
    """A progress line such as "Analysing… 40%"."""
    label = STAGE_LABELS.get(stage, stage)
    percent = int(max(0.0, min(1.0, fraction)) * 100)
    return f"{label[:1].upper()}{label[1:]}… {percent}%"


def _existing(path: str | None) -> Path | None:
    if path and Path(path).is_file():
        return Path(path)
    return None
