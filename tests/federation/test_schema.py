"""The federation migration creates exactly the tables ``services.models`` describes."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services import models
from services.db import make_engine


def _table(diff: Any) -> str:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
        if name is not None:
            return str(name)
        if isinstance(part, str):
            return part
    return ""


def test_federation_tables_match_the_models(migrated_db_url: str) -> None:
    engine = make_engine(migrated_db_url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    engine.dispose()
    ours = [d for d in diffs if _table(d).startswith("federation_")]
    assert ours == []
