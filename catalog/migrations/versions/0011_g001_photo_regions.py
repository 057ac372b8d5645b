"""photo regions: a photo showing several garments is split into child photos, one per garment
(`parent_photo_id` → the original photo, `region_box` its box as fractions [x0, y0, x1, y1]);
the original gets status `split` and is not public itself (classifier.regions, catalog.regions)

Revision ID: g001
Revises: v001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "g001"
down_revision: str | None = "v001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_photo_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("region_box", sa.JSON(), nullable=True))
        batch_op.create_index("ix_photos_parent_photo_id", ["parent_photo_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_photos_parent_photo_id_photos",
            "photos",
            ["parent_photo_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    # Regions go with the column: the originals become ordinary photos to label again.
    photos = sa.table(
        "photos",
        sa.column("parent_photo_id", sa.Integer),
        sa.column("status", sa.String),
    )
    op.execute(photos.delete().where(photos.c.parent_photo_id.is_not(None)))
    op.execute(photos.update().where(photos.c.status == "split").values(status="pending"))
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_constraint("fk_photos_parent_photo_id_photos", type_="foreignkey")
        batch_op.drop_index("ix_photos_parent_photo_id")
        batch_op.drop_column("region_box")
        batch_op.drop_column("parent_photo_id")
