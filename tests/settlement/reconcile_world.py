"""Two real regions (sc, cq) that have used each other's data, for reconciliation tests.

Each region runs a real node (port 0 addresses, its own database and key, the other
as its peer). :func:`seed` gives each region a product with a tariff and a granted
licence through the real catalog and licensing RPCs, then records the cross-region
uses of one period in both regions the way the nodes store them: the provider's
``access_usage`` row with a ``UsageRecorded`` ledger entry, the consumer's
``market_consumption`` row with a ``ConsumptionRecorded`` entry citing it. The
metered relay that normally writes those rows is exercised by the access and
federation tests; here the rows are the input under test, so they are written
directly, and differences can be injected into one side's copy.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

from bashu.access.v1 import access_pb2
from bashu.common.v1 import common_pb2
from bashu.ledger.v1 import record_pb2
from bashu.licensing.v1 import licensing_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine, insert, text

import clients
from clients.sdk.client import Client
from services.db import make_engine
from services.models import UsageRow
from services.records import encode_record
from tests.access.conftest import descriptor
from tests.conftest import create_postgres_database, drop_postgres_database, postgres_admin_url
from tests.federation.conftest import Region, configure, prepare_region

PERIOD = "2026-10"
START_US = 1_790_812_800_000_000  # 2026-10-01T00:00:00Z
DAY_US = 86_400_000_000
PRODUCT = "census"


@dataclass
class Use:
    """One cross-region use as both regions first record it."""

    provider: str
    consumer: str
    party: str  # consumer party resource name
    request_id: str
    time_us: int
    rows: int
    amount_fen: int

    @property
    def record_id(self) -> str:
        return f"{self.party}/{self.request_id}"


@dataclass
class World:
    regions: dict[str, Region]
    licences: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # id, tariff
    engines: dict[str, Engine] = field(default_factory=dict)
    clients_: list[Client] = field(default_factory=list)

    def client(self, region: str, role: str = "finance") -> Client:
        r = self.regions[region]
        c = clients.connect(r.address, r.keys[role], region=region)
        self.clients_.append(c)
        return c

    def engine(self, region: str) -> Engine:
        if region not in self.engines:
            self.engines[region] = make_engine(self.regions[region].db_url)
        return self.engines[region]

    def close(self) -> None:
        for c in self.clients_:
            c.close()
        for e in self.engines.values():
            e.dispose()

    # --- recording -----------------------------------------------------------------

    def record_usage(
        self,
        use: Use,
        *,
        amount_fen: int | None = None,
        rows: int | None = None,
        arrival_us: int | None = None,
    ) -> tuple[int, bytes]:
        """The provider's row and UsageRecorded entry; returns the entry."""
        region = self.regions[use.provider]
        licence_id, product_id, tariff = self.licences[use.provider]
        amount = use.amount_fen if amount_fen is None else amount_fen
        n_rows = use.rows if rows is None else rows
        record = access_pb2.UsageRecord(
            name=f"regions/{use.provider}/usageRecords/{uuid.uuid4().hex}",
            id=use.request_id,
            subject=f"regions/{use.provider}/licences/{licence_id}",
            time=_ts(use.time_us),
            provider_region=use.provider,
            consumer_party=use.party,
            consumer_region=use.consumer,
            product=f"regions/{use.provider}/products/{product_id}",
            tariff=tariff,
            purpose=licensing_pb2.Purpose(
                scenario_code="FIN-CREDIT-01", purpose_class=common_pb2.PURPOSE_CLASS_COMMERCIAL
            ),
            quantity=common_pb2.Quantity(calls=1, rows=n_rows, bytes=n_rows * 100),
            amount=common_pb2.Money(currency_code="CNY", amount_fen=amount),
            status=access_pb2.USAGE_RECORD_STATUS_RECORDED,
        )
        key = f"usage:{use.record_id}:{uuid.uuid4().hex}"
        data = encode_record(
            use.provider, "test", key, usage_recorded=record_pb2.UsageRecorded(usage_record=record)
        )
        entry = region.running().ledger.append(data, key)
        day = _day(use.time_us)
        with self.engine(use.provider).begin() as conn:
            conn.execute(
                insert(UsageRow).values(
                    id=uuid.uuid4().hex,
                    consumer_party=use.party,
                    request_id=use.request_id,
                    request_fingerprint="0" * 64,
                    mode="BULK",
                    licence_id=licence_id,
                    product_id=product_id,
                    revision=1,
                    provider_party="p",
                    consumer_region=use.consumer,
                    state="RECORDED",
                    lease_until_us=0,
                    qty_calls=1,
                    qty_rows=n_rows,
                    qty_bytes=n_rows * 100,
                    amount_fen=amount,
                    time_us=use.time_us,
                    period=day[:7],
                    day=day,
                    record=record.SerializeToString(),
                    create_us=use.time_us,
                    update_us=use.time_us if arrival_us is None else arrival_us,
                    ledger_index=entry.index,
                    ledger_leaf_hash=entry.leaf_hash,
                )
            )
        return entry.index, entry.leaf_hash

    def record_consumption(
        self,
        use: Use,
        provider_entry: tuple[int, bytes],
        *,
        amount_fen: int | None = None,
        rows: int | None = None,
        record_id: str | None = None,
        arrival_us: int | None = None,
    ) -> None:
        """The consumer's row and ConsumptionRecorded entry citing ``provider_entry``."""
        region = self.regions[use.consumer]
        licence_id, product_id, tariff = self.licences[use.provider]
        amount = use.amount_fen if amount_fen is None else amount_fen
        n_rows = use.rows if rows is None else rows
        rid = record_id or use.record_id
        product = f"regions/{use.provider}/products/{product_id}"
        licence = f"regions/{use.provider}/licences/{licence_id}"
        payload = record_pb2.ConsumptionRecorded(
            usage_record=f"regions/{use.provider}/usageRecords/x",
            usage_record_id=rid,
            licence=licence,
            consumer_party=use.party,
            provider_region=use.provider,
            product=product,
            tariff=tariff,
            purpose_class=common_pb2.PURPOSE_CLASS_COMMERCIAL,
            provider_entry=common_pb2.EntryRef(
                origin=f"bashu.exchange/log/{use.provider}",
                index=provider_entry[0],
                leaf_hash=provider_entry[1],
            ),
            quantity=common_pb2.Quantity(calls=1, rows=n_rows, bytes=n_rows * 100),
            amount=common_pb2.Money(currency_code="CNY", amount_fen=amount),
        )
        key = f"consumption:{rid}:{uuid.uuid4().hex}"
        data = encode_record(use.consumer, "test", key, consumption_recorded=payload)
        entry = region.running().ledger.append(data, key)
        day = _day(use.time_us)
        with self.engine(use.consumer).begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO market_consumption (id, usage_record_id, usage_record,"
                    " provider_region, consumer_party, licence, product, tariff, purpose_class,"
                    " mode, provider_entry_index, provider_leaf_hash, qty_calls, qty_rows,"
                    " qty_bytes, amount_fen, currency_code, usage_time_us, period, day, receipt,"
                    " ledger_index, ledger_leaf_hash, create_us) VALUES (:id, :rid, :ur, :pr,"
                    " :party, :licence, :product, :tariff, 1, 'BULK', :pi, :ph, 1, :rows,"
                    " :bytes, :amount, 'CNY', :t, :period, :day, :receipt, :li, :lh, :arrival)"
                ),
                {
                    "id": uuid.uuid4().hex,
                    "rid": rid,
                    "ur": payload.usage_record,
                    "pr": use.provider,
                    "party": use.party,
                    "licence": licence,
                    "product": product,
                    "tariff": tariff,
                    "pi": provider_entry[0],
                    "ph": provider_entry[1],
                    "rows": n_rows,
                    "bytes": n_rows * 100,
                    "amount": amount,
                    "t": use.time_us,
                    "arrival": use.time_us if arrival_us is None else arrival_us,
                    "period": day[:7],
                    "day": day,
                    "receipt": b"",
                    "li": entry.index,
                    "lh": entry.leaf_hash,
                },
            )

    def record_both(self, use: Use) -> None:
        entry = self.record_usage(use)
        self.record_consumption(use, entry)


