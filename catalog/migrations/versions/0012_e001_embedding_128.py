"""photo embeddings at 128 numbers (classifier.embedding's learned projection, was 256): the
vectors of the old size are dropped (classify writes the new ones: their embedding version
differs) and the index is rebuilt for the new size, with pgvector where PostgreSQL has it.

Revision ID: e001
Revises: g001
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from catalog import vectors

revision: str = "e001"
down_revision: str | None = "g001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("vitrina.catalog")
OLD_DIM = 256
NEW_DIM = 128  # fixed here: a later change of vectors.EMBEDDING_DIM is a migration of its own


def _sqlite(dim: int) -> None:
    bind = op.get_bind()
    bind.exec_driver_sql(f"DROP TABLE IF EXISTS {vectors.SQLITE_TABLE}")
    for statement in vectors.sqlite_ddl(dim):
        bind.exec_driver_sql(statement)


def _postgres(dim: int) -> None:
    bind = op.get_bind()
    bind.exec_driver_sql(f"DROP INDEX IF EXISTS {vectors.PG_INDEX}")
    # real[] holds any length: only vectors of another size go (they could not be compared)
    bind.exec_driver_sql(
        f"DELETE FROM {vectors.PG_TABLE} WHERE cardinality(embedding) <> {int(dim)}"
    )
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    ).first()
    if not available:
        log.warning(
            "PostgreSQL has no pgvector (the `vector` extension): similar photos are ranked "
            "exactly, without an index; install it (Debian: postgresql-NN-pgvector), then: %s",
            "; ".join(vectors.pgvector_ddl(dim)),
        )
        return
    for statement in vectors.pgvector_ddl(dim):
        bind.exec_driver_sql(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres(NEW_DIM)
    else:
        _sqlite(NEW_DIM)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres(OLD_DIM)
    else:
        _sqlite(OLD_DIM)
