"""Alembic environment: the node's tables plus the ledger's, one database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData

from ledger import storage as ledger_storage
from services import models
from services.db import make_engine

config = context.config


def _combined_metadata() -> MetaData:
    combined = MetaData()
    for md in (models.Base.metadata, ledger_storage.metadata):
        for table in md.tables.values():
            table.to_metadata(combined)
    return combined


target_metadata = _combined_metadata()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
