"""web catalogue: facet/paging indexes and full-text search over captions and titles

Revision ID: w001
Revises: 0001
"""
from collections.abc import Sequence

from alembic import op

from catalog import search

revision: str = "w001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.create_index(
            "ix_photos_public_colour",
            ["status", "duplicate_of_id", "colour", "category", "post_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_photos_public_category",
            ["status", "duplicate_of_id", "category", "colour", "post_id", "id"],
            unique=False,
        )
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index("ix_posts_shop_id_posted_at", ["shop_id", "posted_at"], unique=False)
    ddl = search.POSTGRES_DDL if op.get_bind().dialect.name == "postgresql" else search.SQLITE_DDL
    for statement in ddl:
        op.execute(statement)


def downgrade() -> None:
    drop = search.POSTGRES_DROP if op.get_bind().dialect.name == "postgresql" else search.SQLITE_DROP
    for statement in drop:
        op.execute(statement)
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_shop_id_posted_at")
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_index("ix_photos_public_category")
        batch_op.drop_index("ix_photos_public_colour")
