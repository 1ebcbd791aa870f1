"""Plain data the community core speaks: no platform types, no database rows."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.core.errors import InvalidInputError, TooLargeError, TooLongError
from engine.result import ScoreResult


class Season(enum.StrEnum):
    """How a community's seasonal leaderboard is cut."""

    MONTHLY = "monthly"
    WEEKLY = "weekly"
    NONE = "none"


class Period(enum.StrEnum):
    """Which attempts a leaderboard counts."""

    ALL = "all"
    SEASON = "season"
    CHALLENGE = "challenge"


MAX_DISPLAY_NAME = 128  # a Telegram first + last name can be 129 characters
MAX_ID = 64


@dataclass(frozen=True)
class Caller:
    """Who sent a command. `is_moderator` is the platform's word (Discord: Manage Server; Telegram: admin).

    The display name is tidied (spaces collapsed, cut to 128 characters, the user id when blank).
    """

    platform: str
    user_id: str
    display_name: str
    is_moderator: bool = False

    def __post_init__(self) -> None:
        check_ids(self.platform, self.user_id)
        shown = " ".join(str(self.display_name).split())[:MAX_DISPLAY_NAME] or self.user_id
        object.__setattr__(self, "display_name", shown)


@dataclass(frozen=True)
class CommunityRef:
    """Where a command was sent: a Discord server or a Telegram chat, written `platform:id`."""

    platform: str
    external_id: str

    def __post_init__(self) -> None:
        check_ids(self.platform, self.external_id)

    @classmethod
    def parse(cls, text: str) -> CommunityRef:
        """Read `discord:123` or `telegram:-100456`."""
        platform, sep, external_id = text.strip().partition(":")
        if not sep or not platform or not external_id:
            raise InvalidInputError(
                f"“{text}” is not a community id; write it as platform:id, e.g. discord:1234567890."
            )
        return cls(platform.lower(), external_id)

    def __str__(self) -> str:
        return f"{self.platform}:{self.external_id}"


@dataclass(frozen=True)
class Community:
    id: int
    platform: str
    external_id: str
    season: Season

    @property
    def ref(self) -> CommunityRef:
        return CommunityRef(self.platform, self.external_id)


@dataclass(frozen=True)
class Dance:
    """A reference dance registered in one community; `pose_path` is its analysed `.npz` pose file."""

    id: int
    community_id: int
    name: str
    aliases: tuple[str, ...]
    pose_path: str
    reference_video: str | None
    duration_s: float
    added_by: str  # display name of the moderator who added it
    added_by_user: str  # platform:user_id
    added_at: datetime


@dataclass(frozen=True)
class ReferencePose:
    """What the engine keeps of an analysed reference video."""

    pose_path: Path
    duration_s: float


@dataclass(frozen=True)
class Attempt:
    id: int
    community_id: int
    dance_id: int
    dance_name: str
    platform: str
    user_id: str
    display_name: str
    score: float
    form: float
    timing: float
    parts: dict[str, float]
    submitted_at: datetime
    challenge_id: int | None
    clip_path: str | None
    card_path: str | None
    content_hash: str
    scorer_version: str = "v1"  # the scorer version that made `score`


@dataclass(frozen=True)
class LeaderboardEntry:
    """One row of a board. For a dance: the user's best score. Overall: the sum of their best per dance.

    `achieved_at` breaks ties (earlier wins): when that best (or that total) was reached.
    """

    rank: int
    platform: str
    user_id: str
    display_name: str
    score: float
    achieved_at: datetime
    dances: int = 1
    scorer_version: str | None = None  # the version that made the score ("mixed" for sums of several)
    attempt_id: int | None = None  # the attempt that made this best (a dance's board; None overall)


