"""Full-text search over post captions and product titles.

SQLite: an FTS5 external-content table `posts_fts` kept in step with `posts` by triggers.
PostgreSQL: a GIN index on an expression tsvector (the query repeats the same expression so the
planner uses the index). Both are raw-SQL objects created by migration w001; `include_object`
hides them from Alembic's models-vs-database comparison.

Caution for later migrations: on SQLite, Alembic's batch mode rebuilds a table by copying it,
which drops its triggers. A migration that batch-alters `posts` must run SQLITE_DDL again
(it is idempotent and ends with a 'rebuild' of the index).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Integer, func, literal_column, text
from sqlmodel import col

FTS_TABLE = "posts_fts"
PG_INDEX = "ix_posts_search"
# The PostgreSQL expression; must match the index definition character for character.
PG_DOCUMENT = "to_tsvector('simple', posts.title || ' ' || posts.caption)"
MAX_TERMS = 8

_WORD = re.compile(r"\w+", re.UNICODE)

SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "title, caption, content='posts', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER IF NOT EXISTS posts_fts_ai AFTER INSERT ON posts BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, title, caption) VALUES (new.id, new.title, new.caption); END",
    f"CREATE TRIGGER IF NOT EXISTS posts_fts_ad AFTER DELETE ON posts BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, caption) "
    f"VALUES ('delete', old.id, old.title, old.caption); END",
    f"CREATE TRIGGER IF NOT EXISTS posts_fts_au AFTER UPDATE OF title, caption ON posts BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, caption) "
    f"VALUES ('delete', old.id, old.title, old.caption); "
    f"INSERT INTO {FTS_TABLE}(rowid, title, caption) VALUES (new.id, new.title, new.caption); END",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS posts_fts_au",
    "DROP TRIGGER IF EXISTS posts_fts_ad",
    "DROP TRIGGER IF EXISTS posts_fts_ai",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
)
# The catalogue's order (newest first, undated last) as a PostgreSQL index, so the first page
# of a broad view is read from the index instead of sorting every public photo.
PG_POSTED_INDEX = "ix_posts_posted_at_desc"
POSTGRES_DDL = (
    f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON posts USING gin ({PG_DOCUMENT})",
    f"CREATE INDEX IF NOT EXISTS {PG_POSTED_INDEX} ON posts (posted_at DESC NULLS LAST, id)",
)
POSTGRES_DROP = (f"DROP INDEX IF EXISTS {PG_POSTED_INDEX}", f"DROP INDEX IF EXISTS {PG_INDEX}")


def terms(query: str) -> list[str]:
    """The words of a shopper's query: letters and digits only, so no search syntax leaks in."""
    return [w.lower() for w in _WORD.findall(query or "")][:MAX_TERMS]


def matching_post_ids(
    dialect: str, query: str, *, unindexed: bool = False
) -> ColumnElement[Any] | None:
    """A condition on posts.id for posts whose title or caption holds every word (as a prefix).

    None when the query has no words (punctuation only): the caller then ignores the search.
    """
    words = terms(query)
    if not words:
        return None
    from catalog.models import Post

    if dialect == "postgresql":
        tsquery = " & ".join(f"{w}:*" for w in words)
        return literal_column(PG_DOCUMENT).op("@@")(func.to_tsquery("simple", tsquery))
    # FTS5: each word as a quoted prefix string; quotes inside words cannot occur (\w only).
    match = " ".join(f'"{w}"*' for w in words)
    ids = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts").bindparams(fts=match)
    # `+posts.id` (unindexed) lets SQLite walk posts newest first and test membership.
    post_id = literal_column("+posts.id", type_=Integer()) if unindexed else col(Post.id)
    return post_id.in_(ids.columns(literal_column("rowid")))


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic filter: these raw-SQL objects are unknown to the SQLModel metadata."""
    if type_ == "table" and name and name.startswith(FTS_TABLE):
        return False
    return not (type_ == "index" and name in (PG_INDEX, PG_POSTED_INDEX))
