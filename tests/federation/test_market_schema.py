"""The market migration creates exactly the table ``services.models`` describes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from services import models
from services.db import make_engine
from tests.federation.test_schema import _table


def test_market_table_matches_the_model(migrated_db_url: str) -> None:
    engine = make_engine(migrated_db_url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
        columns = {c["name"] for c in inspect(conn).get_columns("market_consumption")}
    engine.dispose()
    assert [d for d in diffs if _table(d).startswith("market_")] == []
    assert {"usage_record_id", "provider_entry_index", "receipt", "ledger_leaf_hash"} <= columns
