"""photos.shop_id, network, posted_at, price_amount, price_currency (copies of the post's) and is_public (a public status and
not a repost), with covering indexes, so the catalogue's facet counts and its shop, network
and date filters read photos alone instead of joining posts; backfilled here

Revision ID: m001
Revises: e001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m001"
down_revision: str | None = "e001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The public statuses as they were when this revision was written (catalog.taxonomy).
PUBLIC = "('auto_accepted', 'approved', 'corrected', 'partly_accepted')"
# The covering indexes as this revision creates them (catalog.models.LISTED_*).
LISTED = ["is_public", "shop_id", "network", "posted_at"]
LABELS = ["category", "category_state", "colour", "colour_state"]
PRICE = ["price_currency", "price_amount"]
INDEXES = {
    "ix_photos_listed": LISTED + LABELS + PRICE,
    "ix_photos_listed_category": ["is_public", *LABELS, *LISTED[1:], *PRICE],
    "ix_photos_listed_colour": ["is_public", *LABELS[2:], *LABELS[:2], *LISTED[1:], *PRICE],
}


def upgrade() -> None:
    # Plain ALTER TABLE, not batch mode: rebuilding photos on SQLite would lose the triggers
    # other revisions put on it (v001's photo_vectors_ad).
    op.add_column("photos", sa.Column("shop_id", sa.Integer(), nullable=True))
    op.add_column("photos", sa.Column("network", sa.String(length=16), nullable=True))
    op.add_column("photos", sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("photos", sa.Column("price_amount", sa.Numeric(12, 2), nullable=True))
    op.add_column("photos", sa.Column("price_currency", sa.String(length=3), nullable=True))
    op.add_column(
        "photos", sa.Column("is_public", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    bind = op.get_bind()
    public = f"status IN {PUBLIC} AND duplicate_of_id IS NULL"
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(
            "UPDATE photos SET shop_id = posts.shop_id, network = posts.network,"
            " posted_at = posts.posted_at, price_amount = posts.price_amount,"
            f" price_currency = posts.price_currency, is_public = ({public})"
            " FROM posts WHERE posts.id = photos.post_id"
        )
    else:
        bind.exec_driver_sql(
            "UPDATE photos SET (shop_id, network, posted_at, price_amount, price_currency) ="
            " (SELECT shop_id, network, posted_at, price_amount, price_currency FROM posts"
            f" WHERE posts.id = photos.post_id), is_public = ({public})"
        )
    for name, columns in INDEXES.items():
        op.create_index(name, "photos", columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="photos")
    for column in (
        "is_public",
        "price_currency",
        "price_amount",
        "posted_at",
        "network",
        "shop_id",
    ):
        # SQLite ≥ 3.35 drops a column in place (no rebuild, triggers kept), as PostgreSQL does.
        op.get_bind().exec_driver_sql(f"ALTER TABLE photos DROP COLUMN {column}")
