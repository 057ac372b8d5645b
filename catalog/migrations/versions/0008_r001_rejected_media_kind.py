"""rejected_media.kind: why a photo failed, as a kind (catalog.records.PhotoFailure) that the
crawler picks retries by in SQL, instead of matching the human-readable reason; the rows already
there get their kind from their reason's wording, once, here

Revision ID: r001
Revises: s001
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r001"
down_revision: str | None = "s001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
# The wording of reasons as it was when this revision was written (frozen here: later
# rewording must not change how these old rows read).
_HTTP = re.compile(r"download failed: HTTP (\d{3})")
_UNSUPPORTED = frozenset({"UnsupportedURLSchemeError", "NotSupported", "ValueError"})


def kind_of(reason: str) -> str:
    """The kind of a reason worded as before this revision."""
    if m := _HTTP.match(reason):
        status = int(m.group(1))
        return "http_passing" if status >= 500 or status in (408, 425, 429) else "http_lasting"
    if reason == "download failed: empty body":
        return "network"
    if reason.startswith("download failed: "):
        exc_type = reason.removeprefix("download failed: ").split(":", 1)[0].strip()
        if exc_type in _UNSUPPORTED:
            return "unsupported"
        return "too_large" if "download max size" in reason else "network"
    if reason.startswith("truncated or corrupt "):
        return "corrupt"
    if reason.startswith("not downloaded"):
        return "not_downloaded"
    if reason.startswith(("not an image", "too small", "decompression bomb")):
        return "invalid"
    if reason.startswith("failed: "):
        return "error"
    return "refused"


def upgrade() -> None:
    with op.batch_alter_table("rejected_media", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="error")
        )
        batch_op.create_index("ix_rejected_media_kind", ["kind"], unique=False)
    table = sa.table(
        "rejected_media",
        sa.column("id", sa.Integer),
        sa.column("reason", sa.String),
        sa.column("kind", sa.String),
    )
    bind = op.get_bind()
    last = 0
    while True:  # a batch at a time, in id order
        rows = bind.execute(
            sa.select(table.c.id, table.c.reason)
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            table.update().where(table.c.id == sa.bindparam("rid")).values(kind=sa.bindparam("k")),
            [{"rid": ident, "k": kind_of(reason or "")} for ident, reason in rows],
        )
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("rejected_media", schema=None) as batch_op:
        batch_op.drop_index("ix_rejected_media_kind")
        batch_op.drop_column("kind")
