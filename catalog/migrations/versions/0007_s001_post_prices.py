"""posts.price_amount and posts.price_currency: each post's price parsed by catalog.prices (from
Shopify's price or the caption), so that shoppers can sort and filter by price; existing posts
are filled in here

Revision ID: s001
Revises: l001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from catalog.prices import price_columns

revision: str = "s001"
down_revision: str | None = "l001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("price_amount", sa.Numeric(12, 2), nullable=True))
        batch_op.add_column(
            sa.Column("price_currency", sa.String(length=3), nullable=False, server_default="")
        )
        batch_op.create_index("ix_posts_price_amount", ["price_amount"], unique=False)
    posts = sa.table(
        "posts",
        sa.column("id", sa.Integer),
        sa.column("price", sa.String),
        sa.column("caption", sa.Text),
        sa.column("price_amount", sa.Numeric(12, 2)),
        sa.column("price_currency", sa.String),
    )
    bind = op.get_bind()
    last = 0
    while True:  # in id order, a batch at a time: a large catalogue never sits in memory
        rows = bind.execute(
            sa.select(posts.c.id, posts.c.price, posts.c.caption)
            .where(posts.c.id > last)
            .order_by(posts.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        updates = []
        for ident, price, caption in rows:
            values = price_columns(price or "", caption or "")
            if values["price_amount"] is not None:
                updates.append({"pid": ident, **values})
        if updates:
            bind.execute(
                posts.update()
                .where(posts.c.id == sa.bindparam("pid"))
                .values(
                    price_amount=sa.bindparam("price_amount"),
                    price_currency=sa.bindparam("price_currency"),
                ),
                updates,
            )
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_price_amount")
        batch_op.drop_column("price_currency")
        batch_op.drop_column("price_amount")
