"""What the community core needs from outside, each with its real implementation and a test double.

- `Clock`: `SystemClock` / `ManualClock` (tests move time by hand, e.g. past a challenge's deadline).
- `DanceEngine`: `LocalEngine` over `engine.api` (real analysis and scoring) / `ScriptedEngine` (reads a
  tiny text "video" that says what it should score: rule tests run in milliseconds).
- `CommunityStore`: implemented by `bot.storage.repository.SqlCommunityStore` (tests use the real one, on
  SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.errors import AnalysisError, UnreadableVideoError
from bot.core.models import (
    Announcement,
    Attempt,
    Caller,
    Challenge,
    Community,
    CommunityRef,
    Dance,
    LeaderboardEntry,
    ReferencePose,
    Season,
    Standing,
)
from engine.result import ScoreResult

if TYPE_CHECKING:
    from engine.api import EngineSettings

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]  # (stage name, fraction 0-1), as in engine.api


# ---- time ------------------------------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None, step_s: float = 0.0) -> None:
        self._now = start or datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
        self.step_s = step_s  # moved forward after every reading (distinct timestamps)

    def now(self) -> datetime:
        now = self._now
        self._now += timedelta(seconds=self.step_s)
        return now

    def set(self, moment: datetime) -> None:
        self._now = moment

    def advance(self, **delta: float) -> datetime:
        """Move forward, e.g. `advance(hours=2)`; returns the new time."""
        self._now += timedelta(**delta)
        return self._now


# ---- the engine ------------------------------------------------------------------------------------------


class DanceEngine(Protocol):
    """Analysis and scoring. Every failure the user caused raises a `CoreError` with a message to show."""

    async def measure(self, video: Path) -> float:
        """The video's duration in seconds, read from its header only (cheap; before any heavy work)."""
        ...

    async def analyse_reference(self, video: Path, pose_path: Path, progress: Progress | None) -> ReferencePose:
        """Analyse a reference video once and keep its poses in `pose_path` (an `.npz` PoseSequence)."""
        ...

    async def score(
        self,
        dance: Dance,
        attempt: Path,
        *,
        clip_path: Path | None,
        card_path: Path | None,
        progress: Progress | None,
    ) -> ScoreResult:
        """Score an attempt against a registered dance, rendering the clip and card where paths are given."""
        ...


JobRunner = Callable[[Any, Progress | None], Awaitable[ScoreResult]]  # (engine.api.ScoreJob, progress)


class LocalEngine:
    """The real engine (`engine.api`), run off the event loop.

    `runner` executes a `ScoreJob` (the engine pool of issue 7 plugs in here); by default the job runs in
    a worker thread of this process. Probing and reference analysis run in threads too.
    """

    def __init__(self, settings: EngineSettings | None = None, runner: JobRunner | None = None) -> None:
        from engine import api

        self._api = api
        self.settings = settings if settings is not None else api.EngineSettings()
        self._runner = runner

    def __repr__(self) -> str:
        return f"LocalEngine({self.settings!r})"

    async def measure(self, video: Path) -> float:
        from engine.decode import VideoLimits, probe

        # The engine's own checks (magic bytes, format whitelist, pixels) apply; the size and duration
        # caps are the core's, so they are lifted here and the core words them itself.
        limits = VideoLimits(2**62, float("inf"), self.settings.max_pixels)
        with _engine_errors():
            info = await asyncio.to_thread(probe, Path(video), limits)
        return float(info.duration)

    async def analyse_reference(self, video: Path, pose_path: Path, progress: Progress | None) -> ReferencePose:
        """Analyse once with `engine.api.save_reference` (poses and music envelope beside `pose_path`)."""
        report = _threadsafe(progress)
        with _engine_errors():
            poses = await asyncio.to_thread(self._api.save_reference, Path(video), self.settings, pose_path, report)
        return ReferencePose(Path(pose_path), float(poses.duration))

    async def score(
        self,
        dance: Dance,
        attempt: Path,
        *,
        clip_path: Path | None,
        card_path: Path | None,
        progress: Progress | None,
    ) -> ScoreResult:
        job = self._api.ScoreJob(
            reference=dance.pose_path,
            attempt=str(attempt),
            options=self._api.CompareOptions(
                clip_path=str(clip_path) if clip_path else None,
                card_path=str(card_path) if card_path else None,
            ),
            reference_video=dance.reference_video,
        )
        with _engine_errors():
            if self._runner is not None:
                return await self._runner(job, progress)
            return await asyncio.to_thread(self._api.run_job, job, self.settings, _threadsafe(progress))


