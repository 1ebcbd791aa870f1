"""The community store over SQLAlchemy Core: each method is one transaction (all of it, or none of it).

It implements `bot.core.ports.CommunityStore`; the rules (limits, names, permissions, periods) stay in
`bot.core.service`, which tells the store what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.errors import (
    ChallengeError,
    DanceExistsError,
    DuplicateAttemptError,
    JobRunningError,
    RateLimitedError,
    UnknownDanceError,
    VideoTakenError,
)
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
    Season,
    Standing,
    board_points,
)
from bot.core.ports import AttemptRecord, NewDance
from bot.core.seasons import ALL_TIME, format_challenge_key
from bot.storage.database import Database
from bot.storage.tables import (
    announcements,
    attempts,
    bests,
    bot_state,
    challenges,
    communities,
    dance_names,
    dances,
    jobs,
    members,
    totals,
)

log = logging.getLogger(__name__)

_ATTEMPT_COLUMNS = (
    attempts,
    dances.c.name.label("dance_name"),
    members.c.platform,
    members.c.user_id,
    members.c.display_name,
)
_CHALLENGE_COLUMNS = (challenges, dances.c.name.label("dance_name"))
# Jobs the rate limit counts: running, scored, or analysed and found unscorable. A refused file (`refused`),
# a failure on our side (`aborted`) and a job lost with its process (`expired`, `lost`) are not charged.
CHARGED_STATUSES = ("running", "done", "failed")


class SqlCommunityStore:
    """Community data in SQLite or PostgreSQL through a `Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __repr__(self) -> str:
        return f"SqlCommunityStore({self.db!r})"

    # ---- communities ------------------------------------------------------------------------------------

    async def ensure_community(self, ref: CommunityRef, now: datetime, season: Season) -> Community:
        """The community row for `ref`, created on first use with `season`."""
        async with self.db.write() as conn:
            await conn.execute(
                self.db.insert(communities)
                .values(platform=ref.platform, external_id=ref.external_id, created_at=now, season=season.value)
                .on_conflict_do_nothing(index_elements=["platform", "external_id"])
            )
            row = (await conn.execute(_select_community(ref))).one()
        return _community(row)

    async def find_community(self, ref: CommunityRef) -> Community | None:
        async with self.db.read() as conn:
            row = (await conn.execute(_select_community(ref))).one_or_none()
        return None if row is None else _community(row)

    async def list_communities(self) -> list[Community]:
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(communities).order_by(communities.c.id))).all()
        return [_community(r) for r in rows]

    async def set_season(self, community_id: int, season: Season) -> None:
        async with self.db.write() as conn:
            await conn.execute(communities.update().where(communities.c.id == community_id).values(season=season.value))

    # ---- dances -----------------------------------------------------------------------------------------

    async def list_dance_names(self, community_id: int) -> list[tuple[str, int, str]]:
        """(key, dance id, shown name) for every name and alias of the community's live dances."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                sa.select(dance_names.c.key, dance_names.c.dance_id, dance_names.c.shown)
                .where(dance_names.c.community_id == community_id)
                .order_by(dance_names.c.dance_id, dance_names.c.is_primary.desc(), dance_names.c.key)
            )
            return [(r.key, r.dance_id, r.shown) for r in rows]

    async def list_dances(self, community_id: int) -> list[Dance]:
        async with self.db.read() as conn:
            return await _select_dances(conn, (dances.c.community_id == community_id) & dances.c.removed_at.is_(None))

    async def get_dance(self, dance_id: int) -> Dance | None:
        async with self.db.read() as conn:
            found = await _select_dances(conn, (dances.c.id == dance_id) & dances.c.removed_at.is_(None))
        return found[0] if found else None

    async def add_dance(self, dance: NewDance) -> Dance:
        """Insert a dance with its names; raises DanceExistsError when a name or alias is taken."""
        try:
            async with self.db.write() as conn:
                dance_id = await _insert_id(
                    conn,
                    dances,
                    dict(
                        community_id=dance.community_id,
                        name=dance.name,
                        pose_path=dance.pose_path,
                        reference_video=dance.reference_video,
                        duration_s=dance.duration_s,
                        added_by=dance.added_by,
                        added_by_user=dance.added_by_user,
                        added_at=dance.added_at,
                    ),
                )
                await conn.execute(
                    dance_names.insert(),
                    [
                        dict(
                            community_id=dance.community_id,
                            dance_id=dance_id,
                            key=key,
                            shown=shown,
                            is_primary=i == 0,
                        )
                        for i, (key, shown) in enumerate(dance.names)
                    ],
                )
                return (await _select_dances(conn, dances.c.id == dance_id))[0]
        except IntegrityError as exc:
            raise DanceExistsError(
                f"A dance called “{dance.name}” (or one of its aliases) already exists here."
            ) from exc

    async def rename_dance(self, dance_id: int, name: str, key: str) -> Dance:
        try:
            async with self.db.write() as conn:
                await conn.execute(dances.update().where(dances.c.id == dance_id).values(name=name))
                await conn.execute(
                    dance_names.update()
                    .where((dance_names.c.dance_id == dance_id) & dance_names.c.is_primary)
                    .values(key=key, shown=name)
                )
                return (await _select_dances(conn, dances.c.id == dance_id))[0]
        except IntegrityError as exc:
            raise DanceExistsError(f"The name “{name}” is already taken by another dance here.") from exc

    async def remove_dance(self, dance_id: int, now: datetime) -> None:
        """Retire a dance: its names are freed and it leaves every board; attempts stay in history."""
        async with self.db.write() as conn:
            open_challenge = (
                await conn.execute(
                    sa.select(challenges.c.id).where(
                        (challenges.c.dance_id == dance_id) & challenges.c.closed_at.is_(None)
                    )
                )
            ).first()
            if open_challenge is not None:
                raise ChallengeError("A challenge for this dance is running; end it before removing the dance.")
            community_id = (
                await conn.execute(
                    dances.update()
                    .where(dances.c.id == dance_id)
                    .values(removed_at=now)
                    .returning(dances.c.community_id)
                )
            ).scalar_one()
            # Hold every member of the community (PostgreSQL) so no attempt is recorded mid-rebuild.
            await conn.execute(
                sa.select(members.c.id)
                .where(members.c.community_id == community_id)
                .order_by(members.c.id)  # a fixed order: two removals cannot deadlock
                .with_for_update()
            )
            await conn.execute(dance_names.delete().where(dance_names.c.dance_id == dance_id))
            await conn.execute(bests.delete().where(bests.c.dance_id == dance_id))
            await _rebuild_totals(conn, community_id)

    # ---- jobs (one running per user, rate limit) ---------------------------------------------------------

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
    ) -> int:
        """Claim the user's single job slot; raises JobRunningError or RateLimitedError.

        `owner` is the process running the job and `notice` where its user sees its progress (recovery).
        """
        who = (jobs.c.platform == caller.platform) & (jobs.c.user_id == caller.user_id)
        try:
            async with self.db.write() as conn:
                await conn.execute(
                    jobs.update()
                    .where(who & (jobs.c.status == "running") & (jobs.c.started_at < now - timedelta(seconds=lease_s)))
                    .values(status="expired", finished_at=now)
                )
                running = (await conn.execute(sa.select(jobs.c.id).where(who & (jobs.c.status == "running")))).first()
                if running is not None:
                    raise JobRunningError()
                window_start = now - timedelta(seconds=window_s)
                recent = (
                    (
                        await conn.execute(
                            sa.select(jobs.c.started_at)
                            .where(who & (jobs.c.started_at > window_start) & jobs.c.status.in_(CHARGED_STATUSES))
                            .order_by(jobs.c.started_at.desc())
                            .limit(limit)
                        )
                    )
                    .scalars()
                    .all()
                )
                if limit <= 0 or len(recent) >= limit:
                    oldest = recent[-1] if recent else now
                    retry = (oldest + timedelta(seconds=window_s) - now).total_seconds()
                    raise RateLimitedError(limit, window_s, retry)
                return await _insert_id(
                    conn,
                    jobs,
                    dict(
                        platform=caller.platform,
                        user_id=caller.user_id,
                        community_id=community_id,
                        dance_id=dance_id,
                        status="running",
                        started_at=now,
                        owner_home=owner.home if owner else None,
                        owner_run=owner.run if owner else None,
                        notice=notice,
                    ),
                )
        except IntegrityError as exc:  # a concurrent claim by the same user won the race
            raise JobRunningError() from exc

    async def finish_job(self, job_id: int, status: str, now: datetime) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                jobs.update()
                .where((jobs.c.id == job_id) & (jobs.c.status == "running"))
                .values(status=status, finished_at=now)
            )

    async def expire_lost_jobs(self, owner: JobOwner, now: datetime) -> list[LostJob]:
        """End, as `lost`, the jobs still running for an earlier process of `owner`'s home: it died with them
        (only one process at a time has a home). Returns them, with where each user was told."""
        lost = (jobs.c.status == "running") & (jobs.c.owner_home == owner.home) & (jobs.c.owner_run != owner.run)
        async with self.db.write() as conn:
            rows = (
                await conn.execute(
                    sa.select(jobs, dances.c.name.label("dance_name"))
                    .join(dances, dances.c.id == jobs.c.dance_id)
                    .where(lost)
                    .order_by(jobs.c.id)
                )
            ).all()
            if rows:
                ids = [r.id for r in rows]
                await conn.execute(jobs.update().where(jobs.c.id.in_(ids)).values(status="lost", finished_at=now))
        return [
            LostJob(r.id, r.community_id, r.platform, r.user_id, r.dance_name, dict(r.notice) if r.notice else None)
            for r in rows
        ]

    async def count_jobs_running_before(self, dance_id: int, until: datetime, now: datetime, lease_s: float) -> int:
        """How many live jobs for the dance were submitted before `until` (a challenge waits for them)."""
        async with self.db.read() as conn:
            return (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(jobs)
                    .where(
                        (jobs.c.dance_id == dance_id)
                        & (jobs.c.status == "running")
                        & (jobs.c.started_at < until)
                        & (jobs.c.started_at >= now - timedelta(seconds=lease_s))
                    )
                )
            ).scalar_one()

    # ---- attempts ---------------------------------------------------------------------------------------

    async def list_attempt_media(
        self, *, before: datetime | None = None, dance_id: int | None = None
    ) -> list[tuple[int, str | None, str | None]]:
        """(attempt id, clip path, card path) of attempts that still have a clip or card: submitted before
        `before`, and/or of one dance."""
        where = attempts.c.clip_path.is_not(None) | attempts.c.card_path.is_not(None)
        if before is not None:
            where &= attempts.c.submitted_at < before
        if dance_id is not None:
            where &= attempts.c.dance_id == dance_id
        async with self.db.read() as conn:
            rows = await conn.execute(
                sa.select(attempts.c.id, attempts.c.clip_path, attempts.c.card_path)
                .where(where)
                .order_by(attempts.c.id)
            )
            return [(r.id, r.clip_path, r.card_path) for r in rows]

    async def list_cards(self, attempt_ids: Sequence[int]) -> dict[int, str]:
        """The score cards still kept of these attempts, by attempt id."""
        if not attempt_ids:
            return {}
        async with self.db.read() as conn:
            rows = await conn.execute(
                sa.select(attempts.c.id, attempts.c.card_path).where(
                    attempts.c.id.in_(list(attempt_ids)) & attempts.c.card_path.is_not(None)
                )
            )
            return {r.id: r.card_path for r in rows}

    async def forget_media(self, attempt_ids: Sequence[int]) -> None:
        """Record that these attempts' clips and cards are gone (their scores stay)."""
        if not attempt_ids:
            return
        async with self.db.write() as conn:
            await conn.execute(
                attempts.update().where(attempts.c.id.in_(list(attempt_ids))).values(clip_path=None, card_path=None)
            )

    async def find_attempt(self, dance_id: int, caller: Caller, content_hash: str) -> Attempt | None:
        async with self.db.read() as conn:
            found = await _select_attempts(
                conn,
                (attempts.c.dance_id == dance_id)
                & (members.c.platform == caller.platform)
                & (members.c.user_id == caller.user_id)
                & (attempts.c.content_hash == content_hash),
                limit=1,
            )
        return found[0] if found else None

    async def find_video_owner(self, community_id: int, content_hash: str, caller: Caller) -> tuple[str, str] | None:
        """(display name, dance name) of another member of the community who has this video on a board."""
        async with self.db.read() as conn:
            return await _find_video_owner(conn, community_id, content_hash, caller)

    async def record_attempt(self, record: AttemptRecord) -> tuple[Attempt, Challenge | None, bool]:
        """Store a scored attempt, update every board it counts on and close its job, in one transaction.

        Returns the attempt, the challenge it counted for, and whether it is the user's best on the dance.
        Raises DuplicateAttemptError (same video, same user, same dance), VideoTakenError (another member
        recorded the same video meanwhile) or UnknownDanceError (the dance was removed while the video was
        being analysed).
        """
        try:
            async with self.db.write() as conn:
                return await self._insert_attempt(conn, record)
        except IntegrityError as exc:
            raise DuplicateAttemptError(record.dance_name, record.score) from exc

    async def _insert_attempt(self, conn: AsyncConnection, r: AttemptRecord) -> tuple[Attempt, Challenge | None, bool]:
        live = (
            await conn.execute(
                sa.select(dances.c.id).where((dances.c.id == r.dance_id) & dances.c.removed_at.is_(None))
            )
        ).first()
        if live is None:
            raise UnknownDanceError(r.dance_name)
        member_id = await self._lock_member(conn, r.community_id, r.caller)
        if self.db.dialect == "postgresql":  # one transaction at a time per video, so the check below holds
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _video_lock(r.content_hash)})
        taken = await _find_video_owner(conn, r.community_id, r.content_hash, r.caller)
        if taken is not None:
            raise VideoTakenError(*taken)
        challenge = await _open_challenge_at(conn, r.dance_id, r.submitted_at)
        attempt_id = await _insert_id(
            conn,
            attempts,
            dict(
                community_id=r.community_id,
                dance_id=r.dance_id,
                member_id=member_id,
                challenge_id=challenge.id if challenge else None,
                score=r.score,
                form=r.form,
                timing=r.timing,
                parts=r.parts,
                result=r.result,
                content_hash=r.content_hash,
                clip_path=r.clip_path,
                card_path=r.card_path,
                submitted_at=r.submitted_at,
                recorded_at=r.recorded_at,
                scorer_version=r.scorer_version or r.result.get("scorer_version", "v1"),
                base_score=r.score if r.base_score is None else r.base_score,
                base_version=r.base_version or r.result.get("scorer_version", "v1"),
                features=r.features,
            ),
        )
        keys = [ALL_TIME, *r.season_keys] + ([format_challenge_key(challenge.id)] if challenge else [])
        improved = {key: await self._improve(conn, r, member_id, attempt_id, key) for key in keys}
        if r.job_id is not None:
            await conn.execute(
                jobs.update().where(jobs.c.id == r.job_id).values(status="done", finished_at=r.recorded_at)
            )
        attempt = (await _select_attempts(conn, attempts.c.id == attempt_id, limit=1))[0]
        return attempt, challenge, improved[ALL_TIME]

    async def _lock_member(self, conn: AsyncConnection, community_id: int, caller: Caller) -> int:
        """Upsert the member (latest display name) and lock its row: one member's writes go one at a time."""
        await conn.execute(
            self.db.insert(members)
            .values(
                community_id=community_id,
                platform=caller.platform,
                user_id=caller.user_id,
                display_name=caller.display_name,
            )
            .on_conflict_do_update(
                index_elements=["community_id", "platform", "user_id"],
                set_={"display_name": caller.display_name},
            )
        )
        return (
            await conn.execute(
                sa.select(members.c.id)
                .where(
                    (members.c.community_id == community_id)
                    & (members.c.platform == caller.platform)
                    & (members.c.user_id == caller.user_id)
                )
                .with_for_update()
            )
        ).scalar_one()

    async def _improve(
        self, conn: AsyncConnection, r: AttemptRecord, member_id: int, attempt_id: int, key: str
    ) -> bool:
        """Make this attempt the member's best on one board if it beats the held one; keep the total in step.

        Safe without further locks: only this member's transactions touch these rows, and `_lock_member` has
        locked the member row.
        """
        held = (
            await conn.execute(
                sa.select(bests.c.id, bests.c.score, bests.c.points, bests.c.achieved_at).where(
                    (bests.c.dance_id == r.dance_id) & (bests.c.member_id == member_id) & (bests.c.period_key == key)
                )
            )
        ).one_or_none()
        points = board_points(r.score)
        if held is not None and (points, held.achieved_at) <= (held.points, r.submitted_at):
            return False  # not higher as shown, nor the same shown score reached earlier
        values = {
            "score": r.score,
            "points": points,
            "achieved_at": r.submitted_at,
            "attempt_id": attempt_id,
            "scorer_version": r.scorer_version or r.result.get("scorer_version", "v1"),
        }
        if held is None:
            await conn.execute(
                bests.insert().values(
                    community_id=r.community_id, dance_id=r.dance_id, member_id=member_id, period_key=key, **values
                )
            )
        else:
            await conn.execute(bests.update().where(bests.c.id == held.id).values(**values))
        stmt = self.db.insert(totals).values(
            community_id=r.community_id,
            member_id=member_id,
            period_key=key,
            points=points - (held.points if held else 0),
            dances=1 if held is None else 0,
            reached=r.submitted_at,
        )
        new = stmt.excluded
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["member_id", "period_key"],
                set_={
                    "points": totals.c.points + new.points,
                    "dances": totals.c.dances + new.dances,
                    "reached": sa.case((new.reached > totals.c.reached, new.reached), else_=totals.c.reached),
                },
            )
        )
        return True

    async def list_attempts(self, community_id: int, caller: Caller, limit: int) -> list[Attempt]:
        async with self.db.read() as conn:
            return await _select_attempts(
                conn,
                (attempts.c.community_id == community_id)
                & (members.c.platform == caller.platform)
                & (members.c.user_id == caller.user_id),
                limit=limit,
            )

    # ---- boards -----------------------------------------------------------------------------------------

    async def read_dance_board(self, dance_id: int, period_key: str, limit: int) -> list[LeaderboardEntry]:
        """Best per user on one dance, best first; ties go to the earlier attempt."""
        async with self.db.read() as conn:
            return await _select_dance_board(conn, dance_id, period_key, limit)

    async def read_overall_board(self, community_id: int, period_key: str, limit: int | None) -> list[LeaderboardEntry]:
        """Sum of each user's best per dance, highest first; ties go to whoever reached it first."""
        async with self.db.read() as conn:
            return await _select_overall_board(conn, community_id, period_key, limit)

    async def find_dance_standing(
        self, dance_id: int, period_key: str, caller: Caller
    ) -> tuple[int, int, float] | None:
        """(rank, board size, best score) of the caller on a dance board, or None if not on it."""
        async with self.db.read() as conn:
            mine = (
                await conn.execute(
                    sa.select(bests.c.id, bests.c.points, bests.c.achieved_at)
                    .join(members, members.c.id == bests.c.member_id)
                    .where(
                        (bests.c.dance_id == dance_id)
                        & (bests.c.period_key == period_key)
                        & (members.c.platform == caller.platform)
                        & (members.c.user_id == caller.user_id)
                    )
                )
            ).one_or_none()
            if mine is None:
                return None
            board = (bests.c.dance_id == dance_id) & (bests.c.period_key == period_key)
            ranking = (bests.c.points, bests.c.achieved_at, bests.c.id)
            rank, size = await _rank_on(conn, bests, board, ranking, (mine.points, mine.achieved_at, mine.id))
        return rank, size, mine.points / 1000

    async def list_standings(self, community_id: int, caller: Caller, period_key: str) -> list[Standing]:
        """The caller's rank on every dance board they are on (by dance name), then overall."""
        other = bests.alias("other")
        same_board = (other.c.dance_id == bests.c.dance_id) & (other.c.period_key == bests.c.period_key)
        ahead = _count_ahead(
            other,
            same_board,
            (other.c.points, other.c.achieved_at, other.c.id),
            (bests.c.points, bests.c.achieved_at, bests.c.id),
        )
        me = (
            (members.c.community_id == community_id)
            & (members.c.platform == caller.platform)
            & (members.c.user_id == caller.user_id)
        )
        async with self.db.read() as conn:
            rows = await conn.execute(
                sa.select(
                    dances.c.name,
                    bests.c.points,
                    ahead.label("ahead"),
                    sa.select(sa.func.count()).select_from(other).where(same_board).scalar_subquery().label("size"),
                )
                .join(members, members.c.id == bests.c.member_id)
                .join(dances, dances.c.id == bests.c.dance_id)
                .where(me & (bests.c.period_key == period_key))
                .order_by(dances.c.name)
            )
            result = [Standing(r.name, r.ahead + 1, r.points / 1000, r.size) for r in rows]
            overall = await _find_overall_standing(conn, community_id, caller, period_key)
        return result if overall is None else [*result, overall]

    async def find_overall_standing(self, community_id: int, caller: Caller, period_key: str) -> Standing | None:
        """The caller's rank on the community's overall board for a period (None: not on it)."""
        async with self.db.read() as conn:
            return await _find_overall_standing(conn, community_id, caller, period_key)

    async def list_dance_attempts(self, dance_id: int, caller: Caller, limit: int) -> list[Attempt]:
        """The caller's latest `limit` attempts at one dance, oldest first."""
        async with self.db.read() as conn:
            found = await _select_attempts(
                conn,
                (attempts.c.dance_id == dance_id)
                & (members.c.platform == caller.platform)
                & (members.c.user_id == caller.user_id),
                limit=limit,
            )
        return found[::-1]

    # ---- challenges -------------------------------------------------------------------------------------

    async def start_challenge(
        self,
        community_id: int,
        dance_id: int,
        started_by: str,
        starts_at: datetime,
        ends_at: datetime,
        channel: str | None,
    ) -> Challenge:
        try:
            async with self.db.write() as conn:
                challenge_id = await _insert_id(
                    conn,
                    challenges,
                    dict(
                        community_id=community_id,
                        dance_id=dance_id,
                        started_by=started_by,
                        starts_at=starts_at,
                        ends_at=ends_at,
                        channel=channel,
                    ),
                )
                return (await _select_challenges(conn, challenges.c.id == challenge_id))[0]
        except IntegrityError as exc:
            raise ChallengeError("A challenge for this dance is already running here.") from exc

    async def list_open_challenges(self, community_id: int) -> list[Challenge]:
        async with self.db.read() as conn:
            return await _select_challenges(
                conn, (challenges.c.community_id == community_id) & challenges.c.closed_at.is_(None)
            )

    async def find_latest_challenge(self, community_id: int, dance_id: int | None) -> Challenge | None:
        """The open challenge (of the dance, if given), else the one that started last."""
        where = challenges.c.community_id == community_id
        if dance_id is not None:
            where &= challenges.c.dance_id == dance_id
        async with self.db.read() as conn:
            found = await _select_challenges(
                conn,
                where,
                order=(challenges.c.closed_at.is_(None).desc(), challenges.c.starts_at.desc()),
                limit=1,
            )
        return found[0] if found else None

    async def list_due_challenges(self, now: datetime) -> list[Challenge]:
        """Open challenges (in every community) whose deadline has passed."""
        async with self.db.read() as conn:
            return await _select_challenges(conn, challenges.c.closed_at.is_(None) & (challenges.c.ends_at <= now))

    async def find_next_deadline(self) -> datetime | None:
        async with self.db.read() as conn:
            return (
                await conn.execute(sa.select(sa.func.min(challenges.c.ends_at)).where(challenges.c.closed_at.is_(None)))
            ).scalar_one()

    async def close_challenge(self, challenge_id: int, now: datetime, reason: str, top: int) -> Challenge | None:
        """Close an open challenge and queue its results for announcement, in one transaction.

        Returns None when it was already closed (by another process, or an earlier call): the results
        are queued exactly once.
        """
        async with self.db.write() as conn:
            closed = await conn.execute(
                challenges.update()
                .where((challenges.c.id == challenge_id) & challenges.c.closed_at.is_(None))
                .values(closed_at=now, close_reason=reason)
            )
            if closed.rowcount != 1:
                return None
            challenge = (await _select_challenges(conn, challenges.c.id == challenge_id))[0]
            standings = await _select_dance_board(conn, challenge.dance_id, format_challenge_key(challenge_id), top)
            await conn.execute(
                announcements.insert().values(
                    community_id=challenge.community_id,
                    challenge_id=challenge_id,
                    standings=[_entry_to_json(e) for e in standings],
                    created_at=now,
                )
            )
        log.info("challenge %d closed (%s) with %d on the board", challenge_id, reason, len(standings))
        return challenge

    async def claim_announcements(
        self, platform: str, claimer: str, now: datetime, lease_s: float, limit: int
    ) -> list[Announcement]:
        """Claim undelivered results for `platform`; a claimed one is not handed out again in its lease."""
        free = (
            announcements.c.delivered_at.is_(None)
            & announcements.c.gave_up_at.is_(None)
            & (announcements.c.claimed_until.is_(None) | (announcements.c.claimed_until < now))
        )
        async with self.db.write() as conn:
            ids = (
                (
                    await conn.execute(
                        sa.select(announcements.c.id)
                        .join(communities, communities.c.id == announcements.c.community_id)
                        .where(free & (communities.c.platform == platform))
                        .order_by(announcements.c.id)
                        .limit(limit)
                        .with_for_update(skip_locked=True, of=announcements)
                    )
                )
                .scalars()
                .all()
            )
            if not ids:
                return []
            await conn.execute(
                announcements.update()
                .where(announcements.c.id.in_(ids) & free)
                .values(claimed_by=claimer, claimed_until=now + timedelta(seconds=lease_s))
            )
            rows = (
                await conn.execute(
                    sa.select(announcements, communities.c.platform, communities.c.external_id)
                    .join(communities, communities.c.id == announcements.c.community_id)
                    .where(announcements.c.id.in_(ids) & (announcements.c.claimed_by == claimer))
                    .order_by(announcements.c.id)
                )
            ).all()
            found = {
                c.id: c for c in await _select_challenges(conn, challenges.c.id.in_([r.challenge_id for r in rows]))
            }
        return [
            Announcement(
                id=r.id,
                community=CommunityRef(r.platform, r.external_id),
                challenge=found[r.challenge_id],
                standings=[_entry_from_json(e) for e in r.standings],
            )
            for r in rows
        ]

    async def confirm_announcement(self, announcement_id: int, claimer: str, now: datetime) -> bool:
        """Mark claimed results as posted; False if the claim had lapsed and someone else took it."""
        async with self.db.write() as conn:
            done = await conn.execute(
                announcements.update()
                .where(
                    (announcements.c.id == announcement_id)
                    & (announcements.c.claimed_by == claimer)
                    & announcements.c.delivered_at.is_(None)
                )
                .values(delivered_at=now)
            )
            return done.rowcount == 1

    async def fail_announcement(
        self, announcement_id: int, claimer: str, now: datetime, *, max_tries: int, retry_s: float
    ) -> bool:
        """Count a failed post of claimed results; it is tried again after `retry_s`, and given up for good
        after `max_tries` failures. Returns True when it was given up now."""
        async with self.db.write() as conn:
            row = (
                await conn.execute(
                    sa.select(announcements.c.tries).where(
                        (announcements.c.id == announcement_id)
                        & (announcements.c.claimed_by == claimer)
                        & announcements.c.delivered_at.is_(None)
                    )
                )
            ).one_or_none()
            if row is None:
                return False
            tries = row.tries + 1
            give_up = tries >= max_tries
            await conn.execute(
                announcements.update()
                .where(announcements.c.id == announcement_id)
                .values(
                    tries=tries,
                    claimed_until=now + timedelta(seconds=retry_s),
                    gave_up_at=now if give_up else None,
                )
            )
        return give_up

    # ---- what a bot keeps between runs -----------------------------------------------------------------

    async def read_state(self, key: str) -> str | None:
        async with self.db.read() as conn:
            return (await conn.execute(sa.select(bot_state.c.value).where(bot_state.c.key == key))).scalar_one_or_none()

    async def write_state(self, key: str, value: str, now: datetime) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                self.db.insert(bot_state)
                .values(key=key, value=value, updated_at=now)
                .on_conflict_do_update(index_elements=["key"], set_={"value": value, "updated_at": now})
            )


def _video_lock(content_hash: str) -> int:
    """A PostgreSQL advisory lock key for one video: its hash's first 63 bits."""
    return int(content_hash[:16], 16) >> 1


async def _find_video_owner(
    conn: AsyncConnection, community_id: int, content_hash: str, caller: Caller
) -> tuple[str, str] | None:
    row = (
        await conn.execute(
            sa.select(members.c.display_name, dances.c.name)
            .join(members, members.c.id == attempts.c.member_id)
            .join(dances, dances.c.id == attempts.c.dance_id)
            .where(
                (attempts.c.community_id == community_id)
                & (attempts.c.content_hash == content_hash)
                & dances.c.removed_at.is_(None)
                & ~((members.c.platform == caller.platform) & (members.c.user_id == caller.user_id))
            )
            .order_by(attempts.c.id)
            .limit(1)
        )
    ).first()
    return None if row is None else (row.display_name, row.name)


async def _find_overall_standing(
    conn: AsyncConnection, community_id: int, caller: Caller, period_key: str
) -> Standing | None:
    mine = (
        await conn.execute(
            sa.select(totals.c.points, totals.c.reached, totals.c.member_id)
            .join(members, members.c.id == totals.c.member_id)
            .where(
                (members.c.community_id == community_id)
                & (members.c.platform == caller.platform)
                & (members.c.user_id == caller.user_id)
                & (totals.c.period_key == period_key)
            )
        )
    ).one_or_none()
    if mine is None:
        return None
    board = (totals.c.community_id == community_id) & (totals.c.period_key == period_key)
    ranking = (totals.c.points, totals.c.reached, totals.c.member_id)
    rank, size = await _rank_on(conn, totals, board, ranking, (mine.points, mine.reached, mine.member_id))
    return Standing("overall", rank, mine.points / 1000, size)


async def _rank_on(
    conn: AsyncConnection,
    table: sa.FromClause,
    board: sa.ColumnElement[bool],
    ranking: tuple[sa.ColumnElement[Any], sa.ColumnElement[Any], sa.ColumnElement[Any]],
    mine: tuple[Any, Any, Any],
) -> tuple[int, int]:
    """(rank, board size) of the row whose ranking values are `mine` on a board of `table`."""
    counts = (
        await conn.execute(
            sa.select(
                _count_ahead(table, board, ranking, mine),
                sa.select(sa.func.count()).select_from(table).where(board).scalar_subquery(),
            )
        )
    ).one()
    return int(counts[0]) + 1, int(counts[1])


def _count_ahead(
    table: sa.FromClause,
    board: sa.ColumnElement[bool],
    ranking: tuple[sa.ColumnElement[Any], sa.ColumnElement[Any], sa.ColumnElement[Any]],
    mine: tuple[Any, Any, Any],
) -> sa.ColumnElement[int]:
    """How many rows of a board rank ahead of `mine`, the board ordered by (value DESC, time, id).

    Three counts, one per tie level, so each is a range of the board's index (it stops at the rank
    instead of reading the whole board); `mine` may be values or columns of an outer query.
    """
    (value, time, row_id), (my_value, my_time, my_id) = ranking, mine
    levels = (
        value > my_value,
        (value == my_value) & (time < my_time),
        (value == my_value) & (time == my_time) & (row_id < my_id),
    )
    counts = [sa.select(sa.func.count()).select_from(table).where(board & level).scalar_subquery() for level in levels]
    return counts[0] + counts[1] + counts[2]


async def _insert_id(conn: AsyncConnection, table: sa.Table, values: dict[str, Any]) -> int:
    """Insert one row and return its new id."""
    return (await conn.execute(table.insert().values(**values).returning(table.c.id))).scalar_one()


# ---- queries shared by the methods above -------------------------------------------------------------------


def _select_community(ref: CommunityRef) -> sa.Select[Any]:
    return sa.select(communities).where(
        (communities.c.platform == ref.platform) & (communities.c.external_id == ref.external_id)
    )


def _community(row: sa.Row[Any]) -> Community:
    return Community(row.id, row.platform, row.external_id, Season(row.season))


async def _select_dances(conn: AsyncConnection, where: sa.ColumnElement[bool]) -> list[Dance]:
    rows = (await conn.execute(sa.select(dances).where(where).order_by(dances.c.name))).all()
    aliases: dict[int, list[str]] = {r.id: [] for r in rows}
    if rows:
        names = await conn.execute(
            sa.select(dance_names.c.dance_id, dance_names.c.shown)
            .where(dance_names.c.dance_id.in_(list(aliases)) & ~dance_names.c.is_primary)
            .order_by(dance_names.c.shown)
        )
        for n in names:
            aliases[n.dance_id].append(n.shown)
    return [
        Dance(
            id=r.id,
            community_id=r.community_id,
            name=r.name,
            aliases=tuple(aliases[r.id]),
            pose_path=r.pose_path,
            reference_video=r.reference_video,
            duration_s=r.duration_s,
            added_by=r.added_by,
            added_by_user=r.added_by_user,
            added_at=r.added_at,
        )
        for r in rows
    ]


async def _select_attempts(conn: AsyncConnection, where: sa.ColumnElement[bool], limit: int) -> list[Attempt]:
    rows = await conn.execute(
        sa.select(*_ATTEMPT_COLUMNS)
        .join(members, members.c.id == attempts.c.member_id)
        .join(dances, dances.c.id == attempts.c.dance_id)
        .where(where)
        .order_by(attempts.c.submitted_at.desc(), attempts.c.id.desc())
        .limit(limit)
    )
    return [
        Attempt(
            id=r.id,
            community_id=r.community_id,
            dance_id=r.dance_id,
            dance_name=r.dance_name,
            platform=r.platform,
            user_id=r.user_id,
            display_name=r.display_name,
            score=r.score,
            form=r.form,
            timing=r.timing,
            parts=dict(r.parts),
            submitted_at=r.submitted_at,
            challenge_id=r.challenge_id,
            clip_path=r.clip_path,
            card_path=r.card_path,
            content_hash=r.content_hash,
            scorer_version=r.scorer_version or "v1",
        )
        for r in rows
    ]


async def _select_challenges(
    conn: AsyncConnection,
    where: sa.ColumnElement[bool],
    order: Sequence[sa.ColumnElement[Any]] = (challenges.c.ends_at,),
    limit: int | None = None,
) -> list[Challenge]:
    query = sa.select(*_CHALLENGE_COLUMNS).join(dances, dances.c.id == challenges.c.dance_id).where(where)
    rows = await conn.execute(query.order_by(*order, challenges.c.id).limit(limit))
    return [
        Challenge(
            id=r.id,
            community_id=r.community_id,
            dance_id=r.dance_id,
            dance_name=r.dance_name,
            started_by=r.started_by,
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            closed_at=r.closed_at,
            close_reason=r.close_reason,
            channel=r.channel,
        )
        for r in rows
    ]


async def _open_challenge_at(conn: AsyncConnection, dance_id: int, at: datetime) -> Challenge | None:
    """The dance's open challenge whose window holds `at`, share-locked so it cannot close under us."""
    row = (
        await conn.execute(
            sa.select(challenges.c.id)
            .where(
                (challenges.c.dance_id == dance_id)
                & challenges.c.closed_at.is_(None)
                & (challenges.c.starts_at <= at)
                & (challenges.c.ends_at > at)
            )
            .with_for_update(read=True)
        )
    ).first()
    if row is None:
        return None
    return (await _select_challenges(conn, challenges.c.id == row.id))[0]


async def _select_dance_board(
    conn: AsyncConnection, dance_id: int, period_key: str, limit: int
) -> list[LeaderboardEntry]:
    rows = await conn.execute(
        sa.select(
            bests.c.points,
            bests.c.achieved_at,
            bests.c.attempt_id,
            members.c.platform,
            members.c.user_id,
            members.c.display_name,
            bests.c.scorer_version,
        )
        .join(members, members.c.id == bests.c.member_id)
        .where((bests.c.dance_id == dance_id) & (bests.c.period_key == period_key))
        .order_by(bests.c.points.desc(), bests.c.achieved_at, bests.c.id)
        .limit(limit)
    )
    return [
        LeaderboardEntry(
            i,
            r.platform,
            r.user_id,
            r.display_name,
            r.points / 1000,
            r.achieved_at,
            scorer_version=r.scorer_version or "v1",
            attempt_id=r.attempt_id,
        )
        for i, r in enumerate(rows, start=1)
    ]


async def _select_overall_board(
    conn: AsyncConnection, community_id: int, period_key: str, limit: int | None
) -> list[LeaderboardEntry]:
    def version(pick: Any) -> sa.ScalarSelect[Any]:
        """The first or last scorer version among the member's bests that make up the total."""
        return (
            sa.select(pick(bests.c.scorer_version))
            .where((bests.c.member_id == totals.c.member_id) & (bests.c.period_key == period_key))
            .scalar_subquery()
        )

    rows = await conn.execute(
        sa.select(
            totals,
            members.c.platform,
            members.c.user_id,
            members.c.display_name,
            version(sa.func.min).label("first_version"),
            version(sa.func.max).label("last_version"),
        )
        .join(members, members.c.id == totals.c.member_id)
        .where((totals.c.community_id == community_id) & (totals.c.period_key == period_key))
        .order_by(totals.c.points.desc(), totals.c.reached, totals.c.member_id)
        .limit(limit)
    )
    return [
        LeaderboardEntry(
            i,
            r.platform,
            r.user_id,
            r.display_name,
            r.points / 1000,
            r.reached,
            r.dances,
            scorer_version=(r.first_version or "v1") if r.first_version == r.last_version else "mixed",
        )
        for i, r in enumerate(rows, start=1)
    ]


async def _rebuild_totals(conn: AsyncConnection, community_id: int) -> None:
    """Recompute a community's totals from its bests (after a dance leaves the boards)."""
    await conn.execute(totals.delete().where(totals.c.community_id == community_id))
    summed = (
        sa.select(
            bests.c.community_id,
            bests.c.member_id,
            bests.c.period_key,
            sa.func.sum(bests.c.points),
            sa.func.count(),
            sa.func.max(bests.c.achieved_at),
        )
        .where(bests.c.community_id == community_id)
        .group_by(bests.c.community_id, bests.c.member_id, bests.c.period_key)
    )
    await conn.execute(
        totals.insert().from_select(["community_id", "member_id", "period_key", "points", "dances", "reached"], summed)
    )


def _entry_to_json(entry: LeaderboardEntry) -> dict[str, Any]:
    return {
        "rank": entry.rank,
        "platform": entry.platform,
        "user_id": entry.user_id,
        "display_name": entry.display_name,
        "score": entry.score,
        "achieved_at": entry.achieved_at.isoformat(),
        "dances": entry.dances,
        "scorer_version": entry.scorer_version,
        "attempt_id": entry.attempt_id,
    }


def _entry_from_json(data: dict[str, Any]) -> LeaderboardEntry:
    return LeaderboardEntry(
        rank=int(data["rank"]),
        platform=str(data["platform"]),
        user_id=str(data["user_id"]),
        display_name=str(data["display_name"]),
        score=float(data["score"]),
        achieved_at=datetime.fromisoformat(data["achieved_at"]),
        dances=int(data["dances"]),
        scorer_version=data.get("scorer_version"),
        attempt_id=data.get("attempt_id"),
    )
