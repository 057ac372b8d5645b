"""SQLite's vectors for "more like this" split in two: the float vectors in a plain table
`photo_embeddings` (as on PostgreSQL) and, for the search, int8 codes in sqlite-vec's
`photo_vectors` with the photo's is_public and category as metadata columns, kept up to date by
a trigger on photos (catalog/vectors.py). The search scans the codes (half the float scan's
work), filters public photos and categories inside that scan and re-ranks a shortlist exactly.
PostgreSQL is unchanged (pgvector's HNSW index).

Revision ID: q001
Revises: m001
"""

from collections.abc import Sequence

from alembic import op

from catalog import vectors

revision: str = "q001"
down_revision: str | None = "m001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIM = 128  # e001's size; a later change of vectors.EMBEDDING_DIM is a migration of its own


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        return
    ddl = vectors.sqlite_int8_ddl(DIM)
    bind.exec_driver_sql(ddl[0])  # the plain table first: the vectors move there
    bind.exec_driver_sql(
        f"INSERT INTO {vectors.SQLITE_EXACT} (photo_id, model_version, embedding) "
        f"SELECT v.photo_id, coalesce(v.model_version, ''), v.embedding "
        f"FROM {vectors.SQLITE_TABLE} v JOIN photos p ON p.id = v.photo_id"
    )
    bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {vectors.SQLITE_TRIGGER}")
    bind.exec_driver_sql(f"DROP TABLE {vectors.SQLITE_TABLE}")
    for statement in ddl[1:]:
        bind.exec_driver_sql(statement)
    bind.exec_driver_sql(vectors.SQLITE_FILL_CODES)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        return
    for statement in vectors.SQLITE_DROP_INDEX:
        bind.exec_driver_sql(statement)
    for statement in vectors.sqlite_ddl(DIM):
        bind.exec_driver_sql(statement)
    bind.exec_driver_sql(
        f"INSERT INTO {vectors.SQLITE_TABLE} (photo_id, embedding, model_version) "
        f"SELECT photo_id, embedding, model_version FROM {vectors.SQLITE_EXACT}"
    )
    bind.exec_driver_sql(f"DROP TABLE {vectors.SQLITE_EXACT}")
