"""initial schema

Revision ID: 0001
Revises: (none)
Written by `alembic revision --autogenerate`; the two expression indexes (ix_bests_board, ix_totals_board)
were added by hand: autogenerate cannot reflect index expressions on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.storage.tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "communities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("season", sa.String(length=16), server_default="monthly", nullable=False),
        sa.Column("created_at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communities")),
        sa.UniqueConstraint("platform", "external_id", name="uq_communities_platform_external_id"),
    )
    op.create_table(
        "dances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("pose_path", sa.String(length=512), nullable=False),
        sa.Column("reference_video", sa.String(length=512), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_by_user", sa.String(length=100), nullable=False),
        sa.Column("added_at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.Column("removed_at", bot.storage.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_dances_community_id_communities"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dances")),
    )
    with op.batch_alter_table("dances", schema=None) as batch_op:
        batch_op.create_index("ix_dances_community", ["community_id"], unique=False)

    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_members_community_id_communities"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("community_id", "platform", "user_id", name="uq_members_community_user"),
    )
    op.create_table(
        "challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("dance_id", sa.Integer(), nullable=False),
        sa.Column("started_by", sa.String(length=128), nullable=False),
        sa.Column("starts_at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.Column("ends_at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.Column("closed_at", bot.storage.tables.UTCDateTime(), nullable=True),
        sa.Column("close_reason", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_challenges_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dance_id"], ["dances.id"], name=op.f("fk_challenges_dance_id_dances"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenges")),
    )
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.create_index("ix_challenges_open_ends", ["closed_at", "ends_at"], unique=False)
        batch_op.create_index(
            "uq_challenges_open_dance",
            ["community_id", "dance_id"],
            unique=True,
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        )

    op.create_table(
        "dance_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("dance_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("shown", sa.String(length=64), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_dance_names_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dance_id"], ["dances.id"], name=op.f("fk_dance_names_dance_id_dances"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dance_names")),
        sa.UniqueConstraint("community_id", "key", name="uq_dance_names_community_key"),
    )
    with op.batch_alter_table("dance_names", schema=None) as batch_op:
        batch_op.create_index("ix_dance_names_dance", ["dance_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("dance_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.Column("finished_at", bot.storage.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_jobs_community_id_communities"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["dance_id"], ["dances.id"], name=op.f("fk_jobs_dance_id_dances"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_dance_status", ["dance_id", "status"], unique=False)
        batch_op.create_index("ix_jobs_user_time", ["platform", "user_id", "started_at"], unique=False)
        batch_op.create_index(
            "uq_jobs_one_running",
            ["platform", "user_id"],
            unique=True,
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )

    op.create_table(
        "totals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("period_key", sa.String(length=32), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("dances", sa.Integer(), nullable=False),
        sa.Column("reached", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_totals_community_id_communities"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_totals_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_totals")),
        sa.UniqueConstraint("member_id", "period_key", name="uq_totals_member_period"),
    )
    with op.batch_alter_table("totals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_totals_board",
            ["community_id", "period_key", sa.text("points DESC"), "reached", "member_id"],
            unique=False,
        )

    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("standings", sa.JSON(), nullable=False),
        sa.Column("created_at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", bot.storage.tables.UTCDateTime(), nullable=True),
        sa.Column("delivered_at", bot.storage.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_announcements_challenge_id_challenges"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_announcements_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcements")),
        sa.UniqueConstraint("challenge_id", name="uq_announcements_challenge_id"),
    )
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.create_index("ix_announcements_pending", ["delivered_at", "claimed_until"], unique=False)

    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("dance_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("form", sa.Float(), nullable=False),
        sa.Column("timing", sa.Float(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("clip_path", sa.String(length=512), nullable=True),
        sa.Column("card_path", sa.String(length=512), nullable=True),
        sa.Column("submitted_at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.Column("recorded_at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"], ["challenges.id"], name=op.f("fk_attempts_challenge_id_challenges"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_attempts_community_id_communities"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["dance_id"], ["dances.id"], name=op.f("fk_attempts_dance_id_dances"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_attempts_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint("dance_id", "member_id", "content_hash", name="uq_attempts_same_video"),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index("ix_attempts_member_time", ["member_id", "submitted_at"], unique=False)

    op.create_table(
        "bests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("dance_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("period_key", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("achieved_at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_bests_attempt_id_attempts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_bests_community_id_communities"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["dance_id"], ["dances.id"], name=op.f("fk_bests_dance_id_dances"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_bests_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bests")),
        sa.UniqueConstraint("dance_id", "member_id", "period_key", name="uq_bests_board_member"),
    )
    with op.batch_alter_table("bests", schema=None) as batch_op:
        batch_op.create_index("ix_bests_member", ["member_id", "period_key"], unique=False)
        batch_op.create_index(
            "ix_bests_board", ["dance_id", "period_key", sa.text("score DESC"), "achieved_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("bests", schema=None) as batch_op:
        batch_op.drop_index("ix_bests_member")
        batch_op.drop_index("ix_bests_board")

    op.drop_table("bests")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_member_time")

    op.drop_table("attempts")
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.drop_index("ix_announcements_pending")

    op.drop_table("announcements")
    with op.batch_alter_table("totals", schema=None) as batch_op:
        batch_op.drop_index("ix_totals_board")

    op.drop_table("totals")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_jobs_one_running",
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )
        batch_op.drop_index("ix_jobs_user_time")
        batch_op.drop_index("ix_jobs_dance_status")

    op.drop_table("jobs")
    with op.batch_alter_table("dance_names", schema=None) as batch_op:
        batch_op.drop_index("ix_dance_names_dance")

    op.drop_table("dance_names")
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_challenges_open_dance",
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        )
        batch_op.drop_index("ix_challenges_open_ends")

    op.drop_table("challenges")
    op.drop_table("members")
    with op.batch_alter_table("dances", schema=None) as batch_op:
        batch_op.drop_index("ix_dances_community")

    op.drop_table("dances")
    op.drop_table("communities")
