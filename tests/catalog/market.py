"""A running node with a cast of parties, shared by the catalog and licensing tests.

One node per test module and backend (SQLite always, PostgreSQL when
``BASHU_TEST_POSTGRES_URL`` is set): starting a node costs more than most of these
tests, so tests share it and keep to their own products (unique ids and keywords).
``snapshot()`` captures the ledger size and the row count of every catalog and
licensing table, so a refused call can be shown to have changed nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from bashu.catalog.v1 import catalog_pb2
from bashu.common.v1 import common_pb2 as c
from bashu.ledger.v1 import record_pb2
from google.protobuf import json_format
from sqlalchemy import func, select

import clients
from services import auth
from services.db import make_engine, session_scope
from services.models import (
    CatalogPriceCeiling,
    CatalogProduct,
    CatalogProductEvent,
    CatalogRevision,
    CatalogStandardMapping,
    CatalogTariff,
    LicenceEvent,
    LicenceRequestRow,
    LicenceRow,
)
from services.node import Node, build_node
from services.records import decode_record
from tests.conftest import create_postgres_database, drop_postgres_database, postgres_admin_url
from tests.node.conftest import make_node_config

TABLES = (
    CatalogProduct,
    CatalogRevision,
    CatalogProductEvent,
    CatalogTariff,
    CatalogPriceCeiling,
    CatalogStandardMapping,
    LicenceRequestRow,
    LicenceRow,
    LicenceEvent,
)

CAST = {
    "provider": {auth.Role.PROVIDER},
    "provider2": {auth.Role.PROVIDER},
    "consumer": {auth.Role.CONSUMER},
    "consumer2": {auth.Role.CONSUMER},
    "operator": {auth.Role.OPERATOR},
    "finance": {auth.Role.FINANCE},
}


@dataclass
class Market:
    node: Node
    db_url: str
    keys: dict[str, str]
    party_ids: dict[str, str]
    _clients: dict[str, clients.Client] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return self.node.config.region

    @property
    def vkey(self) -> str:
        return self.node.signer.vkey()

    def client(self, who: str) -> clients.Client:
        if who not in self._clients:
            self._clients[who] = clients.connect(self.node.address, self.keys[who], region="sc")
        return self._clients[who]

    def party(self, who: str) -> str:
        return f"regions/{self.region}/parties/{self.party_ids[who]}"

    def snapshot(self) -> tuple[int, dict[str, int]]:
        engine = make_engine(self.db_url)
        try:
            with session_scope(engine) as session:
                counts = {
                    t.__tablename__: int(session.scalar(select(func.count()).select_from(t)) or 0)
                    for t in TABLES
                }
        finally:
            engine.dispose()
        return self.node.ledger.size(), counts

    def record(self, index: int) -> record_pb2.LedgerRecord:
        return decode_record(self.node.ledger.get_entry(index).data)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def unique(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def field_spec(
    name: str,
    code: str,
    sensitivity: int = c.FIELD_SENSITIVITY_PUBLIC,
    masking: int = c.MASKING_RULE_UNSPECIFIED,
) -> catalog_pb2.FieldSpec:
    return catalog_pb2.FieldSpec(
        name=name,
        type=catalog_pb2.FIELD_TYPE_STRING,
        element_code=code,
        sensitivity=sensitivity,  # type: ignore[arg-type]
        description=c.LocalizedText(zh=f"字段 {name}", en=f"field {name}"),
        default_masking=masking,  # type: ignore[arg-type]
    )


def descriptor(
    market: Market, who: str = "provider", **changes: Any
) -> catalog_pb2.ProductDescriptor:
    """A valid descriptor of general-grade, non-personal transport data; ``changes``
    override fields (``fields=[...]`` replaces the schema)."""
    d = catalog_pb2.ProductDescriptor(
        title=c.LocalizedText(zh="成都公交线路", en="Chengdu bus lines"),
        description=c.LocalizedText(zh="公交线路与站点", en="Bus lines and stops"),
        provider=market.party(who),
        region=market.region,
        category=c.CATEGORY_TRANSPORT,
        source_class=c.SOURCE_CLASS_PUBLIC,
        data_grade=c.DATA_GRADE_GENERAL,
        personal_info_class=c.PERSONAL_INFO_CLASS_NONE,
        fields=[field_spec("line_id", "SC-TR-0001"), field_spec("stop_name", "SC-TR-0002")],
        key_fields=["line_id"],
        access_modes=[c.ACCESS_MODE_BULK, c.ACCESS_MODE_LOOKUP],
        allowed_purpose_classes=[c.PURPOSE_CLASS_COMMERCIAL, c.PURPOSE_CLASS_PUBLIC_WELFARE],
        allowed_consumer_regions=["sc", "cq"],
        update_frequency=catalog_pb2.UPDATE_FREQUENCY_DAILY,
        standard_version="sc-de/2025.1",
        keywords=["bus"],
    )
    for key, value in changes.items():
        target = getattr(d, key)
        if isinstance(value, list):
            del target[:]
            target.extend(value)
        elif isinstance(value, dict):
            target.CopyFrom(json_format.ParseDict(value, type(target)()))
        elif hasattr(target, "CopyFrom"):
            target.CopyFrom(value)
        else:
            setattr(d, key, value)
    return d


def personal_descriptor(market: Market, **changes: Any) -> catalog_pb2.ProductDescriptor:
    """Sensitive personal data of a government body, cross-border permitted."""
    base: dict[str, Any] = {
        "category": c.CATEGORY_NATURAL_PERSON,
        "source_class": c.SOURCE_CLASS_GOVERNMENT,
        "personal_info_class": c.PERSONAL_INFO_CLASS_SENSITIVE,
        "fields": [
            field_spec("person_id", "SC-NP-0001"),
            field_spec("name", "SC-NP-0002", c.FIELD_SENSITIVITY_PERSONAL, c.MASKING_RULE_NAME),
            field_spec(
                "id_number",
                "SC-NP-0003",
                c.FIELD_SENSITIVITY_SENSITIVE_PERSONAL,
                c.MASKING_RULE_ID_NUMBER,
            ),
        ],
        "key_fields": ["person_id"],
        "cross_border_allowed": True,
        "allowed_purpose_classes": [c.PURPOSE_CLASS_COMMERCIAL, c.PURPOSE_CLASS_RESEARCH],
    }
    base.update(changes)
    return descriptor(market, **base)


def start_market(tmp: Path, db_url: str) -> Market:
    config = make_node_config(tmp / "sc", "sc", db_url)
    engine = make_engine(db_url)
    keys: dict[str, str] = {}
    party_ids: dict[str, str] = {}
    with session_scope(engine) as session:
        for who, roles in CAST.items():
            party, key = auth.register_party(session, f"market-{who}", frozenset(roles))
            keys[who], party_ids[who] = key, party.id
    engine.dispose()
    node = build_node(config)
    node.start()
    return Market(node, db_url, keys, party_ids)


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def market(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Market]:
    tmp = tmp_path_factory.mktemp("market")
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'market.db'}"
    else:
        if postgres_admin_url() is None:
            pytest.skip("BASHU_TEST_POSTGRES_URL is not set")
        url, name = create_postgres_database()
    m = start_market(tmp, url)
    try:
        yield m
    finally:
        m.close()
        m.node.stop(grace=1.0)
        if name is not None:
            drop_postgres_database(name)
