"""What the community core needs from outside: the interfaces only (typing.Protocol), and the plain data
they exchange. The implementations live beside their fakes, elsewhere:

- `Clock`: `bot.core.clock.SystemClock`, and `ManualClock` for tests that move time by hand.
- `DanceEngine`: `bot.gateways.engine.PoolEngine` (the real engine, run in the engine pool's workers), and
  `bot.gateways.scripted.ScriptedEngine` (scores what a test says; both pass tests/core/test_engine_contract.py).
- `CommunityStore`: `bot.storage.repository.SqlCommunityStore` (tests use the real one, on SQLite and
  PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bot.core.models import (
    Announcement,
    Attempt,
    Caller,
    Challenge,
    Community,
    CommunityRef,
    Dance,
    JobOwner,
    LeaderboardEntry,
    LostJob,
    ReferencePose,
    Season,
    Standing,
)
from engine.progress import Progress
from engine.result import ScoreResult


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class DanceEngine(Protocol):
    """Analysis and scoring. No user's file is ever decoded in the bot's own process.

    Failures are `engine.errors.EngineError`s (a `Refusal`: `.code` and a sentence to show): the file is not a
    video or breaks the engine's limits (`VideoError`, raised before any analysis), no dancer was found
    (`NoDancerError`), or the failure is ours (`.ours`: the pool was busy, a worker crashed...).
    """

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
        clip_budget_bytes: int | None = None,
    ) -> ScoreResult:
        """Score an attempt against a registered dance, rendering the clip and card where paths are given;
        the clip fits `clip_budget_bytes` (None: the engine's default budget)."""
        ...


@runtime_checkable
class EngineLoad(Protocol):
    """What an engine can say about its load (the real gateway and its fake both can)."""

    def estimate_s(self) -> tuple[float, float]:
        """(seconds a job submitted now waits before it starts, seconds a job is expected to run)."""
        ...


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
        owner: JobOwner | None = None,
        notice: dict[str, Any] | None = None,
    ) -> int: ...
    async def finish_job(self, job_id: int, status: str, now: datetime) -> None: ...
    async def expire_lost_jobs(self, owner: JobOwner, now: datetime) -> list[LostJob]: ...
    async def list_attempt_media(
        self, *, before: datetime | None = None, dance_id: int | None = None
    ) -> list[tuple[int, str | None, str | None]]: ...
    async def forget_media(self, attempt_ids: Sequence[int]) -> None: ...
    async def list_cards(self, attempt_ids: Sequence[int]) -> dict[int, str]: ...
    async def count_jobs_running_before(self, dance_id: int, until: datetime, now: datetime, lease_s: float) -> int: ...
    async def find_attempt(self, dance_id: int, caller: Caller, content_hash: str) -> Attempt | None: ...
    async def find_video_owner(
        self, community_id: int, content_hash: str, caller: Caller
    ) -> tuple[str, str] | None: ...
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
    async def find_overall_standing(self, community_id: int, caller: Caller, period_key: str) -> Standing | None: ...
    async def list_dance_attempts(self, dance_id: int, caller: Caller, limit: int) -> list[Attempt]: ...
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
    async def fail_announcement(
        self, announcement_id: int, claimer: str, now: datetime, *, max_tries: int, retry_s: float
    ) -> bool: ...
    async def read_state(self, key: str) -> str | None: ...
    async def write_state(self, key: str, value: str, now: datetime) -> None: ...