def _ts(us: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMicroseconds(us)
    return ts


def _day(us: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).date().isoformat()


def uses(n: int, provider: str, consumer: str, seed: str = "") -> list[Use]:
    """``n`` uses of ``provider``'s data by ``consumer``'s parties, spread over the period."""
    out = []
    for i in range(n):
        h = int.from_bytes(hashlib.sha256(f"{seed}{provider}{i}".encode()).digest()[:4], "big")
        rows = 1 + h % 500
        out.append(
            Use(
                provider=provider,
                consumer=consumer,
                party=f"regions/{consumer}/parties/c{i % 3}",
                request_id=f"{seed}req-{provider}-{i:05d}",
                time_us=START_US + (h % 30) * DAY_US + i * 1_000_000,
                rows=rows,
                amount_fen=0 if i % 7 == 0 else rows * 3,
            )
        )
    return out


def drop_consumption_uniqueness(engine: Engine) -> None:
    """Rebuild ``market_consumption`` without its constraints: the storage of a node
    whose uniqueness guarantee was lost (a faulty restore), the one way a record can
    be held twice."""
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE market_consumption RENAME TO market_consumption_old"))
        conn.execute(
            text("CREATE TABLE market_consumption AS SELECT * FROM market_consumption_old")
        )


def grant_licence(world: World, region: str) -> None:
    """A product with a per-row tariff in ``region`` and a granted commercial licence."""
    r = world.regions[region]
    provider = world.client(region, "provider")
    party = _party(world, region, "provider")
    d = descriptor(party)
    d.region = region
    product_id = f"{PRODUCT}-{region}"
    provider.catalog.create_product(d, product_id=product_id)
    provider.catalog.create_tariff(product_id, unit="PER_ROW", unit_price="0.03")
    resp = world.client(region, "consumer").licensing.request_licence(
        product_id,
        purpose_class="COMMERCIAL",
        scenario_code="FIN-CREDIT-01",
        access_modes=("BULK",),
    )
    if resp.licence.name:
        name = str(resp.licence.name)
    else:
        assert resp.licence_request.state == licensing_pb2.LICENCE_REQUEST_STATE_HELD
        name = str(provider.licensing.approve(resp.licence_request.name).licence.name)
    del r
    licence_id = name.rsplit("/", 1)[-1]
    with world.engine(region).connect() as conn:
        version = conn.execute(
            text("SELECT tariff_version FROM licences WHERE id = :i"), {"i": licence_id}
        ).scalar_one()
    assert version, "the licence was granted without a tariff"
    tariff = f"regions/{region}/products/{product_id}/tariffs/{version}"
    world.licences[region] = (licence_id, product_id, tariff)


def _party(world: World, region: str, role: str) -> str:
    engine = world.engine(region)
    with engine.connect() as conn:
        pid = conn.execute(
            text("SELECT id FROM parties WHERE name = :n"), {"n": f"party-{role}"}
        ).scalar_one()
    return f"regions/{region}/parties/{pid}"


def start_world(tmp_path: Path, db_urls: dict[str, str]) -> World:
    regions = {r: prepare_region(r, tmp_path / r, db_urls[r]) for r in ("sc", "cq")}
    for region in regions.values():
        configure(region, list(regions.values()))
    world = World(regions)
    for region in regions.values():
        region.start()
    for name in regions:
        grant_licence(world, name)
    return world


def duo_db_urls(db_url: str) -> Generator[dict[str, str], None, None]:
    if db_url.startswith("sqlite"):
        base = db_url.removesuffix("test.db")
        yield {r: f"{base}{r}.db" for r in ("sc", "cq")}
        return
    assert postgres_admin_url() is not None
    url, name = create_postgres_database()
    try:
        yield {"sc": db_url, "cq": url}
    finally:
        drop_postgres_database(name)
