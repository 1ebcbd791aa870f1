"""The community database schema (SQLAlchemy Core). Alembic migrations in `migrations/` build exactly this.

Boards are read from `bests`: one row per (dance, member, period key) holding that member's best attempt
in the period, kept up to date in the same transaction that records an attempt. Period keys are `all`,
`month:2026-11`, `week:2026-W48` and `challenge:<id>`, so a leaderboard is an index range scan whatever
the number of attempts. `totals` holds each member's overall figure per period (sum of their bests, in
integer thousandths of a point so sums are exact), kept in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes, stored as naive UTC so SQLite and PostgreSQL sort them alike."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


communities = sa.Table(
    "communities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("external_id", sa.String(64), nullable=False),
    sa.Column("season", sa.String(16), nullable=False, server_default="monthly"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("platform", "external_id", name="uq_communities_platform_external_id"),
)

members = sa.Table(
    "members",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("community_id", sa.ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("display_name", sa.String(128), nullable=False),
    sa.UniqueConstraint("community_id", "platform", "user_id", name="uq_members_community_user"),
)

dances = sa.Table(
    "dances",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("community_id", sa.ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("pose_path", sa.String(512), nullable=False),
    sa.Column("reference_video", sa.String(512), nullable=True),
    sa.Column("duration_s", sa.Float, nullable=False),
    sa.Column("added_by", sa.String(128), nullable=False),
    sa.Column("added_by_user", sa.String(100), nullable=False),
    sa.Column("added_at", UTCDateTime, nullable=False),
    sa.Column("removed_at", UTCDateTime, nullable=True),
    sa.Index("ix_dances_community", "community_id"),
)

# The name and every alias of each live dance; the unique key makes names unique per community.
dance_names = sa.Table(
    "dance_names",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("community_id", sa.ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("dance_id", sa.ForeignKey("dances.id", ondelete="CASCADE"), nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("shown", sa.String(64), nullable=False),
    sa.Column("is_primary", sa.Boolean, nullable=False),
    sa.UniqueConstraint("community_id", "key", name="uq_dance_names_community_key"),
    sa.Index("ix_dance_names_dance", "dance_id"),
)

challenges = sa.Table(
    "challenges",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("community_id", sa.ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("dance_id", sa.ForeignKey("dances.id", ondelete="CASCADE"), nullable=False),
    sa.Column("started_by", sa.String(128), nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Column("close_reason", sa.String(32), nullable=True),
    sa.Column("channel", sa.String(128), nullable=True),
    # One open challenge per dance per community (partial unique index, on both databases).
    sa.Index(
        "uq_challenges_open_dance",
        "community_id",
        "dance_id",
        unique=True,
        sqlite_where=sa.text("closed_at IS NULL"),
        postgresql_where=sa.text("closed_at IS NULL"),
    ),
    sa.Index("ix_challenges_open_ends", "closed_at", "ends_at"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("community_id", sa.ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("dance_id", sa.ForeignKey("dances.id", ondelete="CASCADE"), nullable=False),
    sa.Column("member_id", sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    sa.Column("challenge_id", sa.ForeignKey("challenges.id", ondelete="SET NULL"), nullable=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("form", sa.Float, nullable=False),
    sa.Column("timing", sa.Float, nullable=False),
    sa.Column("parts", sa.JSON, nullable=False),
    sa.Column("result", sa.JSON, nullable=False),  # ScoreResult.to_dict(): the full breakdown
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("clip_path", sa.String(512), nullable=True),
    sa.Column("card_path", sa.String(512), nullable=True),
    sa.Column("submitted_at", UTCDateTime, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    # What re-scoring needs without the video (issue 14): the version that made `score`, the engine's own
    # (base) score and scorer version, and the comparison features that base score came from.
    sa.Column("scorer_version", sa.String(64), nullable=True),
    sa.Column("base_score", sa.Float, nullable=True),
    sa.Column("base_version", sa.String(64), nullable=True),
    sa.Column("features", sa.JSON, nullable=True),  # {name: float}, as ScoreResult.features
    sa.UniqueConstraint("dance_id", "member_id", "content_hash", name="uq_attempts_same_video"),
    sa.Index("ix_attempts_member_time", "member_id", "submitted_at"),
    # The same video under another member of the community is refused (issue 13): found by its hash.
    sa.Index("ix_attempts_community_hash", "community_id", "content_hash"),
)

bests = sa.Table(
    "bests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("community_id", sa.ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("dance_id", sa.ForeignKey("dances.id", ondelete="CASCADE"), nullable=False),
    sa.Column("member_id", sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    sa.Column("period_key", sa.String(32), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    # The score as shown (one decimal), in thousandths of a point: what boards rank on (ties go to the earlier
    # `achieved_at`) and what totals add up, so the order never depends on decimals nobody sees (issue 13).
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("achieved_at", UTCDateTime, nullable=False),
    sa.Column("attempt_id", sa.ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("scorer_version", sa.String(64), nullable=True),  # the version that made `score` (issue 14)
    sa.UniqueConstraint("dance_id", "member_id", "period_key", name="uq_bests_board_member"),
    # Per-dance board: equality on (dance, period), then already in rank order.
    sa.Index("ix_bests_board", "dance_id", "period_key", sa.desc("points"), "achieved_at", "id"),
    sa.Index("ix_bests_member", "member_id", "period_key"),
)

# Overall board: per member and period, the sum of their bests, how many dances, and when it was reached.
totals = sa.Table(
    "totals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("community_id", sa.ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("member_id", sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    sa.Column("period_key", sa.String(32), nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("dances", sa.Integer, nullable=False),
    sa.Column("reached", UTCDateTime, nullable=False),
    sa.UniqueConstraint("member_id", "period_key", name="uq_totals_member_period"),
    sa.Index("ix_totals_board", "community_id", "period_key", sa.desc("points"), "reached", "member_id"),
)

# Scoring jobs: one running per user (partial unique index) and the history the rate limit counts.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("community_id", sa.ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("dance_id", sa.ForeignKey("dances.id", ondelete="CASCADE"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # running, done, failed, refused, aborted, expired, lost
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    # Which process runs it: its home (host and data directory, one process at a time) and its run id, so a
    # restarted process knows which running jobs died with its predecessor.
    sa.Column("owner_home", sa.String(512), nullable=True),
    sa.Column("owner_run", sa.String(32), nullable=True),
    sa.Column("notice", sa.JSON, nullable=True),  # where the user was told the job runs (a chat message)
    sa.Index(
        "uq_jobs_one_running",
        "platform",
        "user_id",
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    ),
    sa.Index("ix_jobs_user_time", "platform", "user_id", "started_at"),
    sa.Index("ix_jobs_dance_status", "dance_id", "status"),
    sa.Index("ix_jobs_owner_status", "owner_home", "status"),
)

# Outbox: a closed challenge's results, written in the closing transaction, claimed and posted by a bot.
announcements = sa.Table(
    "announcements",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("community_id", sa.ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("challenge_id", sa.ForeignKey("challenges.id", ondelete="CASCADE"), nullable=False),
    sa.Column("standings", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("claimed_by", sa.String(128), nullable=True),
    sa.Column("claimed_until", UTCDateTime, nullable=True),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    # Failed posts (the bot lost its permission in the channel...): after `tries` reach the limit it gives up.
    sa.Column("tries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("gave_up_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("challenge_id", name="uq_announcements_challenge_id"),
    sa.Index("ix_announcements_pending", "delivered_at", "claimed_until"),
)

# Members' 1-10 ratings of attempts (issue 14): one per member and attempt, changeable. `own`: the dancer
# rated their own attempt (kept, never used to calibrate). `score` and `scorer_version`: what was shown.
ratings = sa.Table(
    "ratings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("community_id", sa.ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("attempt_id", sa.ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("member_id", sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    sa.Column("value", sa.Integer, nullable=False),
    sa.Column("own", sa.Boolean, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("scorer_version", sa.String(64), nullable=False),
    sa.Column("rated_at", UTCDateTime, nullable=False),
    sa.Column("changes", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("value >= 1 AND value <= 10", name="value_range"),
    sa.UniqueConstraint("attempt_id", "member_id", name="uq_ratings_attempt_member"),
    sa.Index("ix_ratings_community_time", "community_id", "rated_at"),
)

# Which scorer version each community uses (issue 14): its newest row; older rows are the history.
scorer_choices = sa.Table(
    "scorer_choices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("community_id", sa.ForeignKey("communities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("chosen_by", sa.String(128), nullable=False),
    sa.Column("chosen_at", UTCDateTime, nullable=False),
    sa.Index("ix_scorer_choices_community", "community_id", "id"),
)

# Small facts a bot keeps between runs (issue 13), e.g. the hash of the slash commands last synced to Discord.
bot_state = sa.Table(
    "bot_state",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(512), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
