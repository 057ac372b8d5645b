"""photos: a review state per label (category_state, colour_state) and the partly_accepted
status (one label public, the other queued); predictions: the image-only top, the shop's
words (evidence), the text/photo conflict and the model's decision for each head

Existing photos keep what they showed: auto_accepted → both labels auto, needs_review → both
review, approved/corrected (and rejected) → both human, pending → pending.

Revision ID: l001
Revises: c002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # binds `sqlmodel` too; mypy needs the submodule named
from alembic import op

revision: str = "l001"
down_revision: str | None = "c002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported from catalog.taxonomy: a migration must keep meaning what it meant
# when it was written, whatever the code says later.
_STATES = {
    "auto_accepted": "auto",
    "needs_review": "review",
    "approved": "human",
    "corrected": "human",
    "rejected": "human",
    "pending": "pending",
}
_OLD_INDEXES = {
    "ix_photos_public_colour": ["status", "duplicate_of_id", "colour", "category", "post_id", "id"],
    "ix_photos_public_category": [
        "status",
        "duplicate_of_id",
        "category",
        "colour",
        "post_id",
        "id",
    ],
}
_NEW_INDEXES = {
    "ix_photos_public_colour": [
        "status",
        "duplicate_of_id",
        "colour",
        "colour_state",
        "category",
        "category_state",
        "post_id",
        "id",
    ],
    "ix_photos_public_category": [
        "status",
        "duplicate_of_id",
        "category",
        "category_state",
        "colour",
        "colour_state",
        "post_id",
        "id",
    ],
}


def _state_column(name: str) -> sa.Column:
    return sa.Column(
        name,
        sqlmodel.sql.sqltypes.AutoString(length=8),
        nullable=False,
        server_default="pending",
    )


def _replace_indexes(indexes: dict[str, list[str]]) -> None:
    with op.batch_alter_table("photos", schema=None) as batch_op:
        for name in indexes:
            batch_op.drop_index(name)
        for name, columns in indexes.items():
            batch_op.create_index(name, columns, unique=False)


def upgrade() -> None:
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.add_column(_state_column("category_state"))
        batch_op.add_column(_state_column("colour_state"))
    photos = sa.table(
        "photos",
        sa.column("status", sa.String),
        sa.column("category_state", sa.String),
        sa.column("colour_state", sa.String),
    )
    for status, state in _STATES.items():
        op.execute(
            photos.update()
            .where(photos.c.status == status)
            .values(category_state=state, colour_state=state)
        )
    _replace_indexes(_NEW_INDEXES)
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("image_top", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(
            sa.Column("conflict", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "decision",
                sqlmodel.sql.sqltypes.AutoString(length=8),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    # Without per-label states a partly accepted photo can only wait for a moderator whole.
    op.execute(
        sa.text("UPDATE photos SET status = 'needs_review' WHERE status = 'partly_accepted'")
    )
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_column("decision")
        batch_op.drop_column("conflict")
        batch_op.drop_column("evidence")
        batch_op.drop_column("image_top")
    _replace_indexes(_OLD_INDEXES)
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_column("colour_state")
        batch_op.drop_column("category_state")
