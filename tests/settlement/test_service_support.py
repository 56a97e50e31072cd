"""Helpers for the settlement service tests: regions of a federation with seeded
cross-region usage in both ledgers (no tests here).

A use is seeded the way the market records it: the provider's node appends a
``UsageRecorded`` entry and keeps the ``access_usage`` row; the consumer's home node
appends a ``ConsumptionRecorded`` entry citing the provider's entry and keeps the
``market_consumption`` row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bashu.access.v1 import access_pb2
from bashu.common.v1 import common_pb2
from bashu.ledger.v1 import record_pb2
from bashu.licensing.v1 import licensing_pb2
from sqlalchemy.orm import Session

import clients
from clients.sdk.client import Client
from services.catalog import AccessMode, PurposeClass, to_json
from services.db import session_scope
from services.models import (
    CatalogProduct,
    ConsumptionRow,
    LicenceRequestRow,
    LicenceRow,
    UsageRow,
)
from services.policy import Decision, LicenceTerms, Outcome, Purpose
from services.records import encode_record
from services.settlement_service import SettlementBook, SettlementScheduler
from tests.federation.conftest import Region, configure, prepare_region, region_db_urls

__all__ = ["Federation", "Use", "federation_of", "region_db_urls", "seed_use"]

OCTOBER = "2026-10"


def us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


@dataclass
class Use:
    """A seeded use: the provider's entry and the consumer's entry."""

    record_id: str
    provider: str
    consumer: str
    product: str
    tariff: str
    purpose_class: int
    amount_fen: int
    rows: int
    provider_index: int
    provider_leaf: bytes

    @property
    def entry(self) -> common_pb2.EntryRef:
        return common_pb2.EntryRef(
            origin=f"bashu.exchange/log/{self.provider}",
            index=self.provider_index,
            leaf_hash=self.provider_leaf,
        )


_GRANTED = to_json(Decision(Outcome.GRANT, (), "1"))


def _licence(
    session: Session,
    region: str,
    consumer_region: str,
    product: str,
    tariff: str,
    purpose_class: int,
) -> str:
    """A licence of ``product`` at ``tariff`` for ``purpose_class`` (created once): the
    node reads a use's tariff and purpose from the licence it was made under, as
    metering writes them into the usage record."""
    lid = (
        "l-"
        + uuid.uuid5(
            uuid.NAMESPACE_URL, f"{consumer_region}/{product}/{tariff}/{purpose_class}"
        ).hex[:24]
    )
    if session.get(LicenceRow, lid) is not None:
        return lid
    if session.get(CatalogProduct, product) is None:
        session.add(
            CatalogProduct(
                id=product, provider_party="p1", state="PUBLISHED", current_revision=1,
                create_us=0, update_us=0, category="test", data_grade="CORE",
                personal_info_class="NONE", source_class="GOV", access_modes=",LOOKUP,",
                element_codes=" ", search_text="",
            )
        )  # fmt: skip
        session.flush()
    terms = to_json(
        LicenceTerms(
            product=f"regions/{region}/products/{product}",
            purpose=Purpose("TEST", PurposeClass(purpose_class)),
            access_modes=(AccessMode.LOOKUP,),
            consumer_party=f"regions/{consumer_region}/parties/c1",
            consumer_region=consumer_region,
        )
    )
    session.add(
        LicenceRequestRow(
            id=lid, product_id=product, revision=1, provider_party="p1", requester="c1",
            consumer_party="c1", home_region="", terms=terms, state="GRANTED", decision=_GRANTED,
            request_id=lid, request_fingerprint="x", create_us=0, update_us=0,
            hold_expire_us=0,
        )
    )  # fmt: skip
    session.flush()
    session.add(
        LicenceRow(
            id=lid, licence_request_id=lid, product_id=product, revision=1,
            provider_party="p1", consumer_party="c1", terms=terms, masking="[]",
            tariff_version=int(tariff) if tariff else None, policy_version="1",
            state="ACTIVE", valid_from_us=0, document=b"", signature=b"\0" * 64,
            signature_key_name="k", signature_key_id="k", sign_us=0, grant_us=0, update_us=0,
        )
    )  # fmt: skip
    session.flush()
    return lid


def seed_use(
    provider: Region,
    consumer: Region | None,
    *,
    at: datetime,
    amount_fen: int,
    rows: int = 10,
    product: str = "p-census",
    tariff: str = "1",
    purpose_class: int = common_pb2.PURPOSE_CLASS_COMMERCIAL,
    consumer_region: str | None = None,
    arrival: datetime | None = None,
) -> Use:
    """Record one use of ``provider``'s data by a party of ``consumer`` (in the
    consumer's ledger too unless ``consumer`` is None)."""
    cregion = consumer.name if consumer is not None else consumer_region
    assert cregion is not None
    party = f"regions/{cregion}/parties/c1"
    request_id = uuid.uuid4().hex
    product_name = f"regions/{provider.name}/products/{product}"
    tariff_name = f"{product_name}/tariffs/{tariff}" if tariff else ""
    when = us(at)
    arrived = us(arrival or at)
    record = access_pb2.UsageRecord(
        name=f"regions/{provider.name}/usageRecords/{request_id}",
        id=request_id,
        provider_region=provider.name,
        consumer_party=party,
        consumer_region=cregion,
        product=product_name,
        tariff=tariff_name,
        purpose=licensing_pb2.Purpose(purpose_class=purpose_class),  # type: ignore[arg-type]
        quantity=common_pb2.Quantity(calls=1, rows=rows, bytes=rows * 100),
        amount=common_pb2.Money(currency_code="CNY", amount_fen=amount_fen),
        period=at.strftime("%Y-%m"),
    )
    record.time.FromMicroseconds(when)
    pnode = provider.running()
    key = f"usage/{party}/{request_id}"
    appended = pnode.ledger.append(
        encode_record(provider.name, party, key, usage_recorded=record_pb2.UsageRecorded(
            usage_record=record
        )),
        key,
    )  # fmt: skip
    with session_scope(pnode.engine) as session:
        licence_id = _licence(session, provider.name, cregion, product, tariff, purpose_class)
        session.add(
            UsageRow(
                id=uuid.uuid4().hex,
                consumer_party=party,
                request_id=request_id,
                request_fingerprint="x",
                mode="LOOKUP",
                licence_id=licence_id,
                product_id=product,
                revision=1,
                provider_party="p1",
                consumer_region=cregion,
                state="RECORDED",
                lease_until_us=0,
                qty_calls=1,
                qty_rows=rows,
                qty_bytes=rows * 100,
                amount_fen=amount_fen,
                time_us=when,
                period=at.strftime("%Y-%m"),
                day=at.strftime("%Y-%m-%d"),
                record=record.SerializeToString(deterministic=True),
                create_us=when,
                update_us=arrived,
                ledger_index=appended.index,
                ledger_leaf_hash=appended.leaf_hash,
            )
        )
    use = Use(
        f"{party}/{request_id}",
        provider.name,
        cregion,
        product_name,
        tariff_name,
        purpose_class,
        amount_fen,
        rows,
        appended.index,
        appended.leaf_hash,
    )
    if consumer is not None:
        record_consumption(consumer, use, at=at, arrival=arrival or at)
    return use


