"""rejected_media: position in the post, failed attempts, last attempt and the crawl run retrying
it, so that later crawls fetch photos that failed for a passing reason again

Revision ID: c002
Revises: c001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c002"
down_revision: str | None = "c001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rejected_media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("retry_run_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rejected_media", schema=None) as batch_op:
        batch_op.drop_column("retry_run_id")
        batch_op.drop_column("last_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("position")
