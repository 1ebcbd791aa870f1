"""Members rate attempts 1-10; moderators see the ratings and choose which scorer version their boards use.

Platform-free, like `bot.core.service`: the adapters pass a `Caller`, the `CommunityRef` where the rating
was given, and the platform's word on whether the caller belongs to that community. Refusals are
`CoreError`s whose `str()` is the sentence to show.

- One rating per member and attempt; rating again changes it. The dancer may rate their own attempt: it is
  stored (marked own) and never used to calibrate.
- Only members of the community where the attempt was scored can rate it.
- A community's scorer version (`use_scorer`) decides the score of its new attempts; `rescore` re-scores the
  attempts already on its boards with a version, from their stored features (no video needed).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from bot.core.calibration import (
    CalibrationPolicy,
    CalibrationReport,
    RatedAttempt,
    RatingRow,
    cross_validate,
    find_consensus,
)
from bot.core.errors import CoreError, InvalidInputError, NotModeratorError, UnknownDanceError
from bot.core.models import Caller, Community, CommunityRef
from bot.core.names import match_name
from bot.core.ports import Clock
from bot.core.scorers import Calibration, CommunityScorers, ScorerBook, UnknownScorerError, calibration_inputs
from engine.result import ScoreResult

log = logging.getLogger(__name__)

RATING_VALUES = range(1, 11)


class RatingError(CoreError):
    """A rating cannot be taken (the attempt is gone, the rater is not a member of its community...)."""

    code = "rating_refused"


class NotInCommunityError(RatingError):
    """The rater does not belong to the community where the attempt was scored."""

    code = "not_in_community"

    def __init__(self) -> None:
        super().__init__("Only members of the community where this attempt was scored can rate it.")


# ---- plain data ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatableAttempt:
    """What a rating needs to know about its attempt."""

    id: int
    community_id: int
    dance_name: str
    platform: str
    user_id: str  # the dancer
    display_name: str
    score: float
    scorer_version: str


@dataclass(frozen=True)
class RatingReceipt:
    """A rating as stored; `previous` is the value it replaced (None for a first rating)."""

    attempt: RatableAttempt
    value: int
    previous: int | None
    own: bool


@dataclass(frozen=True)
class RatingStats:
    """What `/rate` shows moderators."""

    ratings: int  # from members other than the dancer
    own: int
    raters: int
    attempts: int  # attempts with at least one rating from another member
    by_version: dict[str, int]  # ratings per scorer version that made the score shown
    distribution: dict[int, int]  # 1-10 -> count
    top_raters: list[tuple[str, int]]  # (display name, ratings), most first
    agreement: tuple[float, float] | None = None  # (MAE, Spearman) of the shown scores against the ratings


@dataclass(frozen=True)
class ScorerStatus:
    """What `/scorer status` shows: the version in use, what it is, and what else could be used."""

    version: str
    chosen_by: str | None
    chosen_at: datetime | None
    calibration: Calibration | None
    applies: bool  # False when the chosen calibration is for another base version than the engine's
    available: list[str]
    ratings: int
    versions_on_boards: dict[str, int] = field(default_factory=dict)  # attempts per version that scored them


@dataclass(frozen=True)
class ScorerChoice:
    version: str
    chosen_by: str
    chosen_at: datetime


@dataclass(frozen=True)
class StoredAttempt:
    """An attempt as re-scoring and calibration see it (from the store)."""

    id: int
    community_id: int
    score: float
    scorer_version: str
    base_score: float | None
    base_version: str | None
    features: dict[str, float]


@dataclass(frozen=True)
class RescoreOutcome:
    version: str
    rescored: int
    unchanged: int  # already scored by that version
    skipped: int  # no stored features, or features of another base version


class RatingStore(Protocol):
    """Persistence for ratings and scorer choices; each method is one transaction (`SqlRatingStore`)."""

    async def find_community(self, ref: CommunityRef) -> Community | None: ...
    async def find_ratable_attempt(self, attempt_id: int) -> RatableAttempt | None: ...
    async def save_rating(
        self, attempt: RatableAttempt, caller: Caller, value: int, own: bool, now: datetime
    ) -> int | None: ...
    async def read_rating_stats(self, community_id: int) -> RatingStats: ...
    async def list_ratings(self, community_id: int | None) -> list[RatingRow]: ...
    async def list_stored_attempts(
        self, community_id: int | None, dance_id: int | None = None
    ) -> list[StoredAttempt]: ...
    async def choose_scorer(self, community_id: int, version: str, chosen_by: str, now: datetime) -> None: ...
    async def find_scorer_choice(self, community_id: int) -> ScorerChoice | None: ...
    async def find_scorer_version(self, community_id: int) -> str | None: ...
    async def count_versions(self, community_id: int) -> dict[str, int]: ...
    async def rescore_attempts(self, community_id: int, scores: dict[int, float], version: str) -> int: ...
    async def list_dance_names(self, community_id: int) -> list[tuple[str, int, str]]: ...


# ---- the service -----------------------------------------------------------------------------------------


class RatingService:
    """Ratings, their statistics, the scorer each community uses, and re-scoring with another version."""

    def __init__(self, store: RatingStore, book: ScorerBook, clock: Clock) -> None:
        self.store = store
        self.book = book
        self.clock = clock
        self.scorers = CommunityScorers(book, store)

    async def prepare_finish(self, community_id: int) -> Callable[[ScoreResult], ScoreResult]:
        """What turns the engine's result into the score of the version the community uses; read before the
        analysis, so that nothing after it needs the database."""
        return await self.scorers.prepare(community_id)

    async def rate(
        self, caller: Caller, where: CommunityRef, attempt_id: int, value: int, *, member: bool = True
    ) -> RatingReceipt:
        """Record (or change) the caller's rating of an attempt scored in `where`.

        `member` is the platform's word that the caller belongs to `where`. Raises InvalidInputError (not
        1-10), RatingError (attempt gone) or NotInCommunityError.
        """
        if value not in RATING_VALUES:
            raise InvalidInputError("A rating is a whole number from 1 to 10.")
        attempt = await self.store.find_ratable_attempt(attempt_id)
        if attempt is None:
            raise RatingError("This attempt can no longer be rated (it was removed).")
        community = await self.store.find_community(where)
        if not member or community is None or community.id != attempt.community_id:
            raise NotInCommunityError()
        own = (caller.platform, caller.user_id) == (attempt.platform, attempt.user_id)
        previous = await self.store.save_rating(attempt, caller, value, own, self.clock.now())
        log.info("attempt %d rated %d%s in %s", attempt.id, value, " (own)" if own else "", where)
        return RatingReceipt(attempt, value, previous, own)

    async def show_rating_stats(self, caller: Caller, where: CommunityRef) -> RatingStats:
        """The community's ratings at a glance (moderators only)."""
        self._require_moderator(caller, "see the rating statistics")
        community = await self.store.find_community(where)
        if community is None:
            return RatingStats(0, 0, 0, 0, {}, {}, [])
        stats = await self.store.read_rating_stats(community.id)
        consensus = find_consensus(await self.store.list_ratings(community.id))
        shown = {a.id: a.score for a in await self.store.list_stored_attempts(community.id)}
        pairs = [(shown[a], t) for a, t in zip(consensus.attempt_ids, consensus.target, strict=True) if a in shown]
        if not pairs:
            return stats
        scores, targets = [p[0] for p in pairs], [float(p[1]) for p in pairs]
        mae = sum(abs(a - b) for a, b in pairs) / len(pairs)
        return replace(stats, agreement=(mae, spearman_of(scores, targets)))

    # ---- scorer versions --------------------------------------------------------------------------------

    async def use_scorer(self, caller: Caller, where: CommunityRef, version: str) -> ScorerStatus:
        """Make `version` the scorer of the community's new attempts (moderators only)."""
        self._require_moderator(caller, "choose the scorer")
        community = await self._community(where)
        chosen = self.book.check_usable(version.strip().lower(), str(where))
        await self.store.choose_scorer(community.id, chosen, caller.display_name, self.clock.now())
        return await self.show_scorer(caller, where)

    async def show_scorer(self, caller: Caller, where: CommunityRef) -> ScorerStatus:
        """The scorer version in use here, what it is, and the versions this community could use."""
        self._require_moderator(caller, "see the scorer settings")
        community = await self.store.find_community(where)
        choice = await self.store.find_scorer_choice(community.id) if community else None
        version = choice.version if choice else self.book.default
        calibration = None
        if version not in self.book.base_versions:
            try:
                calibration = self.book.load(version)
            except UnknownScorerError:
                calibration = None
        stats = await self.store.read_rating_stats(community.id) if community else None
        return ScorerStatus(
            version=version,
            chosen_by=choice.chosen_by if choice else None,
            chosen_at=choice.chosen_at if choice else None,
            calibration=calibration,
            applies=version == self.book.default
            or (calibration is not None and calibration.base_version == self.book.default),
            available=[*self.book.base_versions, *(c.version for c in self.book.list_calibrations(str(where)))],
            ratings=stats.ratings if stats else 0,
            versions_on_boards=await self.store.count_versions(community.id) if community else {},
        )

    async def rescore(
        self, caller: Caller, where: CommunityRef, version: str | None = None, dance_name: str | None = None
    ) -> RescoreOutcome:
        """Re-score the community's attempts (of one dance, if named) with `version` (default: the version in
        use) from their stored features, and rebuild its boards (moderators only).

        An attempt whose features are missing or were made by another base version keeps its score. The
        results of closed challenges stand as they were announced.
        """
        self._require_moderator(caller, "re-score the boards")
        community = await self._community(where)
        if version is None:
            version = await self.store.find_scorer_version(community.id) or self.book.default
        version = self.book.check_usable(version.strip().lower(), str(where))
        dance_id = await self._dance_id(community, dance_name) if dance_name else None
        attempts = await self.store.list_stored_attempts(community.id, dance_id)
        scores, unchanged, skipped = self.score_with(version, attempts)
        rescored = await self.store.rescore_attempts(community.id, scores, version)
        log.info("re-scored %d attempts of %s with %s (%d skipped)", rescored, where, version, skipped)
        return RescoreOutcome(version, rescored, unchanged, skipped)

    def score_with(self, version: str, attempts: Sequence[StoredAttempt]) -> tuple[dict[int, float], int, int]:
        """({attempt id: score}, unchanged, skipped): the scores `version` gives the attempts it applies to."""
        calibration = None if version in self.book.base_versions else self.book.load(version)
        base = calibration.base_version if calibration else version
        todo = [a for a in attempts if a.scorer_version != version]
        fit = [
            a
            for a in todo
            if a.base_version == base and a.base_score is not None and (calibration is None or a.features)
        ]
        if calibration is None:
            scores = {a.id: float(a.base_score) for a in fit if a.base_score is not None}
        else:
            values = calibration.score_many([calibration_inputs(float(a.base_score or 0), a.features) for a in fit])
            scores = {a.id: v for a, v in zip(fit, values, strict=True)}
        return scores, len(attempts) - len(todo), len(todo) - len(fit)

    # ---- calibration ------------------------------------------------------------------------------------

    async def collect_for_calibration(
        self, where: CommunityRef | None
    ) -> tuple[list[RatedAttempt], list[RatingRow], str]:
        """The rated attempts (made by the engine's current base version) and their ratings, globally or for
        one community, with the version they are compared against (what the community uses now)."""
        community = await self.store.find_community(where) if where else None
        if where is not None and community is None:
            raise InvalidInputError(f"The community {where} has not used DanceScore yet.")
        community_id = community.id if community else None
        current = self.book.default
        if community_id is not None:
            current = await self.store.find_scorer_version(community_id) or current
        calibration = self._applicable(current)
        if calibration is None:
            current = self.book.default
        attempts = [
            a
            for a in await self.store.list_stored_attempts(community_id)
            if a.base_version == self.book.default and a.base_score is not None
        ]
        currents = (
            calibration.score_many([calibration_inputs(float(a.base_score or 0), a.features) for a in attempts])
            if calibration
            else [float(a.base_score or 0) for a in attempts]
        )
        rated = [
            RatedAttempt(a.id, a.features, float(a.base_score or 0), c) for a, c in zip(attempts, currents, strict=True)
        ]
        return rated, await self.store.list_ratings(community_id), current

    async def calibrate(
        self,
        where: CommunityRef | None,
        policy: CalibrationPolicy | None = None,
        *,
        device: str = "cpu",
        seed: int = 0,
    ) -> tuple[CalibrationReport, str, Calibration | None]:
        """Fit a calibration on the ratings (globally or of one community) and write it when it beats the
        scorer in use on held-out ratings: (report, the version compared against, the new calibration)."""
        policy = policy or CalibrationPolicy()
        attempts, rows, current = await self.collect_for_calibration(where)
        report = cross_validate(attempts, rows, policy, device=device, seed=seed)
        if not report.accepted:
            return report, current, None
        saved = self.book.save(
            report,
            scope=str(where) if where else "global",
            base_version=self.book.default,
            current_version=current,
            now=self.clock.now(),
            folds=policy.folds,
        )
        return report, current, saved

    # ---- internals --------------------------------------------------------------------------------------

    def _applicable(self, version: str) -> Calibration | None:
        if version in self.book.base_versions:
            return None
        try:
            calibration = self.book.load(version)
        except UnknownScorerError:
            return None
        return calibration if calibration.base_version == self.book.default else None

    def _require_moderator(self, caller: Caller, action: str) -> None:
        if not caller.is_moderator:
            raise NotModeratorError(action)

    async def _community(self, where: CommunityRef) -> Community:
        community = await self.store.find_community(where)
        if community is None:
            raise InvalidInputError("Nothing has been scored here yet.")
        return community

    async def _dance_id(self, community: Community, name: str) -> int:
        match = match_name(name, await self.store.list_dance_names(community.id))
        if match.target is None:
            raise UnknownDanceError(name, match.suggestions)
        return match.target


def spearman_of(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (NaN when either side is flat or there are fewer than two pairs)."""
    if len(a) < 2:
        return math.nan
    import torch

    from models.calibration import spearman

    return spearman(torch.tensor(list(a)), torch.tensor(list(b)))
