"""The settlement migration creates exactly the tables ``services.models`` describes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services import models
from services.db import make_engine
from tests.federation.test_schema import _table


def test_settlement_tables_match_the_models(migrated_db_url: str) -> None:
    engine = make_engine(migrated_db_url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    engine.dispose()
    ours = [d for d in diffs if _table(d).startswith("settlement_")]
    assert ours == []
    names = {t for t in models.Base.metadata.tables if t.startswith("settlement_")}
    assert names == {
        "settlement_periods",
        "settlement_statements",
        "settlement_statement_signatures",
        "settlement_adjustments",
        "settlement_disputes",
        "settlement_dispute_events",
    }