@contextmanager
def _engine_errors() -> Iterator[None]:
    """Turn the engine's errors into core errors with the same user-facing message."""
    from engine.errors import EngineError, InputError, VideoError

    try:
        yield
    except (VideoError, InputError) as exc:
        raise UnreadableVideoError(str(exc)) from exc
    except EngineError as exc:
        raise AnalysisError(str(exc), engine_code=exc.code) from exc


def _threadsafe(progress: Progress | None) -> Progress | None:
    """Wrap a progress callback so a worker thread can call it: it then runs on the event loop."""
    if progress is None:
        return None
    loop = asyncio.get_running_loop()

    def report(stage: str, fraction: float) -> None:
        loop.call_soon_threadsafe(progress, stage, fraction)

    return report


@dataclass
class ScriptedEngine:
    """Test double of `DanceEngine`: a "video" is a small text file of `key=value` lines.

    `score=7.5` (required for attempts), `duration=12` (seconds, default 10), `fail=no_dancer` (raise the
    engine error with that code). Anything else is refused like a non-video. `gate`, when set, holds every
    `score` call until it is set (to keep a job running). `calls` counts heavy calls (analyse + score).
    """

    gate: asyncio.Event | None = None
    calls: int = 0
    scored: list[str] = field(default_factory=list)

    async def measure(self, video: Path) -> float:
        return float(_script(video).get("duration", "10"))

    async def analyse_reference(self, video: Path, pose_path: Path, progress: Progress | None) -> ReferencePose:
        script = _script(video)
        self.calls += 1
        _fail_if_asked(script)
        pose_path.parent.mkdir(parents=True, exist_ok=True)
        pose_path.write_text("scripted poses\n")
        return ReferencePose(pose_path, float(script.get("duration", "10")))

    async def score(
        self,
        dance: Dance,
        attempt: Path,
        *,
        clip_path: Path | None,
        card_path: Path | None,
        progress: Progress | None,
    ) -> ScoreResult:
        script = _script(attempt)
        self.calls += 1
        if progress is not None:
            progress("analysing", 0.5)
        if self.gate is not None:
            await self.gate.wait()
        _fail_if_asked(script)
        score = float(script["score"])
        self.scored.append(attempt.name)
        value = (score - 1) / 9 * 100
        return ScoreResult(
            score=score,
            form=value,
            timing=value,
            parts={"arms": value, "legs": value, "torso": value, "head": value},
            mirrored=False,
            offset_s=0.0,
            tempo=1.0,
            weak_moments=[],
            feedback=[f"scripted score {score:.1f}"],
            frames={
                "reference": {"analysed": 1, "with_dancer": 1},
                "attempt": {"analysed": 1, "with_dancer": 1},
            },
            backend="scripted",
            seconds={"total": 0.0},
        )


def _script(video: Path) -> dict[str, str]:
    try:
        text = Path(video).read_text(encoding="utf-8")
        pairs = dict(line.split("=", 1) for line in text.split() if "=" in line)
        if "duration" in pairs and not math.isfinite(float(pairs["duration"])):
            raise ValueError
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UnreadableVideoError("This file is not a video I can read; send an MP4, MOV or WebM video.") from exc
    if not pairs:
        raise UnreadableVideoError("This file is not a video I can read; send an MP4, MOV or WebM video.")
    return pairs


def _fail_if_asked(script: dict[str, str]) -> None:
    if "fail" in script:
        raise AnalysisError(f"Scripted failure: {script['fail']}.", engine_code=script["fail"])


