"""fair boards in busy communities (issue 13)

Revision ID: community_0001
Revises: r14_ratings
Boards rank on the score as shown (one decimal): `bests.points` becomes the shown score in thousandths
(7.46 -> 7500), the board index orders by it, and each community's `totals` are summed again from those.
Attempts get an index on (community, content hash), so a video already scored by another member is found;
announcements count failed posts (`tries`) and record when the bot gave up (`gave_up_at`); `bot_state`
keeps small facts between runs (the hash of the slash commands last synced to Discord).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.storage.tables

revision = "community_0001"
down_revision = "r14_ratings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _points_from_shown_scores()
    with op.batch_alter_table("bests", schema=None) as batch_op:
        batch_op.drop_index("ix_bests_board")
        batch_op.create_index("ix_bests_board", ["dance_id", "period_key", sa.text("points DESC"), "achieved_at", "id"])
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index("ix_attempts_community_hash", ["community_id", "content_hash"], unique=False)
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tries", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("gave_up_at", bot.storage.tables.UTCDateTime(), nullable=True))
    op.create_table(
        "bot_state",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("updated_at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_bot_state")),
    )


def _points_from_shown_scores() -> None:
    """Every best's points from its score as shown, then every total as the sum of its member's bests."""
    bests = sa.table("bests", sa.column("id", sa.Integer), sa.column("score", sa.Float), sa.column("points"))
    connection = op.get_bind()
    for row in connection.execute(sa.select(bests.c.id, bests.c.score)).all():
        points = round(float(f"{row.score:.1f}") * 1000)
        connection.execute(bests.update().where(bests.c.id == row.id).values(points=points))
    op.execute(
        sa.text(
            "UPDATE totals SET points = COALESCE((SELECT SUM(b.points) FROM bests AS b "
            "WHERE b.member_id = totals.member_id AND b.period_key = totals.period_key), 0)"
        )
    )


def downgrade() -> None:
    op.drop_table("bot_state")
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.drop_column("gave_up_at")
        batch_op.drop_column("tries")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_community_hash")
    with op.batch_alter_table("bests", schema=None) as batch_op:
        batch_op.drop_index("ix_bests_board")
        batch_op.create_index("ix_bests_board", ["dance_id", "period_key", sa.text("score DESC"), "achieved_at", "id"])
