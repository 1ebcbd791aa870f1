"""ratings, scorer choices, and what re-scoring an attempt needs (issue 14)

Revision ID: r14_ratings
Revises: harden_0001_job_owner
Attempts scored before this revision were all made by the shipped scorer v1: their `scorer_version`,
`base_version` and `base_score` (and the boards' `scorer_version`) are filled in accordingly, and their
features are copied out of the stored result where it has them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.storage.tables

revision = "r14_ratings"
down_revision = "harden_0001_job_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scorer_version", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("base_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("base_version", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("features", sa.JSON(), nullable=True))
    with op.batch_alter_table("bests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scorer_version", sa.String(length=64), nullable=True))
    _fill_existing_attempts()
    op.execute(sa.text("UPDATE bests SET scorer_version = 'v1'"))

    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("own", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("scorer_version", sa.String(length=64), nullable=False),
        sa.Column("rated_at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.Column("changes", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("value >= 1 AND value <= 10", name=op.f("ck_ratings_value_range")),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_ratings_attempt_id_attempts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_ratings_community_id_communities"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_ratings_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint("attempt_id", "member_id", name="uq_ratings_attempt_member"),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index("ix_ratings_community_time", ["community_id", "rated_at"], unique=False)

    op.create_table(
        "scorer_choices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("chosen_by", sa.String(length=128), nullable=False),
        sa.Column("chosen_at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_scorer_choices_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorer_choices")),
    )
    with op.batch_alter_table("scorer_choices", schema=None) as batch_op:
        batch_op.create_index("ix_scorer_choices_community", ["community_id", "id"], unique=False)


def _fill_existing_attempts() -> None:
    attempts = sa.table(
        "attempts",
        sa.column("id", sa.Integer),
        sa.column("score", sa.Float),
        sa.column("result", sa.JSON),
        sa.column("scorer_version", sa.String),
        sa.column("base_score", sa.Float),
        sa.column("base_version", sa.String),
        sa.column("features", sa.JSON),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(attempts.c.id, attempts.c.score, attempts.c.result)).all():
        result = row.result if isinstance(row.result, dict) else {}
        features = result.get("features") or None
        version = str(result.get("scorer_version") or "v1")
        connection.execute(
            attempts.update()
            .where(attempts.c.id == row.id)
            .values(scorer_version=version, base_version=version, base_score=row.score, features=features)
        )


def downgrade() -> None:
    with op.batch_alter_table("scorer_choices", schema=None) as batch_op:
        batch_op.drop_index("ix_scorer_choices_community")
    op.drop_table("scorer_choices")
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index("ix_ratings_community_time")
    op.drop_table("ratings")
    with op.batch_alter_table("bests", schema=None) as batch_op:
        batch_op.drop_column("scorer_version")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("features")
        batch_op.drop_column("base_version")
        batch_op.drop_column("base_score")
        batch_op.drop_column("scorer_version")
