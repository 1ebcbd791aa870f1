"""The community service: every command of both bots (and the moderator CLI) is one method here.

Platform-free: callers pass a `Caller` (who, and whether the platform says they moderate) and a
`CommunityRef` (which server or chat). Refusals are `CoreError`s whose `str()` is the reply to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import shutil
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core.errors import (
    ChallengeError,
    CoreError,
    DanceExistsError,
    DuplicateAttemptError,
    InvalidInputError,
    NotModeratorError,
    NotOwnerError,
    StorageError,
    StorageUnavailableError,
    TooBusyError,
    UnknownDanceError,
    VideoTakenError,
    describe_seconds,
)
from bot.core.models import (
    Announcement,
    Attempt,
    Caller,
    Challenge,
    ChallengeStatus,
    Community,
    CommunityRef,
    Dance,
    DanceHistory,
    JobOwner,
    Leaderboard,
    Limits,
    LostJob,
    Period,
    Profile,
    ScoredAttempt,
    Season,
    Standing,
)
from bot.core.names import clean_name, match_name, normalise_name
from bot.core.pending import PendingAttempts
from bot.core.ports import AttemptRecord, Clock, CommunityStore, DanceEngine, EngineLoad, NewDance, Progress
from bot.core.scorers import stored_features
from bot.core.seasons import ALL_TIME, find_current_season, format_challenge_key, list_season_keys
from engine.errors import EngineError, Refusal, VideoError

if TYPE_CHECKING:
    from bot.core.ratings import RatingService

log = logging.getLogger(__name__)

MIN_CHALLENGE = timedelta(minutes=1)
ANNOUNCE_TRIES = 5  # failed posts of a challenge's results before the bot gives up on them
ANNOUNCE_RETRY_S = 60.0  # how long after a failed post it is tried again
MAX_CHALLENGE = timedelta(days=90)


class CommunityService:
    """Dances, attempts, leaderboards and challenges for every community, over a store and an engine."""

    def __init__(
        self,
        store: CommunityStore,
        engine: DanceEngine,
        clock: Clock,
        *,
        media_dir: Path,
        limits: Limits | None = None,
        default_season: Season = Season.MONTHLY,
        board_size: int = 10,
        announce_lease_s: float = 300.0,
        owner: JobOwner | None = None,
        pending: PendingAttempts | None = None,
        save_retry_s: float = 60.0,
        ratings: RatingService | None = None,
    ) -> None:
        """`owner` is this process (its jobs are recovered after a crash); `pending` keeps scored attempts
        the database could not take within `save_retry_s` of retries (default: beside the media);
        `ratings`: members' ratings and the scorer version each community chose (its calibration gives new
        attempts their score; without it every attempt keeps the engine's own score)."""
        self.store = store
        self.ratings = ratings
        self.engine = engine
        self.clock = clock
        self.media_dir = Path(media_dir)
        self.limits = limits or Limits()
        self.default_season = default_season
        self.board_size = board_size
        self.announce_lease_s = announce_lease_s
        self.owner = owner
        self.pending = pending or PendingAttempts(self.media_dir / "pending")
        self.save_retry_s = save_retry_s
        self._unfinished: dict[int, str] = {}  # failed jobs the database could not be told about yet

    # ---- dances -------------------------------------------------------------------------------------------

    async def add_dance(
        self,
        caller: Caller,
        where: CommunityRef,
        name: str,
        video: Path,
        *,
        aliases: tuple[str, ...] | list[str] = (),
        progress: Progress | None = None,
    ) -> Dance:
        """Register a reference dance (moderators only): the video is analysed once and its poses kept.

        Raises NotModeratorError, InvalidInputError (bad name), DanceExistsError, TooLargeError, or the
        engine's error (`VideoError`: not a video, too long; `NoDancerError`...). Nothing is stored unless all
        of it succeeds.
        """
        self._require_moderator(caller, "register dances")
        shown = [clean_name(n) for n in (name, *aliases)]
        keys = [normalise_name(n) for n in shown]
        if len(set(keys)) != len(keys):
            raise InvalidInputError("The name and aliases must all be different.")
        community = await self._community(where)
        taken = {key for key, _, _ in await self.store.list_dance_names(community.id)}
        clash = [s for s, k in zip(shown, keys, strict=True) if k in taken]
        if clash:
            raise DanceExistsError(f"A dance called “{clash[0]}” already exists here; pick another name.")
        await self._check_video(video)
        folder = self.media_dir / "references" / str(community.id)
        stem = uuid.uuid4().hex
        pose_path = folder / f"{stem}.npz"
        kept_video = folder / f"{stem}{Path(video).suffix.lower() or '.mp4'}"
        try:
            reference = await self.engine.analyse_reference(Path(video), pose_path, progress)
            await asyncio.to_thread(shutil.copyfile, video, kept_video)
            dance = await self.store.add_dance(
                NewDance(
                    community_id=community.id,
                    name=shown[0],
                    names=list(zip(keys, shown, strict=True)),
                    pose_path=str(reference.pose_path),
                    reference_video=str(kept_video),
                    duration_s=reference.duration_s,
                    added_by=caller.display_name,
                    added_by_user=f"{caller.platform}:{caller.user_id}",
                    added_at=self.clock.now(),
                )
            )
        except BaseException:
            pose_path.unlink(missing_ok=True)
            kept_video.unlink(missing_ok=True)
            raise
        log.info("dance %r registered in %s by %s", dance.name, where, caller.platform)
        return dance

    async def rename_dance(self, caller: Caller, where: CommunityRef, name: str, new_name: str) -> Dance:
        """Give a dance a new name (moderators only); its boards and history follow it."""
        self._require_moderator(caller, "rename dances")
        shown = clean_name(new_name)
        dance = await self.find_dance(where, name)
        return await self.store.rename_dance(dance.id, shown, normalise_name(shown))

    async def remove_dance(self, caller: Caller, where: CommunityRef, name: str) -> Dance:
        """Retire a dance (moderators only): it leaves the list and the boards; past attempts stay in /me.

        The videos kept for it go too: the reference video and its attempts' clips and cards.
        """
        self._require_moderator(caller, "remove dances")
        dance = await self.find_dance(where, name)
        await self.store.remove_dance(dance.id, self.clock.now())
        removed = await self._delete_media(await self.store.list_attempt_media(dance_id=dance.id))
        if dance.reference_video:
            Path(dance.reference_video).unlink(missing_ok=True)
        log.info("dance %r removed in %s with %d clip(s) and card(s)", dance.name, where, removed)
        return dance

    async def list_dances(self, where: CommunityRef) -> list[Dance]:
        """The community's dances, by name."""
        community = await self.store.find_community(where)
        return [] if community is None else await self.store.list_dances(community.id)

    async def find_dance(self, where: CommunityRef, name: str) -> Dance:
        """The dance called `name` (or an alias), tolerating case, spaces and small typos.

        Raises UnknownDanceError with up to three close names when there is no clear match.
        """
        community = await self.store.find_community(where)
        if community is None:
            raise UnknownDanceError(name)
        return await self._resolve(community, name)

    async def suggest_dances(self, where: CommunityRef, typed: str, limit: int = 25) -> list[str]:
        """Dance names for autocompletion: names containing what was typed first, then close ones."""
        community = await self.store.find_community(where)
        if community is None:
            return []
        names = await self.store.list_dance_names(community.id)
        key = normalise_name(typed)
        primary: dict[int, str] = {}
        for _, dance_id, shown in names:
            primary.setdefault(dance_id, shown)  # the store lists the primary name first
        hits = [primary[d] for k, d, _ in names if key in k]
        hits += list(match_name(typed, names, max_suggestions=limit).suggestions)
        return list(dict.fromkeys(hits))[:limit]

    async def list_communities(self) -> list[Community]:
        """Every community that has used the bot (for the moderator CLI)."""
        return await self.store.list_communities()

    async def set_season(self, caller: Caller, where: CommunityRef, season: Season | str) -> Community:
        """Choose how this community's seasonal board is cut: monthly, weekly or none (moderators only)."""
        self._require_moderator(caller, "change the season length")
        try:
            chosen = Season(season)
        except ValueError as exc:
            raise InvalidInputError("The season can be monthly, weekly or none.") from exc
        community = await self._community(where)
        await self.store.set_season(community.id, chosen)
        return replace(community, season=chosen)

    # ---- attempts -----------------------------------------------------------------------------------------

    async def submit_attempt(
        self,
        caller: Caller,
        where: CommunityRef,
        dance_name: str,
        video: Path,
        *,
        progress: Progress | None = None,
        notice: dict[str, Any] | None = None,
        requested_by: Caller | None = None,
        finish_within_s: float | None = None,
        clip_budget_bytes: int | None = None,
    ) -> ScoredAttempt:
        """Score `caller`'s attempt at a dance and put it on the boards; `caller` is who posted the video.

        `requested_by` is who asked, when not the poster: only a moderator may score someone else's video,
        and it is credited to the poster (NotOwnerError otherwise).
        Every limit is checked before the heavy work, cheapest first: who may score it, unknown dance, file
        size, duplicate video (content hash: the same user's again, or another member's: VideoTakenError),
        one running job per user, the rate limit; then the engine checks the file
        itself (not a video, too long: a `VideoError`) before it analyses anything. Raises the matching
        CoreError or EngineError. Only analyses that failed on the video itself (no dancer) count towards
        the rate limit as well as scored ones: a refused file does not, nor does a failure on our side.

        A finished analysis is never thrown away: if the database does not answer, recording is retried
        with backoff, then the attempt waits in `pending` (`saved` is False) until `save_pending` runs.
        `notice` is where the user sees this job's progress (a chat message), for crash recovery.
        `finish_within_s`: the time the platform leaves to answer; a job the engine expects to wait and run
        for longer is refused at once (TooBusyError). The clip is rendered to fit `clip_budget_bytes`.
        """
        check_owner(caller, requested_by)
        community = await self._community(where)
        dance = await self._resolve(community, dance_name)
        video = Path(video)
        await self._check_video(video)
        content_hash = await asyncio.to_thread(hash_file, video)
        earlier = await self.store.find_attempt(dance.id, caller, content_hash)
        if earlier is not None:
            raise DuplicateAttemptError(dance.name, earlier.score)
        taken = await self.store.find_video_owner(community.id, content_hash, caller)
        if taken is not None:
            raise VideoTakenError(*taken)
        self._admit(finish_within_s)
        # The community's scorer version, read now: nothing after the analysis may need the database.
        finish = await self.ratings.prepare_finish(community.id) if self.ratings else None
        submitted_at = self.clock.now()
        limits = self.limits
        job_id = await self.store.start_job(
            caller,
            community.id,
            dance.id,
            submitted_at,
            limit=limits.rate_limit,
            window_s=limits.rate_window_s,
            lease_s=limits.job_lease_s,
            owner=self.owner,
            notice=notice,
        )
        folder = self.media_dir / "attempts" / str(community.id)
        folder.mkdir(parents=True, exist_ok=True)
        clip_path, card_path = folder / f"{job_id}-clip.mp4", folder / f"{job_id}-card.png"
        try:
            base = await self.engine.score(
                dance,
                video,
                clip_path=clip_path,
                card_path=card_path,
                progress=progress,
                clip_budget_bytes=clip_budget_bytes,
            )
            result = finish(base) if finish else base
            record = AttemptRecord(
                job_id=job_id,
                community_id=community.id,
                dance_id=dance.id,
                dance_name=dance.name,
                caller=caller,
                score=float(result.score),
                form=float(result.form),
                timing=float(result.timing),
                parts={k: float(v) for k, v in result.parts.items()},
                result=simplify_json(result.to_dict()),
                content_hash=content_hash,
                clip_path=result.clip_path,
                card_path=result.card_path,
                submitted_at=submitted_at,
                recorded_at=self.clock.now(),
                season_keys=list_season_keys(submitted_at),
                scorer_version=result.scorer_version,
                base_score=float(base.score),
                base_version=base.scorer_version,
                features=stored_features(base.features),
            )
            recorded = await self._record(record)
        except BaseException as error:
            await self._finish_job(job_id, job_outcome(error))
            clip_path.unlink(missing_ok=True)
            card_path.unlink(missing_ok=True)
            raise
        if recorded is None:  # kept in `pending`: the user has the score now, the boards get it later
            attempt = _unsaved_attempt(record)
            standing = Standing(dance.name, 0, record.score, 0)
            return ScoredAttempt(attempt, result, False, standing, notes=list(result.notes), saved=False)
        attempt, challenge, personal_best = recorded
        standing = await self._find_own_standing(dance, ALL_TIME, caller)
        challenge_standing = (
            await self._find_own_standing(dance, format_challenge_key(challenge.id), caller) if challenge else None
        )
        log.info("attempt %d scored %.1f on %r in %s", attempt.id, attempt.score, dance.name, where)
        return ScoredAttempt(
            attempt=attempt,
            result=result,
            personal_best=personal_best,
            standing=standing,
            challenge=challenge,
            challenge_standing=challenge_standing,
            notes=list(result.notes),
        )

    async def _record(self, record: AttemptRecord) -> tuple[Attempt, Challenge | None, bool] | None:
        """Record a scored attempt, retrying with backoff while the database does not answer; after
        `save_retry_s` the record is kept in `pending` and None is returned."""
        deadline = time.monotonic() + self.save_retry_s
        delay = 0.25
        retried = False
        while True:
            try:
                return await self.store.record_attempt(record)
            except StorageUnavailableError as error:
                if time.monotonic() + delay > deadline:
                    path = self.pending.put(record)
                    log.error(
                        "attempt of job %d kept in %s: the database is unavailable (%s)", record.job_id, path, error
                    )
                    return None
                log.warning("recording job %d failed (%s); retrying in %.1f s", record.job_id, error, delay)
            except DuplicateAttemptError:
                earlier = await self.store.find_attempt(record.dance_id, record.caller, record.content_hash)
                if not retried or earlier is None:
                    raise
                return earlier, None, False  # an earlier try was committed; its answer was lost
            await asyncio.sleep(delay)
            delay = min(delay * 2, 8.0)
            retried = True

    async def _finish_job(self, job_id: int, status: str) -> None:
        """End a job that failed; if the database is down too, `save_pending` ends it once it is back (the
        user must not wait out the job's lease for our outage)."""
        try:
            await self.store.finish_job(job_id, status, self.clock.now())
            self._unfinished.pop(job_id, None)
        except StorageError as error:
            log.error("job %d could not be marked %s yet (%s)", job_id, status, error)
            self._unfinished[job_id] = status

    async def save_pending(self) -> int:
        """Record the attempts that waited for the database, and end the failed jobs it could not be told
        about; returns how many attempts were recorded now."""
        for job_id, status in list(self._unfinished.items()):
            await self._finish_job(job_id, status)
        saved = 0
        for path, record in self.pending.items():
            try:
                await self.store.record_attempt(record)
            except StorageError as error:
                log.warning("pending attempts wait: %s", error)
                break
            except CoreError as refusal:  # the dance was removed meanwhile, or it was recorded already
                log.warning("pending attempt of job %s dropped: %s", record.job_id, refusal)
                if record.job_id is not None:
                    await self._finish_job(record.job_id, "aborted")
            path.unlink(missing_ok=True)
            saved += 1
        return saved

    # ---- crash recovery and retention ----------------------------------------------------------------

    async def recover_lost_jobs(self) -> list[LostJob]:
        """End the jobs an earlier process of this home was running when it died (they will never finish),
        remove what they had rendered, and return them so their users can be told to send the video again.
        None of them counts against its user."""
        if self.owner is None:
            return []
        lost = await self.store.expire_lost_jobs(self.owner, self.clock.now())
        for job in lost:
            folder = self.media_dir / "attempts" / str(job.community_id)
            for name in (f"{job.id}-clip.mp4", f"{job.id}-card.png"):
                (folder / name).unlink(missing_ok=True)
        if lost:
            log.warning("%d job(s) died with the previous process; their users will be told", len(lost))
        return lost

    async def prune_media(self, keep_days: float) -> int:
        """Delete the clips and cards of attempts older than `keep_days` (they hold users' whole videos);
        the scores stay. Returns how many files were deleted."""
        before = self.clock.now() - timedelta(days=keep_days)
        return await self._delete_media(await self.store.list_attempt_media(before=before))

    async def _delete_media(self, media: list[tuple[int, str | None, str | None]]) -> int:
        deleted = 0
        for _, *paths in media:
            for path in paths:
                if path and Path(path).is_file():
                    Path(path).unlink()
                    deleted += 1
        await self.store.forget_media([attempt_id for attempt_id, _, _ in media])
        return deleted

    # ---- boards -------------------------------------------------------------------------------------------

    async def show_leaderboard(
        self,
        where: CommunityRef,
        dance_name: str | None = None,
        period: Period | str = Period.ALL,
        *,
        limit: int | None = None,
        viewer: Caller | None = None,
    ) -> Leaderboard:
        """The board of one dance (best per user) or overall (sum of bests), for a period, ranked on the
        scores as shown (one decimal; ties go to whoever got there first), with `viewer`'s own rank.

        `season` is this community's current season (all time where it has none); `challenge` is the
        running challenge (of that dance, if named), else the last one that ran.
        """
        try:
            chosen = Period(period)
        except ValueError as exc:
            raise InvalidInputError("The period can be all, season or challenge.") from exc
        limit = min(max(1, limit or self.board_size), 100)
        community = await self.store.find_community(where)
        if community is None:
            if dance_name:
                raise UnknownDanceError(dance_name)
            return Leaderboard(where, None, chosen, "all time" if chosen is Period.ALL else str(chosen), [])
        dance = await self._resolve(community, dance_name) if dance_name else None
        challenge = None
        if chosen is Period.CHALLENGE:
            challenge = await self.store.find_latest_challenge(community.id, dance.id if dance else None)
            if challenge is None:
                about = f" for “{dance.name}”" if dance else ""
                raise ChallengeError(f"No challenge has run here{about} yet.")
            dance = await self.store.get_dance(challenge.dance_id)
            key = format_challenge_key(challenge.id)
            label = f"challenge #{challenge.id} ({challenge.dance_name})"
        elif chosen is Period.SEASON:
            key, label = find_current_season(community.season, self.clock.now())
        else:
            key, label = ALL_TIME, "all time"
        mine = None
        if dance is not None:
            entries = await self.store.read_dance_board(dance.id, key, limit)
            if viewer is not None:
                mine = await self._find_standing(dance, key, viewer, missing=None)
        else:
            entries = await self.store.read_overall_board(community.id, key, limit)
            if viewer is not None:
                mine = await self.store.find_overall_standing(community.id, viewer, key)
        return Leaderboard(where, dance.name if dance else None, chosen, label, entries, challenge, mine)

    async def show_profile(self, caller: Caller, where: CommunityRef, *, limit: int = 10) -> Profile:
        """The caller's recent attempts here and their all-time rank on each board they are on."""
        community = await self.store.find_community(where)
        if community is None:
            return Profile(caller, [], [])
        attempts = await self.store.list_attempts(community.id, caller, limit)
        standings = await self.store.list_standings(community.id, caller, ALL_TIME)
        return Profile(caller, attempts, standings)

    async def show_history(
        self, caller: Caller, where: CommunityRef, dance_name: str, *, limit: int = 60
    ) -> DanceHistory:
        """The caller's attempts at one dance (the latest `limit`, oldest first) and their rank on it."""
        community = await self.store.find_community(where)
        if community is None:
            raise UnknownDanceError(dance_name)
        dance = await self._resolve(community, dance_name)
        attempts = await self.store.list_dance_attempts(dance.id, caller, limit)
        standing = await self._find_standing(dance, ALL_TIME, caller, missing=None) if attempts else None
        return DanceHistory(caller, dance.name, attempts, standing)

    # ---- challenges ---------------------------------------------------------------------------------------

    async def start_challenge(
        self,
        caller: Caller,
        where: CommunityRef,
        dance_name: str,
        duration: timedelta,
        *,
        channel: str | None = None,
    ) -> Challenge:
        """Open a challenge on a dance until now + `duration` (moderators only; one per dance at a time).

        `channel` is where the bots will post the results when it closes.
        """
        self._require_moderator(caller, "run challenges")
        if not MIN_CHALLENGE <= duration <= MAX_CHALLENGE:
            raise InvalidInputError(
                f"A challenge can last from {describe_seconds(MIN_CHALLENGE.total_seconds())} "
                f"to {describe_seconds(MAX_CHALLENGE.total_seconds())}."
            )
        community = await self._community(where)
        dance = await self._resolve(community, dance_name)
        for running in await self.store.list_open_challenges(community.id):
            if running.dance_id == dance.id:
                left = self._describe_time_left(running)
                raise ChallengeError(f"A challenge for “{dance.name}” is already running; it ends in {left}.")
        now = self.clock.now()
        challenge = await self.store.start_challenge(
            community.id, dance.id, caller.display_name, now, now + duration, channel
        )
        log.info("challenge %d on %r started in %s", challenge.id, dance.name, where)
        return challenge

    async def show_challenges(self, where: CommunityRef, dance_name: str | None = None) -> list[ChallengeStatus]:
        """The running challenges (of one dance, if named) with their current standings."""
        community = await self.store.find_community(where)
        if community is None:
            return []
        dance = await self._resolve(community, dance_name) if dance_name else None
        now = self.clock.now()
        statuses = []
        for challenge in await self.store.list_open_challenges(community.id):
            if dance is None or challenge.dance_id == dance.id:
                standings = await self.store.read_dance_board(
                    challenge.dance_id, format_challenge_key(challenge.id), self.board_size
                )
                left = max(0.0, (challenge.ends_at - now).total_seconds())
                statuses.append(ChallengeStatus(challenge, standings, left))
        return statuses

    async def end_challenge(self, caller: Caller, where: CommunityRef, dance_name: str | None = None) -> Challenge:
        """End a running challenge now (moderators only); its results are queued for announcement."""
        self._require_moderator(caller, "run challenges")
        community = await self._community(where)
        running = await self.store.list_open_challenges(community.id)
        if dance_name:
            dance = await self._resolve(community, dance_name)
            running = [c for c in running if c.dance_id == dance.id]
        if not running:
            raise ChallengeError(
                "No challenge is running here." if not dance_name else "That dance has no challenge running."
            )
        if len(running) > 1:
            names = ", ".join(f"“{c.dance_name}”" for c in running)
            raise ChallengeError(f"Several challenges are running ({names}); say which dance to end.")
        closed = await self.store.close_challenge(running[0].id, self.clock.now(), "ended early", self.board_size)
        if closed is None:
            raise ChallengeError("That challenge has just closed.")
        return closed

    async def close_due_challenges(self) -> list[Challenge]:
        """Close every challenge whose deadline has passed, in all communities, and queue its results.

        Call it on start (it catches deadlines that passed while the process was down) and then
        regularly (`run_challenge_clock`). A challenge waits for attempts submitted before its deadline
        that are still being scored, at most one job lease; safe to run in several processes at once.
        """
        now = self.clock.now()
        closed = []
        for challenge in await self.store.list_due_challenges(now):
            overdue = now - challenge.ends_at > timedelta(seconds=self.limits.job_lease_s)
            waiting = await self.store.count_jobs_running_before(
                challenge.dance_id, challenge.ends_at, now, self.limits.job_lease_s
            )
            if waiting and not overdue:
                log.info("challenge %d waits for %d attempt(s) still being scored", challenge.id, waiting)
                continue
            done = await self.store.close_challenge(challenge.id, now, "deadline", self.board_size)
            if done is not None:
                closed.append(done)
        return closed

    async def run_challenge_clock(self, stop: asyncio.Event, *, poll_s: float = 30.0) -> None:
        """Close challenges at their deadlines until `stop` is set (sleeps until the next deadline)."""
        while not stop.is_set():
            try:
                await self.close_due_challenges()
                deadline = await self.store.find_next_deadline()
            except Exception:
                log.exception("closing due challenges failed; retrying in %.0f s", poll_s)
                deadline = None
            wait = poll_s
            if deadline is not None:
                wait = min(poll_s, max(0.5, (deadline - self.clock.now()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    async def claim_announcements(self, platform: str, claimer: str, *, limit: int = 10) -> list[Announcement]:
        """Closed challenges' results for a bot of `platform` to post; confirm each once posted.

        A claim holds for `announce_lease_s`: if the claimer dies before confirming, another takes it
        over after that; one that confirms is never handed out again.
        """
        return await self.store.claim_announcements(platform, claimer, self.clock.now(), self.announce_lease_s, limit)

    async def confirm_announcement(self, announcement: Announcement | int, claimer: str) -> bool:
        """Record that the results were posted; False when the claim had lapsed and passed to another."""
        announcement_id = announcement if isinstance(announcement, int) else announcement.id
        return await self.store.confirm_announcement(announcement_id, claimer, self.clock.now())

    async def fail_announcement(self, announcement: Announcement, claimer: str, error: BaseException) -> bool:
        """Record that posting the results failed (e.g. the bot may not write in that channel any more):
        tried again after `ANNOUNCE_RETRY_S`, given up (and logged) after `ANNOUNCE_TRIES` failures.
        Returns True when it was given up now."""
        gave_up = await self.store.fail_announcement(
            announcement.id, claimer, self.clock.now(), max_tries=ANNOUNCE_TRIES, retry_s=ANNOUNCE_RETRY_S
        )
        where = f"challenge #{announcement.challenge.id} in {announcement.community}"
        if gave_up:
            log.error("gave up posting the results of %s after %d failures: %s", where, ANNOUNCE_TRIES, error)
        else:
            log.warning("posting the results of %s failed (%s); trying again later", where, error)
        return gave_up

    async def find_winner_cards(self, announcement: Announcement, top: int = 3) -> list[Path]:
        """The score cards of a closed challenge's first `top` (those still kept), in rank order."""
        ids = [e.attempt_id for e in announcement.standings[:top] if e.attempt_id is not None]
        cards = await self.store.list_cards(ids)
        return [Path(cards[i]) for i in ids if i in cards and Path(cards[i]).is_file()]

    async def recall(self, key: str) -> str | None:
        """A small fact a bot kept between runs (None: never kept)."""
        return await self.store.read_state(key)

    async def remember(self, key: str, value: str) -> None:
        await self.store.write_state(key, value, self.clock.now())

    # ---- internals ----------------------------------------------------------------------------------------

    def _admit(self, finish_within_s: float | None) -> None:
        """Refuse a job that would not finish within `finish_within_s`, counting its wait and its run."""
        if finish_within_s is None or not isinstance(self.engine, EngineLoad):
            return
        wait_s, run_s = self.engine.estimate_s()
        if wait_s + run_s > finish_within_s:
            log.warning(
                "refused a job: expected %.0f s (wait %.0f s), %.0f s left", wait_s + run_s, wait_s, finish_within_s
            )
            raise TooBusyError(wait_s + run_s, finish_within_s)

    def _require_moderator(self, caller: Caller, action: str) -> None:
        if not caller.is_moderator:
            raise NotModeratorError(action)

    async def _community(self, where: CommunityRef) -> Community:
        return await self.store.ensure_community(where, self.clock.now(), self.default_season)

    async def _resolve(self, community: Community, name: str) -> Dance:
        if not normalise_name(name or ""):
            raise InvalidInputError("Say which dance, e.g. /score renegade (send /dances for the list).")
        match = match_name(name, await self.store.list_dance_names(community.id))
        dance = await self.store.get_dance(match.target) if match.target is not None else None
        if dance is None:
            raise UnknownDanceError(name, match.suggestions)
        return dance

    async def _check_video(self, video: Path) -> None:
        """The file's size against the cap (its content is the engine's to check, in the pool)."""
        try:
            size = Path(video).stat().st_size
        except OSError as exc:
            raise InvalidInputError("The video could not be found; send it again.") from exc
        self.limits.check_video(size)

    async def _find_standing(
        self, dance: Dance, period_key: str, caller: Caller, missing: Standing | None = None
    ) -> Standing | None:
        found = await self.store.find_dance_standing(dance.id, period_key, caller)
        if found is None:
            return missing
        rank, size, best = found
        return Standing(dance.name, rank, best, size)

    async def _find_own_standing(self, dance: Dance, period_key: str, caller: Caller) -> Standing:
        """The caller's standing right after recording their attempt (they are on the board)."""
        found = await self._find_standing(dance, period_key, caller)
        return found if found is not None else Standing(dance.name, 0, 0.0, 0)

    def _describe_time_left(self, challenge: Challenge) -> str:
        return describe_seconds(max(0.0, (challenge.ends_at - self.clock.now()).total_seconds()))


def check_owner(poster: Caller, requested_by: Caller | None) -> None:
    """Only the poster of a video may have it scored, or a moderator on their behalf (NotOwnerError)."""
    if requested_by is None or requested_by.is_moderator:
        return
    if (requested_by.platform, requested_by.user_id) != (poster.platform, poster.user_id):
        raise NotOwnerError()


def job_outcome(error: BaseException) -> str:
    """How a job that raised `error` ends: `failed` (the video was analysed and could not be scored: counts
    towards the rate limit), `refused` (the file or the request was turned away before any analysis) or
    `aborted` (the failure is ours: busy, crashed, restarting, a bug; never held against the user)."""
    if not isinstance(error, Refusal) or error.ours:
        return "aborted"
    if isinstance(error, EngineError) and not isinstance(error, VideoError):
        return "failed"
    return "refused"


def _unsaved_attempt(record: AttemptRecord) -> Attempt:
    """The attempt as it will be recorded (id 0 until then)."""
    caller = record.caller
    return Attempt(
        id=0,
        community_id=record.community_id,
        dance_id=record.dance_id,
        dance_name=record.dance_name,
        platform=caller.platform,
        user_id=caller.user_id,
        display_name=caller.display_name,
        score=record.score,
        form=record.form,
        timing=record.timing,
        parts=record.parts,
        submitted_at=record.submitted_at,
        challenge_id=None,
        clip_path=record.clip_path,
        card_path=record.card_path,
        content_hash=record.content_hash,
        scorer_version=record.scorer_version or "v1",
    )


def simplify_json(data: dict[str, Any]) -> dict[str, Any]:
    """The same data with numpy scalars turned into Python numbers and NaN or infinity into null (a body
    part never seen has no accuracy), so any JSON column accepts it (PostgreSQL refuses NaN)."""
    text = json.dumps(data, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    return json.loads(text, parse_constant=lambda _: None)


def hash_file(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