def record_consumption(consumer: Region, use: Use, *, at: datetime, arrival: datetime) -> None:
    cnode = consumer.running()
    consumed = record_pb2.ConsumptionRecorded(
        usage_record_id=use.record_id,
        provider_region=use.provider,
        product=use.product,
        tariff=use.tariff,
        purpose_class=use.purpose_class,  # type: ignore[arg-type]
        provider_entry=use.entry,
        quantity=common_pb2.Quantity(calls=1, rows=use.rows, bytes=use.rows * 100),
        amount=common_pb2.Money(currency_code="CNY", amount_fen=use.amount_fen),
    )
    key = f"consumption/{use.record_id}"
    got = cnode.ledger.append(
        encode_record(consumer.name, "c1", key, consumption_recorded=consumed), key
    )
    with session_scope(cnode.engine) as session:
        session.add(
            ConsumptionRow(
                id=uuid.uuid4().hex,
                usage_record_id=use.record_id,
                usage_record=f"regions/{use.provider}/usageRecords/x",
                provider_region=use.provider,
                consumer_party=use.record_id.rsplit("/", 1)[0],
                licence="regions/x/licences/l1",
                product=use.product,
                tariff=use.tariff,
                purpose_class=use.purpose_class,
                mode="LOOKUP",
                provider_entry_index=use.provider_index,
                provider_leaf_hash=use.provider_leaf,
                qty_calls=1,
                qty_rows=use.rows,
                qty_bytes=use.rows * 100,
                amount_fen=use.amount_fen,
                currency_code="CNY",
                usage_time_us=us(at),
                period=at.strftime("%Y-%m"),
                day=at.strftime("%Y-%m-%d"),
                receipt=b"",
                ledger_index=got.index,
                ledger_leaf_hash=got.leaf_hash,
                create_us=us(arrival),
            )
        )


def book_of(region: Region) -> SettlementBook:
    for loop in region.running().background:
        if isinstance(loop, SettlementScheduler):
            return loop.book
    raise AssertionError("no settlement scheduler on the node")


@dataclass
class Federation:
    regions: dict[str, Region]
    clients_: list[Client]

    def __getitem__(self, name: str) -> Region:
        return self.regions[name]

    def client(self, region: str, role: str = "finance") -> Client:
        r = self.regions[region]
        c = clients.connect(r.address, r.keys[role], region=region)
        self.clients_.append(c)
        return c

    def deliver(self, rounds: int = 3) -> None:
        """Deliver every region's outbox until nothing moves (replies included)."""
        for _ in range(rounds):
            moved = 0
            for r in self.regions.values():
                moved += r.fed.deliverer.deliver_once(force=True).sent
            if not moved:
                return


def federation_of(
    tmp_path: Path, urls: dict[str, str], names: tuple[str, ...]
) -> Iterator[Federation]:
    regions = {r: prepare_region(r, tmp_path / r, urls[r]) for r in names}
    for region in regions.values():
        configure(region, list(regions.values()))
    fed = Federation(regions, [])
    try:
        for region in regions.values():
            region.start()
        yield fed
    finally:
        for c in fed.clients_:
            c.close()
        for region in regions.values():
            region.stop()


@pytest.fixture
def pair(tmp_path: Path, region_db_urls: dict[str, str]) -> Iterator[Federation]:
    yield from federation_of(tmp_path, region_db_urls, ("sc", "cq"))


@pytest.fixture
def trio3(tmp_path: Path, region_db_urls: dict[str, str]) -> Iterator[Federation]:
    yield from federation_of(tmp_path, region_db_urls, ("sc", "cq", "sg"))


def oct_(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)
