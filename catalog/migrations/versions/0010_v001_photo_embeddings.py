"""photo embeddings for "more like this": SQLite's sqlite-vec `photo_vectors` (vec0) and its
delete trigger; PostgreSQL's `photo_embeddings` (real[]) with an HNSW index of pgvector when the
`vector` extension is available (catalog/vectors.py). Classify fills them.

Revision ID: v001
Revises: x001
"""
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from catalog import vectors

revision: str = "v001"
down_revision: str | None = "x001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("vitrina.catalog")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        for statement in vectors.sqlite_ddl(vectors.EMBEDDING_DIM):  # its layout, before q001
            bind.exec_driver_sql(statement)
        return
    for statement in vectors.POSTGRES_DDL:
        bind.exec_driver_sql(statement)
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    ).first()
    if not available:
        log.warning(
            "PostgreSQL has no pgvector (the `vector` extension): similar photos are ranked "
            "exactly, without an index; install it (Debian: postgresql-NN-pgvector), then: %s",
            "; ".join(vectors.PGVECTOR_DDL),
        )
        return
    for statement in vectors.PGVECTOR_DDL:
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    bind = op.get_bind()
    drops = vectors.POSTGRES_DROP if bind.dialect.name == "postgresql" else vectors.SQLITE_DROP
    for statement in drops:
        bind.exec_driver_sql(statement)
