"""Storage: the 0004 migration matches the ORM, and a change whose ledger append
was lost (the process died after its commit) is recorded on the next start."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from ledger.log import Log
from ledger.note import Signer
from services.auth import Principal, Role
from services.catalog import Catalog, CatalogEvent, EntryRef, RequestKey, TariffSpec, TariffUnit
from services.catalog_service import LedgerCatalogRecorder, descriptor_from_proto
from services.db import make_engine, session_scope
from services.migrate import upgrade
from services.models import Base, CatalogRevision
from tests.catalog.market import TABLES

MINE = {t.__tablename__ for t in TABLES}


def test_migration_matches_the_models(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()

    def tables(diff: object) -> set[str]:
        """Table names a diff touches: ('remove_column', schema, 'licences', col),
        ('add_table', Table), ('add_index', Index), [('modify_type', …)]."""
        item = diff[0] if isinstance(diff, list) else diff
        assert isinstance(item, tuple)
        names = set()
        for part in item[1:]:
            if isinstance(part, str):
                names.add(part)
            table = getattr(part, "table", part)
            names.add(str(getattr(table, "name", "")))
        return names

    # The ledger's tables live in another metadata (ledger.storage): only ours count.
    assert [d for d in diffs if tables(d) & MINE] == []


class CrashingRecorder(LedgerCatalogRecorder):
    """The real recorder, but the process 'dies' before the append."""

    def record(self, event: CatalogEvent) -> EntryRef:
        raise SystemExit("killed between commit and append")


def test_a_lost_append_is_recorded_on_the_next_start(tmp_path: Path) -> None:
    from tests.catalog.market import Market  # noqa: F401  (same descriptor helpers)

    url = f"sqlite:///{tmp_path / 'crash.db'}"
    upgrade(url)
    engine = make_engine(url)
    signer = Signer.generate("bashu.exchange/log/sc")
    log = Log(engine, signer, signer.name)
    caller = Principal("p1", "provider", frozenset({Role.PROVIDER}), "k1")
    from bashu.catalog.v1 import catalog_pb2
    from bashu.common.v1 import common_pb2 as c

    proto = catalog_pb2.ProductDescriptor(
        title=c.LocalizedText(zh="公交"),
        description=c.LocalizedText(zh="公交"),
        provider="regions/sc/parties/p1",
        region="sc",
        category=c.CATEGORY_TRANSPORT,
        source_class=c.SOURCE_CLASS_PUBLIC,
        data_grade=c.DATA_GRADE_GENERAL,
        personal_info_class=c.PERSONAL_INFO_CLASS_NONE,
        fields=[
            catalog_pb2.FieldSpec(
                name="line",
                type=catalog_pb2.FIELD_TYPE_STRING,
                element_code="SC-1",
                sensitivity=c.FIELD_SENSITIVITY_PUBLIC,
                description=c.LocalizedText(zh="线路"),
            )
        ],
        access_modes=[c.ACCESS_MODE_BULK],
        allowed_purpose_classes=[c.PURPOSE_CLASS_COMMERCIAL],
        update_frequency=catalog_pb2.UPDATE_FREQUENCY_DAILY,
        standard_version="sc-de/1",
    )
    descriptor = descriptor_from_proto(proto)
    try:
        crashing = Catalog(engine, "sc", CrashingRecorder(log, "sc"))
        with pytest.raises(SystemExit):
            crashing.create_product(caller, "bus", descriptor, "", RequestKey("r1", "f1"))
        with pytest.raises(SystemExit):
            crashing.create_tariff(
                caller, "bus", TariffSpec(TariffUnit.FREE), RequestKey("t1", "f2")
            )
        assert log.size() == 0
        with session_scope(engine) as session:
            assert session.scalar(select(CatalogRevision.ledger_index)) is None
        healthy = Catalog(engine, "sc", LedgerCatalogRecorder(log, "sc"))
        assert healthy.record_pending() == 2
        assert log.size() == 2
        assert healthy.record_pending() == 0
        # The client's retry returns the first result and appends nothing more.
        product, revision = healthy.create_product(
            caller, "bus", descriptor, "", RequestKey("r1", "f1")
        )
        assert revision.ledger == EntryRef(0, log.get_entry(0).leaf_hash)
        assert product.current_tariff == 1
        assert log.size() == 2
    finally:
        log.close()
        engine.dispose()
