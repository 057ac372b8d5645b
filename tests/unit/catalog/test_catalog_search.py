"""catalog.search: a shopper's query becomes words only, and one condition per engine (FTS5
prefix MATCH on SQLite, a tsquery on the indexed tsvector on PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from catalog import search


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("Red  Linen dress", ["red", "linen", "dress"]),
        ('dress" OR 1=1 --', ["dress", "or", "1", "1"]),  # no search syntax gets through
        ("Платье NEAR(x*)", ["платье", "near", "x"]),
        ("", []),
        ("*** ---", []),
    ],
)
def test_terms_are_letters_and_digits_only(query: str, words: list[str]) -> None:
    assert search.terms(query) == words


def test_at_most_eight_terms_are_searched() -> None:
    assert search.terms(" ".join(f"w{i}" for i in range(20))) == [f"w{i}" for i in range(8)]


def test_a_query_without_words_is_no_condition() -> None:
    assert search.matching_post_ids("sqlite", "?!") is None
    assert search.matching_post_ids("postgresql", "") is None


def test_sqlite_matches_every_word_as_a_quoted_prefix_in_the_fts_table() -> None:
    cond = search.matching_post_ids("sqlite", 'linen "dress')
    sql = str(cond.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    assert f"FROM {search.FTS_TABLE} WHERE {search.FTS_TABLE} MATCH" in sql
    assert '\'"linen"* "dress"*\'' in sql and sql.startswith("posts.id IN")
    unindexed = search.matching_post_ids("sqlite", "linen", unindexed=True)
    assert str(unindexed.compile(dialect=sqlite.dialect())).startswith("+posts.id IN")


def test_postgresql_queries_the_indexed_expression_with_prefixes() -> None:
    cond = search.matching_post_ids("postgresql", "Linen dress")
    compiled = cond.compile(dialect=postgresql.dialect())
    # The planner uses the GIN index only for the very expression it indexes.
    assert str(compiled).startswith(search.PG_DOCUMENT + " @@ to_tsquery(")
    assert sorted(compiled.params.values()) == ["linen:* & dress:*", "simple"]
    assert search.PG_DOCUMENT in search.POSTGRES_DDL[0]


def test_alembic_ignores_only_the_search_objects() -> None:
    keep = search.include_object
    assert not keep(None, search.FTS_TABLE, "table", True, None)
    assert not keep(None, search.FTS_TABLE + "_data", "table", True, None)
    assert not keep(None, search.PG_INDEX, "index", True, None)
    assert not keep(None, search.PG_POSTED_INDEX, "index", True, None)
    assert keep(None, "posts", "table", True, None)
    assert keep(None, "ix_posts_shop_id", "index", True, None)
