"""Alembic environment: the target is the SQLModel metadata of catalog.models."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import catalog.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from catalog.db import include_object, make_engine, migration_transaction

config = context.config
if config.config_file_name:  # run from the alembic CLI: use its logging settings
    from logging.config import fileConfig

    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = SQLModel.metadata


def _url() -> str:
    """`vitrina init` passes the URL; the alembic CLI falls back to Vitrina's own settings."""
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from catalog.config import load_settings

    return load_settings().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # Full-text search objects are raw SQL (catalog/search.py), not in the metadata.
        include_object=include_object,
    )


def run_migrations_online() -> None:
    shared = config.attributes.get("connection")
    if shared is not None:
        # catalog.db.migrate: its caller's transaction (and lock) spans the whole upgrade, so
        # Alembic's own begin_transaction is a no-op here and the caller commits.
        _configure(shared)
        with context.begin_transaction():
            context.run_migrations()
        return
    # The alembic CLI: the same single transaction under the same lock as `vitrina init`.
    engine = config.attributes.get("engine") or make_engine(_url())
    with migration_transaction(engine) as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
