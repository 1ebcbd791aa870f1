"""jobs: the process that runs each job, and where its user was told (crash recovery)

Revision ID: harden_0001_job_owner
Revises: 0001
A job records its owner (the home, i.e. host and data directory, and the run id of the process running it)
and the chat message that shows its progress, so that a restarted process can expire the jobs its
predecessor was running when it died and tell their users to send their video again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "harden_0001_job_owner"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_home", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("owner_run", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("notice", sa.JSON(), nullable=True))
        batch_op.create_index("ix_jobs_owner_status", ["owner_home", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_owner_status")
        batch_op.drop_column("notice")
        batch_op.drop_column("owner_run")
        batch_op.drop_column("owner_home")