@dataclass(frozen=True)
class Challenge:
    id: int
    community_id: int
    dance_id: int
    dance_name: str
    started_by: str
    starts_at: datetime
    ends_at: datetime
    closed_at: datetime | None
    close_reason: str | None  # "deadline" or "ended early"
    channel: str | None  # where the bots announce the results

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class Leaderboard:
    community: CommunityRef
    dance: str | None  # None: overall (sum of each user's best per dance)
    period: Period
    period_label: str  # "all time", "season 2026-11", "week 2026-W48", "challenge #3 (renegade)"
    entries: list[LeaderboardEntry]
    challenge: Challenge | None = None
    viewer: Standing | None = None  # the rank of whoever asked, when they are on this board

    @property
    def viewer_shown(self) -> bool:
        """Whether the viewer's own row is among `entries` (else their rank is said beneath)."""
        return self.viewer is not None and self.viewer.rank <= len(self.entries)


@dataclass(frozen=True)
class ChallengeStatus:
    challenge: Challenge
    standings: list[LeaderboardEntry]
    seconds_left: float


@dataclass(frozen=True)
class Announcement:
    """A closed challenge's results, to be posted once by whichever bot claims it."""

    id: int
    community: CommunityRef
    challenge: Challenge
    standings: list[LeaderboardEntry]


@dataclass(frozen=True)
class Standing:
    """A user's place on one board."""

    board: str  # dance name, or "overall"
    rank: int
    score: float
    of: int  # how many people are on the board


@dataclass(frozen=True)
class DanceHistory:
    """What `/me <dance>` draws: every scored attempt of one user at one dance, oldest first."""

    caller: Caller
    dance: str
    attempts: list[Attempt]
    standing: Standing | None  # their all-time rank on the dance (None: not on the board)


@dataclass(frozen=True)
class Profile:
    """What `/me` shows: recent attempts and the user's ranks (all time)."""

    caller: Caller
    attempts: list[Attempt]
    standings: list[Standing]


@dataclass(frozen=True)
class ScoredAttempt:
    """What `submit_attempt` returns to the bots."""

    attempt: Attempt
    result: ScoreResult
    personal_best: bool
    standing: Standing
    challenge: Challenge | None = None
    challenge_standing: Standing | None = None
    notes: list[str] = field(default_factory=list)
    saved: bool = True  # False: the database was unavailable; it waits to be put on the boards


@dataclass(frozen=True)
class JobOwner:
    """The process that runs a job: its home (host and data directory; one process at a time holds it) and
    the id of this run of it."""

    home: str
    run: str


@dataclass(frozen=True)
class LostJob:
    """A job that died with the process that ran it; `notice` says where its user was shown its progress."""

    id: int
    community_id: int
    platform: str
    user_id: str
    dance_name: str
    notice: dict[str, Any] | None


@dataclass(frozen=True)
class Limits:
    """What every video is held to, in bytes and seconds: the only place these caps are set (the composition
    root gives the engine the same numbers, and the engine enforces them on the file itself)."""

    max_duration_s: float = 180.0
    max_bytes: int = 200 * 2**20
    rate_limit: int = 10  # videos per user per window (analyses that failed on the video count too)
    rate_window_s: float = 3600.0
    job_lease_s: float = 20 * 60.0  # a running job older than this is treated as dead (crashed process)

    def check_video(self, size_bytes: int | None, duration_s: float | None = None) -> None:
        """Refuse a video over the caps (TooLargeError, TooLongError) from what is known of it so far: what
        the chat platform declares before the download, then the file's real size. None: not known."""
        if size_bytes is not None and size_bytes > self.max_bytes:
            raise TooLargeError(size_bytes, self.max_bytes)
        if duration_s is not None and duration_s > self.max_duration_s:
            raise TooLongError(duration_s, self.max_duration_s)


def board_points(score: float) -> int:
    """A score as the boards rank and add it up: the value shown (one decimal), in thousandths of a point.

    25 people shown "10.0" are tied, whatever decimals nobody sees; the earlier attempt goes first.
    """
    return round(float(f"{score:.1f}") * 1000)


def check_ids(platform: str, identifier: str) -> None:
    """Platform names and ids are short, non-empty strings (they key the database)."""
    if not platform or len(platform) > 32 or not identifier or len(identifier) > MAX_ID:
        raise InvalidInputError(f"“{platform}:{identifier}” is not a valid platform and id.")
