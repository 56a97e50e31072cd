"""A market on one real node (port 0): a provider's product with a Parquet source,
a tariff, and licences granted through the catalog and licensing RPCs.

``market`` gives a :class:`Market`; ``market.licence(...)`` obtains a licence for the
consumer with the terms a test needs (held requests are approved by the provider).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bashu.catalog.v1 import catalog_pb2
from bashu.common.v1 import common_pb2
from bashu.licensing.v1 import licensing_pb2
from sqlalchemy import text

import clients
from clients.sdk.client import Client
from services import auth
from services.db import make_engine, session_scope
from services.node import Node, build_node
from tests.node.conftest import make_node_config, register_role_parties

REGION = "sc"
PRODUCT_ID = "people-base"

# (name, type, sensitivity, default masking)
FIELDS = [
    ("id_no", "STRING", "SENSITIVE_PERSONAL", "ID_NUMBER"),
    ("name", "STRING", "PERSONAL", "NAME"),
    ("phone", "STRING", "SENSITIVE_PERSONAL", "PHONE"),
    ("city", "STRING", "PUBLIC", "NONE"),
    ("born", "DATE", "PERSONAL", "NONE"),
    ("score", "INT64", "INTERNAL", "NONE"),
]
CITIES = ["成都", "绵阳", "德阳", "乐山"]
SURNAMES = "王李张刘陈杨赵黄周吴"


def id_number(i: int) -> str:
    born = f"{1970 + i % 40:04d}{1 + i % 12:02d}{1 + i % 28:02d}"
    return f"510105{born}{i % 1000:03d}{'0123456789X'[i % 11]}"


def people(n: int) -> pa.Table:
    return pa.table(
        {
            "id_no": [id_number(i) for i in range(n)],
            "name": [SURNAMES[i % 10] + "小明" for i in range(n)],
            "phone": [f"138{i:08d}" for i in range(n)],
            "city": [CITIES[i % 4] for i in range(n)],
            "born": [dt.date(1970 + i % 40, 1 + i % 12, 1 + i % 28) for i in range(n)],
            "score": pa.array([i % 100 for i in range(n)], pa.int64()),
        }
    )


def descriptor(provider: str) -> catalog_pb2.ProductDescriptor:
    return catalog_pb2.ProductDescriptor(
        title=common_pb2.LocalizedText(zh="人口基础信息", en="Population base data"),
        description=common_pb2.LocalizedText(zh="测试用人口数据", en="test data"),
        provider=provider,
        region=REGION,
        category=common_pb2.CATEGORY_NATURAL_PERSON,
        source_class=common_pb2.SOURCE_CLASS_GOVERNMENT,
        data_grade=common_pb2.DATA_GRADE_GENERAL,
        personal_info_class=common_pb2.PERSONAL_INFO_CLASS_SENSITIVE,
        fields=[
            catalog_pb2.FieldSpec(
                name=name,
                type=f"FIELD_TYPE_{typ}",
                element_code=f"DE01.{i:03d}",
                sensitivity=f"FIELD_SENSITIVITY_{sens}",
                description=common_pb2.LocalizedText(zh=name),
                default_masking=f"MASKING_RULE_{mask}",
            )
            for i, (name, typ, sens, mask) in enumerate(FIELDS)
        ],
        key_fields=["id_no"],
        access_modes=[
            common_pb2.ACCESS_MODE_BULK,
            common_pb2.ACCESS_MODE_LOOKUP,
            common_pb2.ACCESS_MODE_VERIFY,
        ],
        allowed_purpose_classes=[
            common_pb2.PURPOSE_CLASS_COMMERCIAL,
            common_pb2.PURPOSE_CLASS_PUBLIC_WELFARE,
        ],
        update_frequency=catalog_pb2.UPDATE_FREQUENCY_MONTHLY,
        standard_version="sc-de/2025.1",
    )


def rid() -> str:
    return uuid.uuid4().hex


@dataclass
class Market:
    node: Node
    keys: dict[str, str]
    party_ids: dict[str, str]
    data_dir: Path
    db_url: str
    revision: str = ""
    _baseline: tuple[int, int, int] = (0, 0, 0)
    clients_: list[Client] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.node.address

    def client(self, role: str) -> Client:
        c = clients.connect(self.address, self.keys[role], region=REGION)
        self.clients_.append(c)
        return c

    def party(self, role: str) -> str:
        return f"regions/{REGION}/parties/{self.party_ids[role]}"

    def licence(
        self,
        *,
        modes: tuple[str, ...] = ("BULK", "LOOKUP", "VERIFY"),
        fields: tuple[str, ...] = (),
        unmasked: tuple[str, ...] = (),
        quota: tuple[int, int, int] = (0, 0, 0),
        consumer: str = "consumer",
        purpose_class: str = "COMMERCIAL",
        product: str = PRODUCT_ID,
    ) -> str:
        """Obtain a licence for ``consumer`` (approved by the provider when held)."""
        resp = self.client(consumer).licensing.request_licence(
            product,
            purpose_class=purpose_class,
            scenario_code="FIN-CREDIT-01",
            access_modes=modes,
            fields=fields,
            unmasked_fields=unmasked,
            quota={"calls": quota[0], "rows": quota[1], "bytes": quota[2]},
        )
        if resp.licence.name:
            return str(resp.licence.name)
        request = resp.licence_request
        assert request.state == licensing_pb2.LICENCE_REQUEST_STATE_HELD, request.decision
        return str(self.client("provider").licensing.approve(request.name).licence.name)

    def change_licence(self, licence: str, action: str) -> None:
        licensing = self.client("provider").licensing
        if action == "suspend":
            licensing.suspend(licence, "test")
        elif action == "revoke":
            licensing.revoke(licence, "test")
        else:
            licensing.resume(licence, "test")

    def add_product(self, product_id: str) -> str:
        """Another product (same descriptor) without a source; returns its revision."""
        created = self.client("provider").catalog.create_product(
            descriptor(self.party("provider")), product_id=product_id
        )
        return str(created.revision.name)

    def quota_used(self, licence: str) -> tuple[int, int, int]:
        row = self.sql(
            "SELECT used_calls, used_rows, used_bytes FROM licences WHERE id = :id",
            id=licence.rsplit("/", 1)[-1],
        )[0]
        return int(row[0]), int(row[1]), int(row[2])

    def _counts(self) -> tuple[int, int, int]:
        used = self.sql(
            "SELECT coalesce(sum(used_calls + used_rows + used_bytes), 0) FROM licences"
        )[0][0]
        return self.usage_rows(), self.ledger_size(), int(used)

    def baseline(self) -> None:
        self._baseline = self._counts()

    def assert_nothing_recorded(self) -> None:
        assert self._counts() == self._baseline, "a refused call left a trace"

    def sql(self, statement: str, **params: Any) -> list[Any]:
        engine = make_engine(self.db_url)
        try:
            with engine.begin() as conn:
                result = conn.execute(text(statement), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            engine.dispose()

    def usage_rows(self) -> int:
        return int(self.sql("SELECT count(*) FROM access_usage")[0][0])

    def ledger_size(self) -> int:
        return self.node.ledger.size()


def start_market(
    tmp_path: Path,
    db_url: str,
    rows: int = 200,
    *,
    ledger_factory: Any = None,
    metering_process: bool = True,
) -> Market:
    data_dir = tmp_path / REGION
    config = make_node_config(data_dir, REGION, db_url)
    config = dataclasses.replace(
        config, limits=dataclasses.replace(config.limits, metering_process=metering_process)
    )
    keys, _, party_ids = register_role_parties(db_url)
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        party, key = auth.register_party(
            session, "second-consumer", frozenset({auth.Role.CONSUMER})
        )
        keys["consumer2"], party_ids["consumer2"] = key, party.id
    engine.dispose()
    pq.write_table(people(rows), data_dir / "people.parquet")
    node = build_node(config, ledger_factory=ledger_factory)
    node.start()
    market = Market(node, keys, party_ids, data_dir, db_url)
    provider = market.client("provider")
    created = provider.catalog.create_product(
        descriptor(market.party("provider")), product_id=PRODUCT_ID
    )
    market.revision = str(created.revision.name)
    provider.catalog.create_tariff(
        PRODUCT_ID, unit="PER_ROW", unit_price="0.015", purpose_prices={"PUBLIC_WELFARE": "0"}
    )
    provider.access.register_source(market.revision, path="people.parquet", key_columns=["id_no"])
    return market


@contextlib.contextmanager
def running_market(tmp_path: Path, db_url: str, **options: Any) -> Iterator[Market]:
    """:func:`start_market`, its clients closed and its node stopped afterwards."""
    m = start_market(tmp_path, db_url, **options)
    try:
        yield m
    finally:
        for c in m.clients_:
            c.close()
        m.node.stop(grace=1.0)


@pytest.fixture
def market(tmp_path: Path, db_url: str) -> Iterator[Market]:
    with running_market(tmp_path, db_url) as m:
        yield m
