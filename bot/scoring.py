"""The platform-free /score flow: check the upload, download it, score it, reply, clean up.

The adapters turn a chat event into a `ScoreRequest` (plain data plus a `fetch` coroutine that downloads
the file), call `ScoringFlow.score`, and send the `ScoreReply` it yields. Temporary files live only inside
that `async with`: they are removed after the reply, whether it succeeded or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.errors import TooLargeError
from bot.core.models import Caller, CommunityRef, ScoredAttempt
from bot.core.service import CommunityService
from bot.errors import NotAVideoError
from bot.replies import describe_scored
from engine.progress import Stage

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".3gp"}
GENERIC_MIME_TYPES = {None, "", "application/octet-stream"}
MiB = 2**20
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
    """What the platform allows a bot: the largest file it may download and upload, in bytes."""

    platform: str
    download_bytes: int
    upload_bytes: int
    trim_hint: str = TooLargeError.HINT
    progress_interval_s: float = 2.0  # at most one progress edit per this many seconds (rate limits)


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
        self.check_upload(request.video, request.limits)
        await self.service.find_dance(request.where, request.dance_name)  # refuse before downloading
        interval = self.progress_interval_s
        relay = ProgressRelay(report, request.limits.progress_interval_s if interval is None else interval)
        await report("Downloading your video…")
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
    label = STAGE_LABELS.get(stage, stage)
    percent = int(max(0.0, min(1.0, fraction)) * 100)
    return f"{label[:1].upper()}{label[1:]}… {percent}%"


def _existing(path: str | None) -> Path | None:
    if path and Path(path).is_file():
        return Path(path)
    return None