# ---- storage ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewDance:
    """A dance to insert; `names` is (key, shown) for the name first, then each alias."""

    community_id: int
    name: str
    names: list[tuple[str, str]]
    pose_path: str
    reference_video: str | None
    duration_s: float
    added_by: str
    added_by_user: str
    added_at: datetime


@dataclass(frozen=True)
class AttemptRecord:
    """A scored attempt to record; `season_keys` are the seasonal boards it counts on."""

    job_id: int | None
    community_id: int
    dance_id: int
    dance_name: str
    caller: Caller
    score: float
    form: float
    timing: float
    parts: dict[str, float]
    result: dict[str, Any]
    content_hash: str
    clip_path: str | None
    card_path: str | None
    submitted_at: datetime
    recorded_at: datetime
    season_keys: list[str]
    # Which scorer version made `score`, and what re-scoring needs without the video: the engine's own
    # score and version and its comparison features (issue 14). None: as `result` says.
    scorer_version: str | None = None
    base_score: float | None = None
    base_version: str | None = None
    features: dict[str, float] | None = None


class CommunityStore(Protocol):
    """Persistence for the core; each method is one transaction. See `SqlCommunityStore` for the details."""

    async def ensure_community(self, ref: CommunityRef, now: datetime, season: Season) -> Community: ...
    async def find_community(self, ref: CommunityRef) -> Community | None: ...
    async def list_communities(self) -> list[Community]: ...
    async def set_season(self, community_id: int, season: Season) -> None: ...
    async def list_dance_names(self, community_id: int) -> list[tuple[str, int, str]]: ...
    async def list_dances(self, community_id: int) -> list[Dance]: ...
    async def get_dance(self, dance_id: int) -> Dance | None: ...
    async def add_dance(self, dance: NewDance) -> Dance: ...
    async def rename_dance(self, dance_id: int, name: str, key: str) -> Dance: ...
    async def remove_dance(self, dance_id: int, now: datetime) -> None: ...
    async def start_job(
        self,
        caller: Caller,
        community_id: int,
        dance_id: int,
        now: datetime,
        *,
        limit: int,
        window_s: float,
        lease_s: float,
    ) -> int: ...
    async def finish_job(self, job_id: int, status: str, now: datetime) -> None: ...
    async def count_jobs_running_before(self, dance_id: int, until: datetime, now: datetime, lease_s: float) -> int: ...
    async def find_attempt(self, dance_id: int, caller: Caller, content_hash: str) -> Attempt | None: ...
    async def record_attempt(self, record: AttemptRecord) -> tuple[Attempt, Challenge | None, bool]: ...
    async def list_attempts(self, community_id: int, caller: Caller, limit: int) -> list[Attempt]: ...
    async def read_dance_board(self, dance_id: int, period_key: str, limit: int) -> list[LeaderboardEntry]: ...
    async def read_overall_board(
        self, community_id: int, period_key: str, limit: int | None
    ) -> list[LeaderboardEntry]: ...
    async def find_dance_standing(
        self, dance_id: int, period_key: str, caller: Caller
    ) -> tuple[int, int, float] | None: ...
    async def list_standings(self, community_id: int, caller: Caller, period_key: str) -> list[Standing]: ...
    async def start_challenge(
        self,
        community_id: int,
        dance_id: int,
        started_by: str,
        starts_at: datetime,
        ends_at: datetime,
        channel: str | None,
    ) -> Challenge: ...
    async def list_open_challenges(self, community_id: int) -> list[Challenge]: ...
    async def find_latest_challenge(self, community_id: int, dance_id: int | None) -> Challenge | None: ...
    async def list_due_challenges(self, now: datetime) -> list[Challenge]: ...
    async def find_next_deadline(self) -> datetime | None: ...
    async def close_challenge(self, challenge_id: int, now: datetime, reason: str, top: int) -> Challenge | None: ...
    async def claim_announcements(
        self, platform: str, claimer: str, now: datetime, lease_s: float, limit: int
    ) -> list[Announcement]: ...
    async def confirm_announcement(self, announcement_id: int, claimer: str, now: datetime) -> bool: ...
