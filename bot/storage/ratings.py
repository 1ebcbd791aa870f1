"""The ratings section of the store: members' ratings, each community's scorer choice, and re-scoring.

It implements `bot.core.ratings.RatingStore`; each method is one transaction. Re-scoring rewrites the
attempts' scores and rebuilds the community's boards (`bests`, `totals`) from them in the same transaction,
by the boards' own rule (each member's best per dance and period; ties to the earlier attempt), leaving the
boards of closed challenges as they were announced.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.core.calibration import RatingRow
from bot.core.models import Caller, Community, CommunityRef, board_points
from bot.core.ratings import RatableAttempt, RatingStats, ScorerChoice, StoredAttempt
from bot.core.seasons import ALL_TIME, format_challenge_key, list_season_keys
from bot.storage.database import Database
from bot.storage.repository import SqlCommunityStore, _rebuild_totals
from bot.storage.tables import attempts, bests, challenges, dances, members, ratings, scorer_choices

log = logging.getLogger(__name__)

TOP_RATERS = 5


class SqlRatingStore:
    """Ratings and scorer choices in SQLite or PostgreSQL through a `Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._community = SqlCommunityStore(db)

    def __repr__(self) -> str:
        return f"SqlRatingStore({self.db!r})"

    async def find_community(self, ref: CommunityRef) -> Community | None:
        return await self._community.find_community(ref)

    async def list_dance_names(self, community_id: int) -> list[tuple[str, int, str]]:
        return await self._community.list_dance_names(community_id)

    # ---- ratings ----------------------------------------------------------------------------------------

    async def find_ratable_attempt(self, attempt_id: int) -> RatableAttempt | None:
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        attempts.c.id,
                        attempts.c.community_id,
                        attempts.c.score,
                        attempts.c.scorer_version,
                        dances.c.name,
                        members.c.platform,
                        members.c.user_id,
                        members.c.display_name,
                    )
                    .join(dances, dances.c.id == attempts.c.dance_id)
                    .join(members, members.c.id == attempts.c.member_id)
                    .where(attempts.c.id == attempt_id)
                )
            ).one_or_none()
        if row is None:
            return None
        return RatableAttempt(
            id=row.id,
            community_id=row.community_id,
            dance_name=row.name,
            platform=row.platform,
            user_id=row.user_id,
            display_name=row.display_name,
            score=row.score,
            scorer_version=row.scorer_version or "v1",
        )

    async def save_rating(
        self, attempt: RatableAttempt, caller: Caller, value: int, own: bool, now: datetime
    ) -> int | None:
        """Insert or change the caller's rating of the attempt; returns the value it replaced (None if new)."""
        async with self.db.write() as conn:
            member_id = await self._community._lock_member(conn, attempt.community_id, caller)
            held = (
                await conn.execute(
                    sa.select(ratings.c.id, ratings.c.value).where(
                        (ratings.c.attempt_id == attempt.id) & (ratings.c.member_id == member_id)
                    )
                )
            ).one_or_none()
            values = {
                "value": value,
                "score": attempt.score,
                "scorer_version": attempt.scorer_version,
                "rated_at": now,
            }
            if held is None:
                await conn.execute(
                    ratings.insert().values(
                        community_id=attempt.community_id, attempt_id=attempt.id, member_id=member_id, own=own, **values
                    )
                )
                return None
            await conn.execute(
                ratings.update().where(ratings.c.id == held.id).values(changes=ratings.c.changes + 1, **values)
            )
            return int(held.value)

    async def read_rating_stats(self, community_id: int) -> RatingStats:
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        ratings.c.attempt_id,
                        ratings.c.value,
                        ratings.c.own,
                        ratings.c.scorer_version,
                        members.c.id,
                        members.c.display_name,
                    )
                    .join(members, members.c.id == ratings.c.member_id)
                    .where(ratings.c.community_id == community_id)
                )
            ).all()
        others = [r for r in rows if not r.own]
        per_rater = Counter(r.id for r in others)
        names = {r.id: r.display_name for r in others}
        return RatingStats(
            ratings=len(others),
            own=len(rows) - len(others),
            raters=len(per_rater),
            attempts=len({r.attempt_id for r in others}),
            by_version=dict(Counter(r.scorer_version for r in others)),
            distribution={v: c for v, c in sorted(Counter(r.value for r in others).items())},
            top_raters=[(names[m], n) for m, n in per_rater.most_common(TOP_RATERS)],
        )

    async def list_ratings(self, community_id: int | None) -> list[RatingRow]:
        """Every rating (of one community, or all), with who rated and whose attempt it was."""
        rater = members.alias("rater")
        dancer = members.alias("dancer")
        query = (
            sa.select(
                ratings.c.attempt_id,
                ratings.c.value,
                ratings.c.own,
                rater.c.platform,
                rater.c.user_id,
                dancer.c.platform.label("dancer_platform"),
                dancer.c.user_id.label("dancer_user"),
            )
            .join(rater, rater.c.id == ratings.c.member_id)
            .join(attempts, attempts.c.id == ratings.c.attempt_id)
            .join(dancer, dancer.c.id == attempts.c.member_id)
            .order_by(ratings.c.id)
        )
        if community_id is not None:
            query = query.where(ratings.c.community_id == community_id)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            RatingRow(
                attempt_id=r.attempt_id,
                rater=f"{r.platform}:{r.user_id}",
                value=float(r.value),
                dancer=f"{r.dancer_platform}:{r.dancer_user}",
                own=bool(r.own),
            )
            for r in rows
        ]

    async def list_stored_attempts(self, community_id: int | None, dance_id: int | None = None) -> list[StoredAttempt]:
        """Attempts with what re-scoring needs (of one community and dance, or all), oldest first."""
        query = sa.select(
            attempts.c.id,
            attempts.c.community_id,
            attempts.c.score,
            attempts.c.scorer_version,
            attempts.c.base_score,
            attempts.c.base_version,
            attempts.c.features,
        ).order_by(attempts.c.id)
        if community_id is not None:
            query = query.where(attempts.c.community_id == community_id)
        if dance_id is not None:
            query = query.where(attempts.c.dance_id == dance_id)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            StoredAttempt(
                id=r.id,
                community_id=r.community_id,
                score=r.score,
                scorer_version=r.scorer_version or "v1",
                base_score=r.base_score,
                base_version=r.base_version,
                features={str(k): float(v) for k, v in (r.features or {}).items() if isinstance(v, int | float)},
            )
            for r in rows
        ]

    # ---- scorer choice ----------------------------------------------------------------------------------

    async def choose_scorer(self, community_id: int, version: str, chosen_by: str, now: datetime) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                scorer_choices.insert().values(
                    community_id=community_id, version=version, chosen_by=chosen_by, chosen_at=now
                )
            )

    async def find_scorer_choice(self, community_id: int) -> ScorerChoice | None:
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(scorer_choices)
                    .where(scorer_choices.c.community_id == community_id)
                    .order_by(scorer_choices.c.id.desc())
                    .limit(1)
                )
            ).one_or_none()
        return None if row is None else ScorerChoice(row.version, row.chosen_by, row.chosen_at)

    async def find_scorer_version(self, community_id: int) -> str | None:
        choice = await self.find_scorer_choice(community_id)
        return choice.version if choice else None

    async def count_versions(self, community_id: int) -> dict[str, int]:
        """How many of the community's attempts each scorer version scored."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                sa.select(attempts.c.scorer_version, sa.func.count())
                .where(attempts.c.community_id == community_id)
                .group_by(attempts.c.scorer_version)
            )
            return {(version or "v1"): int(n) for version, n in rows}

    # ---- re-scoring -------------------------------------------------------------------------------------

    async def rescore_attempts(self, community_id: int, scores: dict[int, float], version: str) -> int:
        """Give the attempts their new scores (made by `version`) and rebuild the community's boards."""
        async with self.db.write() as conn:
            # Hold every member of the community (PostgreSQL) so no attempt is recorded mid-rebuild.
            await conn.execute(
                sa.select(members.c.id)
                .where(members.c.community_id == community_id)
                .order_by(members.c.id)
                .with_for_update()
            )
            if scores:
                await conn.execute(
                    attempts.update()
                    .where(attempts.c.id == sa.bindparam("attempt"))
                    .values(score=sa.bindparam("new_score"), scorer_version=version),
                    [{"attempt": a, "new_score": s} for a, s in scores.items()],
                )
            await _rebuild_bests(conn, community_id)
            await _rebuild_totals(conn, community_id)
        return len(scores)


async def _rebuild_bests(conn: Any, community_id: int) -> None:
    """Recompute the community's `bests` from its attempts, except the boards of closed challenges."""
    closed = {
        format_challenge_key(i)
        for i in (
            await conn.execute(
                sa.select(challenges.c.id).where(
                    (challenges.c.community_id == community_id) & challenges.c.closed_at.is_not(None)
                )
            )
        ).scalars()
    }
    rows = (
        await conn.execute(
            sa.select(
                attempts.c.id,
                attempts.c.dance_id,
                attempts.c.member_id,
                attempts.c.challenge_id,
                attempts.c.score,
                attempts.c.submitted_at,
                attempts.c.scorer_version,
            )
            .join(dances, dances.c.id == attempts.c.dance_id)
            .where((attempts.c.community_id == community_id) & dances.c.removed_at.is_(None))
            .order_by(attempts.c.submitted_at, attempts.c.id)
        )
    ).all()
    best: dict[tuple[int, int, str], Any] = {}
    for r in rows:
        keys = [ALL_TIME, *list_season_keys(r.submitted_at)]
        if r.challenge_id is not None:
            keys.append(format_challenge_key(r.challenge_id))
        for key in keys:
            if key in closed:
                continue
            held = best.get((r.dance_id, r.member_id, key))
            # Oldest first: a later attempt takes over only with a higher score as shown.
            if held is None or board_points(r.score) > board_points(held.score):
                best[(r.dance_id, r.member_id, key)] = r
    await conn.execute(
        bests.delete().where((bests.c.community_id == community_id) & bests.c.period_key.not_in(closed or {""}))
    )
    if best:
        await conn.execute(
            bests.insert(),
            [
                {
                    "community_id": community_id,
                    "dance_id": dance_id,
                    "member_id": member_id,
                    "period_key": key,
                    "score": r.score,
                    "points": board_points(r.score),
                    "achieved_at": r.submitted_at,
                    "attempt_id": r.id,
                    "scorer_version": r.scorer_version,
                }
                for (dance_id, member_id, key), r in best.items()
            ],
        )
    log.debug("rebuilt %d board rows of community %d", len(best), community_id)
